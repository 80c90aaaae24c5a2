"""The scripts follow what a real server needs (docs/iis-behaviour.md), read from their parse
trees: every CIM call is bounded, the warm-up goes to this host with the binding's Host header and
follows no redirect, a worker is stopped only if it is still the process observed, and nothing
compares PIDs without their start times."""

from __future__ import annotations

CIM_COMMANDS = {"get-ciminstance", "get-cimclass", "invoke-cimmethod"}


def test_every_cim_call_has_an_operation_timeout(sent_file, ps_tree):
    for name, command in ps_tree.commands(sent_file.root):
        if name in CIM_COMMANDS:
            assert "-operationtimeoutsec" in ps_tree.command_parameters(command), (
                f"{sent_file.path.name} line {ps_tree.line(command)}: {name} without -OperationTimeoutSec"
            )


def test_every_cim_call_past_its_bound_is_a_wmi_timeout_not_an_internal_error(prelude, ps_tree):
    # Resolve-Target and Get-Features ask Test-WmiProvider first: on a stuck repository its Get-CimClass
    # is the call that times out.
    library = ps_tree.function_definitions(prelude.root)
    for name, call in (("get-cimbounded", "Get-CimInstance"), ("test-wmiprovider", "Get-CimClass")):
        body = ps_tree.text(library[name])
        catch = body[body.index("} catch {"):]
        assert "$watch = [Diagnostics.Stopwatch]::StartNew()" in body and call in body, name
        assert catch.index("Assert-CimInTime $watch") < catch.index("throw"), name
    assert "Stop-Operation 'wmi_timeout'" in ps_tree.text(library["assert-cimintime"])


def test_the_warm_up_sets_the_host_header_uses_no_proxy_follows_no_redirect_itself_and_is_bounded(prelude, ps_tree):
    send = ps_tree.text(ps_tree.function_definitions(prelude.root)["send-warmup"])
    assert "$web.Host = $Request.Host" in send
    assert "$web.Proxy = $null" in send
    assert "$web.AllowAutoRedirect = $false" in send
    assert "$web.Timeout = " in send and "Tls12" in send
    request = ps_tree.text(ps_tree.function_definitions(prelude.root)["get-warmuprequest"])
    listen = ps_tree.text(ps_tree.function_definitions(prelude.root)["get-listenaddress"])
    assert "'127.0.0.1'" in listen and "localhost" in request  # never resolved by DNS on the server


def test_a_redirect_is_followed_once_and_only_to_the_host_the_request_named(prelude, ps_tree):
    library = ps_tree.function_definitions(prelude.root)
    warmup = ps_tree.text(library["invoke-warmup"])
    assert [name for name, _ in ps_tree.commands(library["invoke-warmup"])].count("send-warmup") == 2
    assert "if ($follow) { $answer = Send-Warmup $follow" in warmup
    follow = ps_tree.text(library["get-samehostredirect"])
    assert "$target.Host -ne $named.Host" in follow and "$sent.Host" in follow  # same host, same address


def test_a_worker_is_stopped_only_when_its_pid_and_start_time_are_the_ones_observed(ps_tree):
    worker = ps_tree.load_script("worker")
    stop = ps_tree.text(ps_tree.function_definitions(worker.root)["stop-worker"])
    assert stop.index("$now.started_at -ne $Worker.started_at") < stop.index("Stop-Process -Id")


def test_process_comparisons_use_pid_and_start_time(prelude, ps_tree):
    keys = ps_tree.text(ps_tree.function_definitions(prelude.root)["get-processkeys"])
    assert "$_.pid, $_.started_at" in keys
    for op in ("apppool", "worker", "appdomain"):
        assert "Get-ProcessKeys" in ps_tree.load_script(op).source, op


def test_every_wait_reads_the_pool_state_and_ends_on_stopped(prelude, ps_tree):
    wait = ps_tree.text(ps_tree.function_definitions(prelude.root)["wait-outcome"])
    assert wait.index("Get-LookAfterAct") < wait.index("'pool_stopped'")


def test_the_drain_is_bounded_by_shutdown_time_limit_not_by_the_request_timeout(ps_tree):
    apppool = ps_tree.load_script("apppool").source
    assert "$result.settings.shutdown_time_limit_s * 1000" in apppool and "$drainUntilMs" in apppool


def test_aspnet_core_is_told_by_the_apps_ancm_handler_not_by_its_pools_runtime_version(prelude, ps_tree):
    library = ps_tree.function_definitions(prelude.root)
    resolve = ps_tree.text(library["resolve-target"])
    assert "ManagedRuntimeVersion" not in resolve and "Get-CoreHosting" in resolve
    core = ps_tree.text(library["get-corehosting"])
    assert "GetWebConfiguration(" in core and "'AspNetCoreModule*'" in core
    assert "'system.webServer/aspNetCore'" in core and "'processPath'" in core


