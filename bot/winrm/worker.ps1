# aspreset-operation: worker
# Kills one application pool's own worker process(es) by PID (rung "worker": requests in flight and
# in-proc session state are lost), confirms they are gone, warms up, and waits for a new worker of the
# same pool. Only a process whose (PID, start time) is the one observed is stopped: Windows reuses PIDs.
# An on-demand pool with no worker is normal: it is warmed up, nothing is killed. Every kill counts towards
# rapid-fail protection: a pool Stopped by the kills ends the operation at once. Judges nothing.
# Parameters arrive only in $AspresetParams (base64 UTF-8 JSON, assigned on the first line of stdin).
# The prelude (prelude.ps1, sent in front of this file) sets the preferences and defines the shared helpers.
# Prints one ASCII-only JSON object whose keys are exactly bot.app.results.RestartResult.

$clock = [Diagnostics.Stopwatch]::StartNew()
$result = [ordered]@{
    ok = $false
    error_code = $null
    error = $null
    op = 'worker'
    method = 'kill-and-warm-up'
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

function Stop-Worker($Worker) {
    # By PID only, and only the process observed: a PID reused meanwhile belongs to someone else.
    $now = ConvertTo-Process $Worker.pid
    if ($null -eq $now -or $now.started_at -ne $Worker.started_at) { return }
    try {
        Stop-Process -Id $Worker.pid -Force
    } catch {
        if (Get-Process -Id $Worker.pid -ErrorAction SilentlyContinue) { throw }
    }
    Add-Action 'kill' ([string]$Worker.pid)
}

function Assert-KillsAllowed($Target, $Settings, [int]$Kills) {
    # The app's own crashes count towards rapid-fail protection as our kills do: refuse a kill that
    # would make them reach the pool's limit within its interval (the pool would be Stopped: 503s).
    if ($Kills -eq 0 -or -not $Settings.rapid_fail_protection) { return }
    try { $result.crashes_seen = Get-PoolCrashes $Target.PoolName $Settings.rapid_fail_interval_s } catch {
        Stop-Operation 'rapid_fail_risk' ('the WAS events in the System log could not be read (' + (Get-ErrorText (Get-ErrorCode $_.Exception) $_.Exception) + '): without them a kill could trip rapid-fail protection unseen, so nothing was killed; use --scope apppool')
    }
    if ($result.crashes_seen + $Kills -ge $Settings.rapid_fail_max_crashes) {
        Stop-Operation 'rapid_fail_risk' ("$($result.crashes_seen) worker failure(s) of this pool in the System log (WAS events 5009-5011) within the last $($Settings.rapid_fail_interval_s) s, plus $Kills kill(s), would reach rapidFailProtectionMaxCrashes ($($Settings.rapid_fail_max_crashes)) and WAS would stop the pool: nothing was killed; use --scope apppool, which rapid-fail protection does not count")
    }
}

function Invoke-Operation {
    $target = Initialize-Operation 'worker' $false
    $old = Get-ProcessKeys $result.before.workers
    if ($old.Count -eq 0) {
        $result.method = 'warm-up'
        Add-Action 'none' 'no worker to stop: the pool starts one with the warm-up'
    }
    Assert-KillsAllowed $target $result.settings $old.Count
    foreach ($worker in @($result.before.workers)) { Stop-Worker $worker }
    $oldGone = { param($Seen) @(Get-ProcessKeys $Seen.workers | Where-Object { $old -contains $_ }).Count -eq 0 }
    Wait-Gone { $look = Get-LookAfterAct $target $false; $null -ne $look -and (& $oldGone $look) }
    $result.acted = Get-LookAfterAct $target $false
    if ($result.acted.pool_state -eq 'Stopped') {
        # The kills tripped rapid-fail protection: nothing will start until someone starts the pool.
        $result.after = $result.acted
        $result.wait_ended = 'pool_stopped'
        return
    }
    $new = { param($Seen) $null -ne $Seen -and @(Get-ProcessKeys $Seen.workers | Where-Object { $old -notcontains $_ }).Count -gt 0 }
    Wait-Outcome $target $false $new $oldGone 0
}

try {
    $P = Read-Parameters 'worker'
    $deadlineMs = [double]$P.timeout_s * 1000
    $null = Invoke-Operation
    $result.ok = $true
} catch {
    Set-Failure $_.Exception
}
$result.duration_ms = [int]$clock.ElapsedMilliseconds
Write-Result
exit 0
