"""Windows paths typed in chat keep their backslashes and plan exactly like their forward-slash
spelling, whatever the letter case; server-wide files are refused by the one planner with the
narrower alternative; the limits on what a person may ask are the same in every front end; an
inventory that lists one server twice in a site is refused at load."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from commands.limits import MAX_CHANGED_FILES, MAX_REASON, LimitExceeded
from commands.model import Deny, RestartRequest, Status
from commands.parser import ParseError, parse
from commands.rungs import Rung
from policies.decision import Refuse, decide
from policies.files import FileError, parse_inventory
from policies.identity import Principal
from policies.planner import plan

NOW = datetime(2026, 11, 23, 10, 0, tzinfo=UTC)


def _planned(text: str, inventory, policy):
    command = parse(text)
    assert isinstance(command, RestartRequest)
    return command, plan(command, inventory, policy)


@pytest.mark.parametrize(
    ("typed", "forward", "rung"),
    [
        (r"App_Data\settings.xml", "App_Data/settings.xml", Rung.APPDOMAIN),
        (r"bin\Shop.dll", "bin/Shop.dll", Rung.NONE),
        (r"APP_DATA\Shop.MDF", "App_Data/shop.mdf", Rung.APPPOOL),
        (r"\\web01\c$\inetpub\wwwroot\Shop\App_Data\settings.xml", "App_Data/settings.xml", Rung.APPDOMAIN),
        (r'"C:\inetpub\wwwroot\Shop Site\bin\Shop.dll"', "bin/Shop.dll", Rung.NONE),
        (r"'D:\sites\shop\App_Config\payments.config'", "App_Config/payments.config", Rung.APPDOMAIN),
    ],
)
def test_a_windows_path_in_chat_keeps_its_backslashes_and_plans_like_its_forward_slash_spelling(
    typed, forward, rung, example_inventory, example_policy
):
    command, planned = _planned(f"/recycle plan shop-web --changed {typed}", example_inventory, example_policy)
    _, same = _planned(f"/recycle plan shop-web --changed {forward}", example_inventory, example_policy)

    assert "\\" in command.changed[0]
    assert planned.rung == same.rung == rung


@pytest.mark.parametrize(
    ("path", "alternative"),
    [
        ("machine.config", Rung.APPDOMAIN),
        (r"C:\Windows\Microsoft.NET\Framework64\v4.0.30319\Config\machine.config", Rung.APPDOMAIN),
        (r"c:\windows\microsoft.net\framework\v4.0.30319\CONFIG\Machine.Config", Rung.APPDOMAIN),
        (r"C:\Windows\Microsoft.NET\Framework64\v4.0.30319\Config\web.config", Rung.APPDOMAIN),
        (r"C:\Windows\System32\inetsrv\config\applicationHost.config", Rung.NONE),
        (r"C:\Windows\Microsoft.NET\Framework64\v4.0.30319\Aspnet.config", Rung.APPPOOL),
        (r"C:\Windows\assembly\GAC_MSIL\Shop.Common\1.0.0.0__abc\Shop.Common.dll", Rung.APPPOOL),
        (r"C:\Windows\Microsoft.NET\assembly\GAC_64\Shop.Native\v4.0_1.0.0.0__abc\Shop.Native.dll", Rung.APPPOOL),
        (r'"C:\Windows\Microsoft.NET\Framework64\v4.0.30319\Temporary ASP.NET Files\shop\x.dll"', Rung.APPDOMAIN),
    ],
)
@pytest.mark.parametrize("scope", ["", " --scope apppool", " --scope appdomain"])
def test_a_server_wide_file_is_refused_with_the_narrower_alternative_whatever_the_scope(
    path, alternative, scope, example_inventory, example_policy
):
    _, planned = _planned(f"plan shop-web --changed {path}{scope}", example_inventory, example_policy)
    alice = Principal(id=example_policy.people["alice"])

    decision = decide(planned, alice, example_policy, NOW)

    assert planned.rung == Rung.SERVER
    assert "server-wide change" in planned.why[0]
    assert isinstance(decision, Refuse) and decision.alternative == alternative


def test_an_app_s_own_web_config_is_not_server_wide(example_inventory, example_policy):
    _, planned = _planned(r"plan shop-web --changed Views\web.config", example_inventory, example_policy)
    assert planned.rung == Rung.NONE


def test_the_cli_spelling_of_a_machine_config_change_plans_the_same_as_chat(example_inventory, example_policy):
    typed = r"C:\Windows\Microsoft.NET\Framework64\v4.0.30319\Config\machine.config"
    from_cli = plan(RestartRequest(site="shop-web", changed=(typed,), plan_only=True), example_inventory,
                    example_policy)
    _, from_chat = _planned(f"plan shop-web --changed {typed}", example_inventory, example_policy)
    assert from_cli == from_chat


def test_why_shows_the_person_s_own_reason(example_inventory, example_policy):
    _, planned = _planned('plan shop-web --reason "cache stuck after the 2.3 deploy"', example_inventory,
                          example_policy)
    assert "reason given: cache stuck after the 2.3 deploy" in planned.why


@pytest.mark.parametrize(
    ("make", "fragment"),
    [
        (lambda: RestartRequest(site="shop-web", note="x" * (MAX_REASON + 1)), f"at most {MAX_REASON}"),
        (lambda: RestartRequest(site="s" * 64), "at most 63"),
        (lambda: RestartRequest(site="shop web"), "is not a name"),
        (lambda: RestartRequest(site="shop-web", changed=("a.dll",) * (MAX_CHANGED_FILES + 1)), "at most 500"),
        (lambda: RestartRequest(site="shop-web", changed=("bin/" + "x" * 500,)), "characters long; at most"),
        (lambda: RestartRequest(site="shop-web", hosts=("web 01",)), "host name"),
        (lambda: Status(site="x" * 100), "at most 63"),
        (lambda: Deny("r-7k2m9q", reason="no" * 300), f"at most {MAX_REASON}"),
    ],
)
def test_the_limits_hold_for_every_front_end_that_builds_a_command(make, fragment):
    with pytest.raises(LimitExceeded) as caught:
        make()
    assert fragment in caught.value.message


def test_chat_refuses_an_over_long_reason_with_the_same_sentence():
    with pytest.raises(ParseError) as caught:
        parse(f'/recycle shop-web --reason "{"x" * (MAX_REASON + 1)}"')
    assert f"at most {MAX_REASON} are kept" in caught.value.message


_TWICE = """
[hosts.web01]
address = "web01"
transport = "kerberos"
[hosts.{second}]
address = "{address}"
transport = "kerberos"
[sites.shop]
environment = "prod"
hosts = ["web01", "{second}"]
iis_site = "Shop"
pool = "ShopPool"
"""


@pytest.mark.parametrize(
    ("second", "address", "why"),
    [
        ("web01-fqdn", "WEB01.shop.example", "web01 is the short name of web01.shop.example"),
        ("web01-again", "Web01", "both at address web01"),
    ],
)
def test_one_server_listed_twice_in_a_site_is_refused_naming_the_file_and_field(second, address, why):
    with pytest.raises(FileError) as caught:
        parse_inventory(_TWICE.format(second=second, address=address), "inventory.toml")
    message = str(caught.value)
    assert message.startswith("inventory.toml: line 10: sites.shop.hosts lists 'web01' and")
    assert why in message and "list each server once" in message


def test_host_names_that_differ_only_in_case_are_refused():
    with pytest.raises(FileError) as caught:
        parse_inventory(_TWICE.format(second="WEB01", address="10.0.0.9"), "inventory.toml")
    assert "differ only in letter case" in str(caught.value) and "hosts" in str(caught.value)


def test_two_servers_with_similar_names_are_fine():
    parse_inventory(_TWICE.format(second="web02", address="web02.shop.example"), "inventory.toml")