def test_an_out_of_process_apps_process_is_found_whatever_its_name_but_never_conhost(prelude, ps_tree):
    library = ps_tree.function_definitions(prelude.root)
    children = ps_tree.text(library["get-children"]) + ps_tree.text(library["test-appprocess"])
    assert "'dotnet.exe'" not in children  # since .NET Core 3.0 the app runs as MyApp.exe
    assert "$Process.Name -eq 'conhost.exe'" in children
    assert "$Target.CoreImage" in children and "$Target.CoreDll" in children


def test_an_ipv6_binding_address_is_bracketed_and_a_wildcard_host_name_becomes_a_name_under_it(prelude, ps_tree):
    library = ps_tree.function_definitions(prelude.root)
    request = ps_tree.text(library["get-warmuprequest"])
    assert "$address = Get-UrlHost $address" in request
    assert request.index("$address = Get-UrlHost $address") < request.index("$hostHeader = $address")
    wildcard = "if ($hostHeader.StartsWith('*')) { $hostHeader = 'aspreset-warmup' + $hostHeader.TrimStart('*') }"
    assert wildcard in request
    assert '"[$Address]"' in ps_tree.text(library["get-urlhost"])


def test_a_binding_to_every_address_is_reached_where_http_sys_listens(prelude, ps_tree):
    # HTTP.sys' IP listen list (ListenOnlyList) without 127.0.0.1 refuses loopback: a listed address is used;
    # a binding to one address is reached on that address, whatever the list says.
    library = ps_tree.function_definitions(prelude.root)
    request = ps_tree.text(library["get-warmuprequest"])
    bound = request.index("$address = $binding.EndPoint.Address.ToString()")
    assert bound < request.index("if (-not $address) { $address = Get-ListenAddress }")
    listen = ps_tree.text(library["get-listenaddress"])
    assert "'HKLM:\\SYSTEM\\CurrentControlSet\\Services\\HTTP\\Parameters'" in listen
    assert "-Name ListenOnlyList -ErrorAction SilentlyContinue" in listen
    empty = ("if ($listed.Count -eq 0 -or $listed -contains '127.0.0.1' -or $listed -contains '0.0.0.0') "
             "{ return '127.0.0.1' }")
    assert empty in listen


def test_http_sys_is_told_by_its_fixed_page_too_when_its_server_header_is_hidden(prelude, ps_tree):
    library = ps_tree.function_definitions(prelude.root)
    assert "$answer.error_line = $Matches[0].Trim()" in ps_tree.text(library["send-warmup"])
    wait = ps_tree.text(library["wait-outcome"])
    assert "$waitAnswer.error_line -match '^HTTP Error \\d{3}\\. '" in wait


def test_appdomain_ids_are_matched_to_their_site_in_any_case(prelude, ps_tree):
    library = ps_tree.function_definitions(prelude.root)
    match = ps_tree.text(library["test-appdomainofapp"])
    assert '-like "/LM/W3SVC/$($Target.SiteId)/ROOT*"' in match  # -like ignores case; StartsWith() does not
    for source in (prelude.source, ps_tree.load_script("appdomain").source):
        assert ".Id).StartsWith(" not in source


def test_the_none_rung_looks_before_its_warm_up_and_after_it(ps_tree):
    status = ps_tree.load_script("status").source
    assert status.index("$result.before = Get-Observation") < status.index("Invoke-Warmup $target $result.before")
    assert status.index("Invoke-Warmup $target $result.before") < status.index("$seen = Get-Observation")


def test_before_a_kill_the_pools_own_crashes_are_counted_from_the_system_log_and_an_unreadable_log_refuses(
    prelude, ps_tree
):
    worker = ps_tree.load_script("worker")
    library = ps_tree.function_definitions(worker.root)
    operation = ps_tree.text(library["invoke-operation"])
    assert operation.index("Assert-KillsAllowed") < operation.index("Stop-Worker")
    crashes = ps_tree.text(ps_tree.function_definitions(prelude.root)["get-poolcrashes"])
    assert "Id = @(5009, 5010, 5011)" in crashes and "ProviderName = 'Microsoft-Windows-WAS'" in crashes
    assert "'NoMatchingEventsFound*'" in crashes  # no event at all is 0; any other failure throws
    assert crashes.index("'NoMatchingEventsFound*'") < crashes.index("        throw\n")
    allowed = ps_tree.text(library["assert-killsallowed"])
    assert allowed.index("Get-PoolCrashes") < allowed.index("Stop-Operation 'rapid_fail_risk'")  # unreadable: refuse
    assert "$result.crashes_seen + $Kills -ge $Settings.rapid_fail_max_crashes" in allowed


def test_status_reads_the_pools_own_crashes_for_the_plans_guard_and_says_why_when_it_cannot(ps_tree):
    status = ps_tree.text(ps_tree.function_definitions(ps_tree.load_script("status").root)["invoke-operation"])
    read = status[status.index("if ($result.settings.rapid_fail_protection)"):]
    assert "Get-PoolCrashes $target.PoolName $result.settings.rapid_fail_interval_s" in read
    assert read.index("try {") < read.index("Get-PoolCrashes") < read.index("$result.crashes_error =")
