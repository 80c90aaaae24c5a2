# aspreset-operation: appdomain
# Restarts one application's AppDomain (rung "appdomain"): the worker process and every other app keep
# running. Methods: wmi-unload (WMI AppDomain.Unload), touch-web-config (web.config LastWriteTime),
# bin-marker (a file created and deleted in bin/). ASP.NET Core (no managed runtime): touch-web-config,
# verified by a new process start time. Before-state, act, warm-up, verify and after-state in one run.
# Parameters arrive only in $AspresetParams (base64 UTF-8 JSON, assigned on the first line of stdin).
# The prelude (prelude.ps1, sent in front of this file) sets the preferences and defines the shared helpers.
# Prints one ASCII-only JSON object whose keys are exactly bot.winrm.results.RestartResult.

$clock = [Diagnostics.Stopwatch]::StartNew()
$result = [ordered]@{
    ok = $false
    error_code = $null
    error = $null
    op = 'appdomain'
    method = ''
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

function Resolve-AppTarget {
    Add-Type -AssemblyName 'Microsoft.Web.Administration, Version=7.0.0.0, Culture=neutral, PublicKeyToken=31bf3856ad364e35'
    $manager = New-Object Microsoft.Web.Administration.ServerManager
    $site = $manager.Sites[[string]$P.iis_site]
    if ($null -eq $site) { Stop-Operation 'site_not_found' 'IIS has no site by the name given in the inventory' }
    $appPath = '/' + ([string]$P.app_path).Trim('/')
    $app = $site.Applications[$appPath]
    if ($null -eq $app) { Stop-Operation 'app_not_found' "IIS site has no application at $appPath" }
    $poolName = [string]$app.ApplicationPoolName
    if ($P.pool -and $P.pool -ne $poolName) {
        Stop-Operation 'bad_parameters' "the inventory names pool '$($P.pool)' but IIS runs this application in pool '$poolName': correct the inventory"
    }
    $pool = $manager.ApplicationPools[$poolName]
    if ($null -eq $pool) { Stop-Operation 'pool_not_found' "IIS has no application pool '$poolName'" }
    @{
        Manager = $manager
        Site = $site
        SiteName = [string]$site.Name
        AppPath = $appPath
        PoolName = $poolName
        Physical = [Environment]::ExpandEnvironmentVariables([string]$app.VirtualDirectories['/'].PhysicalPath)
        IsCore = -not [string]$pool.ManagedRuntimeVersion
        HasProvider = Test-AppDomainProvider
    }
}

function Test-AppDomainProvider {
    try {
        $null = Get-CimClass -Namespace 'root/WebAdministration' -ClassName AppDomain
        $true
    } catch {
        if (-not (Test-MissingNamespace $_.Exception)) { throw }
        $false
    }
}

function Get-AppMarker($Target) {
    # What changes when the application restarts: its AppDomain ids (one per worker in a web garden),
    # or for ASP.NET Core the newest of the pool's workers and their child processes (out-of-process).
    if ($Target.IsCore) {
        $pids = @(Get-PoolPids $Target.PoolName)
        if ($pids.Count -eq 0) { return $null }
        $newest = Get-CimInstance -ClassName Win32_Process |
            Where-Object { $pids -contains [int]$_.ProcessId -or $pids -contains [int]$_.ParentProcessId } |
            Sort-Object CreationDate | Select-Object -Last 1
        return '{0}@{1}' -f $newest.ProcessId, $newest.CreationDate.ToUniversalTime().ToString('o')
    }
    if (-not $Target.HasProvider) { return $null }
    Get-AppDomainIds $Target.SiteName $Target.AppPath
}

function Test-Restarted([string]$Before, [string]$After) {
    if (-not $After) { return $false }
    $old = @($Before -split ',' | Where-Object { $_ })
    @($After -split ',' | Where-Object { $old -contains $_ }).Count -eq 0
}

function Get-BinSnapshot([string]$Bin) {
    if (-not [IO.Directory]::Exists($Bin)) { return '' }
    @(Get-ChildItem -LiteralPath $Bin -Recurse -Force | ForEach-Object {
        '{0}|{1}' -f $_.FullName, $_.LastWriteTimeUtc.Ticks
    }) -join "`n"
}

function Invoke-Operation {
    $major = Get-IisMajorVersion
    if ($major -lt 7) { Stop-Operation 'internal' 'the appdomain operation needs IIS 7 or later (Microsoft.Web.Administration)' }
    Assert-WebServicesRunning $major
    $target = Resolve-AppTarget
    $method = [string]$P.method
    if (-not $method) { $method = if ($target.IsCore) { 'touch-web-config' } else { 'wmi-unload' } }
    $result.method = $method
    if (@('wmi-unload', 'touch-web-config', 'bin-marker') -notcontains $method) {
        Stop-Operation 'bad_parameters' 'method must be wmi-unload, touch-web-config or bin-marker'
    }
    if ($target.IsCore -and $method -ne 'touch-web-config') {
        Stop-Operation 'bad_parameters' 'ASP.NET Core (pool without managed runtime) has no AppDomain: use touch-web-config, which makes ANCM restart the app'
    }
    if ($method -eq 'wmi-unload' -and -not $target.HasProvider) {
        Stop-Operation 'internal' 'wmi-unload needs the WMI namespace root\WebAdministration (Windows feature IIS Management Scripts and Tools, Web-Scripting-Tools): install it or use touch-web-config'
    }
    $webConfig = [IO.Path]::Combine($target.Physical, 'web.config')
    $bin = [IO.Path]::Combine($target.Physical, 'bin')
    if ([IO.File]::Exists([IO.Path]::Combine($target.Physical, 'app_offline.htm'))) {
        Stop-Operation 'app_offline' "app_offline.htm is present in $($target.Physical): the application is offline on purpose (a deploy in progress or a leftover); no restart helps until it is removed"
    }

    $state = Wait-PoolSettled $target.PoolName
    $result.state_before = $state
    $result.pids_before = [int[]]@(Get-PoolPids $target.PoolName)
    $before = Get-AppMarker $target
    $result.appdomain_before = $before
    if ($state -eq 'Stopped') {
        Stop-Operation 'pool_stopped' 'the application pool is Stopped (rapid-fail protection after repeated crashes, WAS event 5002, or an operator stopped it): the application cannot start until the pool is started'
    }
    $snapshot = Get-BinSnapshot $bin
    Start-Sleep -Milliseconds $P.poll_ms
    if ($snapshot -ne (Get-BinSnapshot $bin)) {
        Stop-Operation 'deploy_in_progress' 'files in bin/ are changing (a deploy is copying): ASP.NET restarts the application by itself when it ends; try again after the copy'
    }

    if ($method -eq 'wmi-unload') {
        foreach ($domain in @(Get-AppDomains $target.SiteName $target.AppPath)) { $null = Invoke-CimMethod -InputObject $domain -MethodName Unload }
    } elseif ($method -eq 'touch-web-config') {
        if (-not [IO.File]::Exists($webConfig)) { Stop-Operation 'bad_parameters' 'the application has no web.config to touch: use bin-marker or wmi-unload' }
        [IO.File]::SetLastWriteTimeUtc($webConfig, [DateTime]::UtcNow)
    } else {
        if (-not [IO.Directory]::Exists($bin)) { Stop-Operation 'bad_parameters' 'the application has no bin/ folder for a marker file: use touch-web-config or wmi-unload' }
        $marker = [IO.Path]::Combine($bin, 'aspreset-' + [guid]::NewGuid().ToString('N') + '.marker')
        [IO.File]::WriteAllText($marker, '')
        [IO.File]::Delete($marker)
    }

    # Without the WMI provider a CLR app's AppDomain cannot be read: the warm-up answer is all we can check.
    $verifiable = $target.IsCore -or $target.HasProvider
    $url = Get-WarmupUrl $target
    Invoke-Warmup $url
    while ($true) {
        $after = Get-AppMarker $target
        $restarted = (-not $verifiable) -or (Test-Restarted $before $after)
        if ($restarted -and $null -ne $result.warmup_status) { break }
        if ($clock.ElapsedMilliseconds -ge $deadlineMs) { break }
        Start-Sleep -Milliseconds $P.poll_ms
        Invoke-Warmup $url
    }
    $result.appdomain_after = $after
    $result.pids_after = [int[]]@(Get-PoolPids $target.PoolName)
    $result.drained = @($result.pids_before | Where-Object { $result.pids_after -contains $_ }).Count -eq 0
    $result.state_after = Get-PoolState $target.PoolName
    if (-not ($restarted -and $null -ne $result.warmup_status)) {
        Stop-Operation 'appdomain_not_restarted' "no restarted application answered the warm-up request ($url) within $($P.timeout_s) s"
    }
    $result.ok = $true
}

try {
    $P = Read-Parameters 'appdomain'
    $deadlineMs = [double]$P.timeout_s * 1000
    $null = Invoke-Operation
} catch {
    Set-Failure $_.Exception
}
$result.duration_ms = [int]$clock.ElapsedMilliseconds
Write-Result
exit 0
