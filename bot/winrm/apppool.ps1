# aspreset-operation: apppool
# Gracefully recycles one application pool (rung "apppool"): WAS starts a new worker, the old one
# finishes its requests (overlapped by default) and exits; a hung one is killed by WAS at the pool's
# processModel.shutdownTimeLimit, so the wait for the old workers is bounded by that limit plus a margin,
# not by the request's timeout. Refuses a Stopped pool; waits, bounded, on Starting/Stopping; warms up;
# observes workers as (PID, start time) before, right after and at the end. Judges nothing.
# Parameters arrive only in $AspresetParams (base64 UTF-8 JSON, assigned on the first line of stdin).
# The prelude (prelude.ps1, sent in front of this file) sets the preferences and defines the shared helpers.
# Prints one ASCII-only JSON object whose keys are exactly bot.app.results.RestartResult.

$clock = [Diagnostics.Stopwatch]::StartNew()
$result = [ordered]@{
    ok = $false
    error_code = $null
    error = $null
    op = 'apppool'
    method = 'recycle'
    powershell_version = ''
    settings = $null
    before = $null
    actions = @()
    acted = $null
    warmups = @()
    after = $null
    wait_ended = ''
    look_errors = @()
    crashes_seen = $null
    deploy_check = ''
    duration_ms = 0
}

function Invoke-Operation {
    $target = Initialize-Operation 'apppool' $false
    $old = Get-ProcessKeys $result.before.workers
    $null = $target.Pool.Recycle()
    Add-Action 'recycle' $target.PoolName
    $result.acted = Get-LookAfterAct $target $false
    $limitMs = $result.settings.shutdown_time_limit_s * 1000
    $drainUntilMs = $clock.ElapsedMilliseconds + $limitMs + 1000 + 0.1 * $limitMs
    $new = { param($Seen) $null -ne $Seen -and @(Get-ProcessKeys $Seen.workers | Where-Object { $old -notcontains $_ }).Count -gt 0 }
    $oldGone = { param($Seen) @(Get-ProcessKeys $Seen.workers | Where-Object { $old -contains $_ }).Count -eq 0 }
    Wait-Outcome $target $false $new $oldGone $drainUntilMs
}

try {
    $P = Read-Parameters 'apppool'
    $deadlineMs = [double]$P.timeout_s * 1000
    $null = Invoke-Operation
    $result.ok = $true
} catch {
    Set-Failure $_.Exception
}
$result.duration_ms = [int]$clock.ElapsedMilliseconds
Write-Result
exit 0
