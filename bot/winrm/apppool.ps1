# aspreset-operation: apppool
# Gracefully recycles one application pool (rung "apppool"): WAS starts a new worker, the old one
# finishes its requests (overlapped by default) and exits within processModel.shutdownTimeLimit.
# Refuses a Stopped pool (rapid-fail protection); waits, bounded, on Starting/Stopping; warms up; waits
# until a new worker answered and the old ones are gone. Everything in one run on the host.
# Parameters arrive only in $AspresetParams (base64 UTF-8 JSON, assigned on the first line of stdin).
# The prelude (prelude.ps1, sent in front of this file) sets the preferences and defines the shared helpers.
# Prints one ASCII-only JSON object whose keys are exactly bot.winrm.results.RestartResult.

$StoppedHint = 'the application pool is Stopped: rapid-fail protection stops a pool after repeated worker crashes (WAS event 5002 in the System log), or an operator stopped it. A recycle needs a started pool and starting it may crash again: find the cause in the event logs first'

$clock = [Diagnostics.Stopwatch]::StartNew()
$result = [ordered]@{
    ok = $false
    error_code = $null
    error = $null
    op = 'apppool'
    method = 'recycle'
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

function Invoke-Operation {
    $major = Get-IisMajorVersion
    if (Test-Iis5Isolation $major) {
        Stop-Operation 'iis5_isolation' 'this host runs IIS 5 isolation mode: there are no application pools, one aspnet_wp.exe serves every application; use the appdomain rung (touch web.config)'
    }
    if ($major -lt 7) { Stop-Operation 'internal' 'the apppool operation needs IIS 7 or later (Microsoft.Web.Administration)' }
    Assert-WebServicesRunning $major
    $target = Resolve-PoolTarget
    $state = Wait-PoolSettled $target.PoolName
    $result.state_before = $state
    $before = [int[]]@(Get-PoolPids $target.PoolName)
    $result.pids_before = $before
    if ($state -eq 'Stopped') { Stop-Operation 'pool_stopped' $StoppedHint }
    $limit = [int]$target.Pool.ProcessModel.ShutdownTimeLimit.TotalSeconds

    $null = $target.Pool.Recycle()
    $url = Get-WarmupUrl $target
    $outcome = Wait-NewWorker $before $target.PoolName $url
    $result.state_after = Get-PoolState $target.PoolName

    if ($outcome.Old.Count -gt 0) {
        Stop-Operation 'recycle_not_finished' ("the old worker(s) {0} did not exit within {1} s (shutdownTimeLimit {2} s): the worker is hung; the worker rung (kill by PID, needs approval) frees it" -f ($outcome.Old -join ', '), $P.timeout_s, $limit)
    }
    if ($result.state_after -eq 'Stopped') { Stop-Operation 'pool_stopped' $StoppedHint }
    if (-not $outcome.Served) {
        Stop-Operation 'worker_not_started' "no new worker answered the warm-up request ($url) within $($P.timeout_s) s"
    }
    $result.ok = $true
}

try {
    $P = Read-Parameters 'apppool'
    $deadlineMs = [double]$P.timeout_s * 1000
    $null = Invoke-Operation
} catch {
    Set-Failure $_.Exception
}
$result.duration_ms = [int]$clock.ElapsedMilliseconds
Write-Result
exit 0
