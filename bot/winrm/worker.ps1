# aspreset-operation: worker
# Kills one application pool's own worker process(es) by PID (rung "worker": requests in flight and
# in-proc session state are lost), warms up, and waits for a new worker of the same pool. An on-demand
# pool with no worker is normal: it is warmed up, nothing is killed. Refused on IIS 5 isolation mode,
# where the one aspnet_wp.exe serves the whole machine. Everything in one run on the host.
# Parameters arrive only in $AspresetParams (base64 UTF-8 JSON, assigned on the first line of stdin).
# The prelude (prelude.ps1, sent in front of this file) sets the preferences and defines the shared helpers.
# Prints one ASCII-only JSON object whose keys are exactly bot.winrm.results.RestartResult.

$StoppedHint = 'the application pool is Stopped: rapid-fail protection stops a pool after repeated worker crashes (WAS event 5002 in the System log; kills count as crashes), or an operator stopped it. Starting it may crash again: find the cause in the event logs first'

$clock = [Diagnostics.Stopwatch]::StartNew()
$result = [ordered]@{
    ok = $false
    error_code = $null
    error = $null
    op = 'worker'
    method = 'kill-and-warm-up'
    state_before = ''
    state_after = ''
    pids_before = @()
    pids_after = @()
    appdomain_before = $null
    appdomain_after = $null
    warmup_status = $null
    warmup_ms = $null
    drained = $false
    duration_ms = 0
}

function Stop-Worker([int]$Id) {
    # By PID only: a PID read for this pool a moment ago. One that exited meanwhile is fine.
    try {
        Stop-Process -Id $Id -Force
    } catch {
        if (Get-Process -Id $Id -ErrorAction SilentlyContinue) { throw }
    }
}

function Invoke-Operation {
    $major = Get-IisMajorVersion
    if (Test-Iis5Isolation $major) {
        Stop-Operation 'iis5_isolation' 'this host runs IIS 5 isolation mode: its one aspnet_wp.exe serves every application on the machine, so killing it is the server rung, which aspreset never runs; use the appdomain rung (touch web.config) instead'
    }
    if ($major -lt 7) { Stop-Operation 'internal' 'the worker operation needs IIS 7 or later (Microsoft.Web.Administration)' }
    Assert-WebServicesRunning $major
    $target = Resolve-PoolTarget
    $state = Wait-PoolSettled $target.PoolName
    $result.state_before = $state
    $before = [int[]]@(Get-PoolPids $target.PoolName)
    $result.pids_before = $before
    if ($state -eq 'Stopped') { Stop-Operation 'pool_stopped' $StoppedHint }

    if ($before.Count -eq 0) {
        $result.method = 'warm-up'
    } else {
        foreach ($id in $before) { Stop-Worker $id }
    }
    $url = Get-WarmupUrl $target
    $outcome = Wait-NewWorker $before $target.PoolName $url
    $result.state_after = Get-PoolState $target.PoolName

    if ($outcome.Old.Count -gt 0) {
        Stop-Operation 'internal' ("worker(s) {0} still run after Stop-Process -Id" -f ($outcome.Old -join ', '))
    }
    if ($result.state_after -eq 'Stopped') { Stop-Operation 'pool_stopped' $StoppedHint }
    if (-not $outcome.Served) {
        Stop-Operation 'worker_not_started' "no new worker answered the warm-up request ($url) within $($P.timeout_s) s"
    }
    $result.ok = $true
}

try {
    $P = Read-Parameters 'worker'
    $deadlineMs = [double]$P.timeout_s * 1000
    $null = Invoke-Operation
} catch {
    Set-Failure $_.Exception
}
$result.duration_ms = [int]$clock.ElapsedMilliseconds
Write-Result
exit 0
