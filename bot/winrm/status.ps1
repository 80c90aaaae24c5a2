# aspreset-operation: status
# Read-only: the state of one application pool and one application on this host, and which optional IIS
# features are installed; for the none rung (warm_up) a warm-up request first, routed as HTTP.sys routes it. Workers are (PID, start time); AppDomains come from WMI or, without the WMI
# provider, from Microsoft.Web.Administration.
# Parameters arrive only in $AspresetParams (base64 UTF-8 JSON, assigned on the first line of stdin).
# The prelude (prelude.ps1, sent in front of this file) sets the preferences and defines the shared helpers.
# Prints one ASCII-only JSON object whose keys are exactly bot.app.results.StatusResult.

$clock = [Diagnostics.Stopwatch]::StartNew()
$result = [ordered]@{
    ok = $false
    error_code = $null
    error = $null
    op = 'status'
    powershell_version = ''
    iis_major_version = 0
    worker_process_name = 'w3wp'
    was_running = $false
    pool_state = ''
    start_mode = ''
    managed_runtime = ''
    max_processes = 1
    workers = @()
    appdomain_id = $null
    app_offline = $false
    settings = $null
    before = $null
    observed = $null
    features = $null
    warmups = @()
    deploy_check = ''
    crashes_seen = $null
    crashes_error = ''
    before_acting = $null
}

function Invoke-Operation {
    $major = Get-IisMajorVersion
    $result.iis_major_version = $major
    $result.was_running = Test-WebServicesRunning $major
    if (Test-Iis5Isolation $major) {
        # IIS 5 isolation: one aspnet_wp.exe for the whole machine, no application pools.
        $result.worker_process_name = 'aspnet_wp'
        $result.workers = @(Get-CimBounded 'root/cimv2' 'Win32_Process' | Where-Object { $_.Name -eq 'aspnet_wp.exe' } |
            Sort-Object ProcessId | ForEach-Object { ConvertTo-Process ([int]$_.ProcessId) })
        return
    }
    if ($major -lt 7) { Stop-Operation 'iis_too_old' "status reads IIS 7 or later (Microsoft.Web.Administration); this host runs IIS $major" }
    $result.features = Get-Features
    $target = Resolve-Target
    # The none rung: ASP.NET restarted the app by itself; a warm-up on this host, then the state.
    if ($P.warm_up) {
        Assert-DeployQuiet $target  # a deploy still writing to bin/ holds the none rung too
        # The none rung's before and after are two looks: the state before the warm-up, then after it.
        $result.before = Get-Observation $target $true
        $null = Invoke-Warmup $target $result.before
    }
    $seen = Get-Observation $target $true
    $result.settings = Get-PoolSettings $target
    $result.observed = $seen
    $result.pool_state = $seen.pool_state
    $result.start_mode = $result.settings.start_mode
    $result.managed_runtime = $result.settings.managed_runtime
    $result.max_processes = $result.settings.max_processes
    $result.workers = $seen.workers
    if ($seen.appdomains) { $result.appdomain_id = @($seen.appdomains | ForEach-Object { $_.id } | Sort-Object) -join ',' }
    $result.app_offline = $seen.app_offline
    if ($result.settings.rapid_fail_protection) {
        # The pool's own recent failures, which rapid-fail protection counts with any kill (the plan's guard).
        try { $result.crashes_seen = Get-PoolCrashes $target.PoolName $result.settings.rapid_fail_interval_s } catch {
            $code = Get-ErrorCode $_.Exception
            $result.crashes_error = '{0}: {1}' -f $code, (Get-ErrorText $code $_.Exception)
        }
    }
    if ($P.before_acting) { Get-BeforeActing $target }  # what a plan shows before acting (checks.ps1)
}

try {
    $P = Read-Parameters 'status'
    $deadlineMs = [double]$P.timeout_s * 1000
    $null = Invoke-Operation
    $result.ok = $true
} catch {
    Set-Failure $_.Exception
}
Write-Result
exit 0
