# aspreset-operation: probe
# Read-only: one health probe of one application on this host, for the watch (docs/watch.md). The
# warm-up's own request (warmup.ps1: to this host, the binding's Host header, no redirect followed) with
# the watch's timeout, then the pool's state and its workers as (PID, start time, private bytes); when
# the pool is Stopped, the time of the last WAS event 5002 for it (rapid-fail protection stopped it).
# Judges nothing: bot/app/watch/classify.py does, for real hosts and the simulator alike.
# Parameters arrive only in $AspresetParams (base64 UTF-8 JSON, assigned on the first line of stdin).
# The prelude (prelude.ps1, sent in front of this file) sets the preferences and defines the shared helpers.
# Prints one ASCII-only JSON object whose keys are exactly bot.app.results.ProbeResult.

$clock = [Diagnostics.Stopwatch]::StartNew()
$result = [ordered]@{
    ok = $false
    error_code = $null
    error = $null
    op = 'probe'
    powershell_version = ''
    pool_state = ''
    workers = @()
    warmups = @()
    rapid_fail_stop_at = ''
}

function ConvertTo-ProbeWorker([int]$Id) {
    # (PID, start time) as every operation reads it, and its private bytes ($null: not readable).
    $seen = ConvertTo-Process $Id
    if ($null -eq $seen) { return }
    try { $bytes = [long][Diagnostics.Process]::GetProcessById($Id).PrivateMemorySize64 } catch { $bytes = $null }
    [ordered]@{ pid = $seen.pid; started_at = $seen.started_at; private_bytes = $bytes }
}

function Get-ProbeWorkers([string]$Pool) {
    $manager = New-ServerManager
    try {
        $ids = @($manager.WorkerProcesses | Where-Object { $_.AppPoolName -eq $Pool } | ForEach-Object { [int]$_.ProcessId })
    } finally { $manager.Dispose() }
    @($ids | Sort-Object -Unique | ForEach-Object { ConvertTo-ProbeWorker $_ })
}

function Get-RapidFailStop([string]$Pool) {
    # WAS logs 5002 in the System log when rapid-fail protection stops a pool, with the pool's name as its
    # first value (docs/iis-behaviour.md); newest first. Unreadable or none: '' (an operator, or unknown).
    $filter = @{ LogName = 'System'; ProviderName = 'Microsoft-Windows-WAS'; Id = 5002 }
    try { $events = @(Get-WinEvent -FilterHashtable $filter -MaxEvents 50 -ErrorAction Stop) } catch { return '' }
    $last = $events | Where-Object { [string]$_.Properties[0].Value -eq $Pool } | Select-Object -First 1
    if ($null -eq $last) { return '' }
    $last.TimeCreated.ToUniversalTime().ToString('o')
}

function Invoke-Operation {
    $major = Get-IisMajorVersion
    if ($major -lt 7) { Stop-Operation 'iis_too_old' "the watch reads IIS 7 or later (Microsoft.Web.Administration); this host runs IIS $major" }
    $target = Resolve-Target
    # The request gets the watch's timeout from now (Send-Warmup reads $deadlineMs, in this scope for
    # the functions called from here): no answer within it is a hung probe.
    $deadlineMs = $clock.ElapsedMilliseconds + [double]$P.timeout_s * 1000
    $null = Invoke-Warmup $target $null
    $result.pool_state = Get-PoolState $target.PoolName
    $result.workers = @(Get-ProbeWorkers $target.PoolName)
    if ($result.pool_state -eq 'Stopped') { $result.rapid_fail_stop_at = Get-RapidFailStop $target.PoolName }
}

try {
    $P = Read-Parameters 'probe'
    $deadlineMs = [double]$P.timeout_s * 1000
    $null = Invoke-Operation
    $result.ok = $true
} catch {
    Set-Failure $_.Exception
}
Write-Result
exit 0
