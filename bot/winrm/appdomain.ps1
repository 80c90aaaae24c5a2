# aspreset-operation: appdomain
# Restarts one application's AppDomain (rung "appdomain"): the worker process and every other app keep
# running. Methods: wmi-unload (WMI AppDomain.Unload), touch-web-config (web.config LastWriteTime),
# bin-marker (a file created and deleted in bin/). ASP.NET Core (no managed runtime): touch-web-config,
# verified by a new process start time. Before-state, act, warm-up, verify and after-state in one run.
# Parameters arrive only in $AspresetParams (base64 UTF-8 JSON, assigned on the line above this one).
# Prints one ASCII-only JSON object whose keys are exactly bot.winrm.results.RestartResult.
$ErrorActionPreference = 'Stop'
$ProgressPreference = 'SilentlyContinue'
$WarningPreference = 'SilentlyContinue'
# Windows PowerShell 5.1 would serialise some arrays as {"value":[...],"Count":n} without this.
try { Remove-TypeData -TypeName System.Array } catch { }

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

function Stop-Operation([string]$Code, [string]$Message) {
    $failure = New-Object System.InvalidOperationException $Message
    $failure.Data['aspreset_code'] = $Code
    throw $failure
}

function Read-Parameters {
    try {
        $text = [Text.Encoding]::UTF8.GetString([Convert]::FromBase64String($AspresetParams))
        $params = ConvertFrom-Json -InputObject $text
    } catch {
        Stop-Operation 'bad_parameters' 'the parameters are not base64 UTF-8 JSON'
    }
    if ($params.op -ne 'appdomain') { Stop-Operation 'bad_parameters' 'this script runs the appdomain operation only' }
    $params
}

function Get-ErrorCode($Exception) {
    # By HRESULT, exception type or status name: never by (localised) message text.
    for ($e = $Exception; $e; $e = $e.InnerException) {
        if ($e.Data['aspreset_code']) { return [string]$e.Data['aspreset_code'] }
        $denied = $e -is [UnauthorizedAccessException] -or
            @(-2147024891, -2147217405) -contains $e.HResult -or
            @('AccessDenied') -contains [string]$e.NativeErrorCode -or
            @('AccessDenied') -contains [string]$e.ErrorCode -or
            ($e -is [ComponentModel.Win32Exception] -and $e.NativeErrorCode -eq 5)
        if ($denied) { return 'access_denied' }
    }
    'internal'
}

function Get-ErrorText([string]$Code, $Exception) {
    if ($Code -eq 'access_denied') {
        return 'access denied: the WinRM account must be a local administrator with an elevated token; ' +
            'for a local (non-domain) account set LocalAccountTokenFilterPolicy=1 under ' +
            'HKLM:\SOFTWARE\Microsoft\Windows\CurrentVersion\Policies\System; for content on a UNC share ' +
            '(double hop) use CredSSP or Kerberos delegation. (' + $Exception.Message + ')'
    }
    if ($Exception.Data['aspreset_code']) { return $Exception.Message }
    '{0}: {1}' -f $Exception.GetType().FullName, $Exception.Message
}

function Test-MissingNamespace($Exception) {
    for ($e = $Exception; $e; $e = $e.InnerException) {
        if (@('InvalidNamespace', 'InvalidClass') -contains [string]$e.NativeErrorCode) { return $true }
    }
    $false
}

function Get-IisMajorVersion {
    $inetStp = Get-ItemProperty -LiteralPath 'HKLM:\SOFTWARE\Microsoft\InetStp' -ErrorAction SilentlyContinue
    if (-not $inetStp) { Stop-Operation 'internal' 'IIS is not installed on this host (no HKLM:\SOFTWARE\Microsoft\InetStp)' }
    [int]$inetStp.MajorVersion
}

function Test-WebServicesRunning {
    $running = @(Get-Service -Name 'W3SVC', 'WAS' -ErrorAction SilentlyContinue | Where-Object { [string]$_.Status -eq 'Running' })
    $running.Count -eq 2
}

function Resolve-Target {
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

function Get-PoolState([string]$Pool) {
    # A fresh ServerManager per read: runtime state is not cached between polls.
    $manager = New-Object Microsoft.Web.Administration.ServerManager
    try { [string]$manager.ApplicationPools[$Pool].State } finally { $manager.Dispose() }
}

function Wait-PoolSettled([string]$Pool) {
    $state = Get-PoolState $Pool
    while (@('Starting', 'Stopping') -contains $state) {
        if ($clock.ElapsedMilliseconds -ge $deadlineMs) {
            Stop-Operation 'pool_transition_timeout' "the application pool stayed $state for $($P.timeout_s) s"
        }
        Start-Sleep -Milliseconds $P.poll_ms
        $state = Get-PoolState $Pool
    }
    $state
}

function Get-PoolPids([string]$Pool) {
    # Pool -> PIDs from the IIS WMI provider, else from w3wp.exe command lines (-ap "Pool").
    # The pool name is compared here and never put into a query.
    try {
        $pids = @(Get-CimInstance -Namespace 'root/WebAdministration' -ClassName WorkerProcess |
            Where-Object { $_.AppPoolName -eq $Pool } | ForEach-Object { [int]$_.ProcessId })
    } catch {
        if (-not (Test-MissingNamespace $_.Exception)) { throw }
        $pids = @(Get-CimInstance -ClassName Win32_Process -Filter "Name = 'w3wp.exe'" |
            Where-Object { $_.CommandLine -match '-ap "([^"]+)"' -and $Matches[1] -eq $Pool } |
            ForEach-Object { [int]$_.ProcessId })
    }
    $pids | Sort-Object -Unique
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

function Get-AppDomains($Target) {
    Get-CimInstance -Namespace 'root/WebAdministration' -ClassName AppDomain |
        Where-Object { $_.SiteName -eq $Target.SiteName -and ([string]$_.ApplicationPath).TrimEnd('/') -eq $Target.AppPath.TrimEnd('/') }
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
    $ids = @(Get-AppDomains $Target | ForEach-Object { [string]$_.Id } | Sort-Object)
    if ($ids.Count -eq 0) { return $null }
    $ids -join ','
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

function Get-WarmupUrl($Target) {
    if ($P.warmup_url) { return [string]$P.warmup_url }
    # The seed's trick: a phony .aspx under the application still starts the worker and the AppDomain.
    $port = 80
    $binding = @($Target.Site.Bindings | Where-Object { $_.Protocol -eq 'http' -and $_.EndPoint }) | Select-Object -First 1
    if ($binding) { $port = $binding.EndPoint.Port }
    $path = $Target.AppPath.TrimEnd('/') + '/does/not/exist/' + [guid]::NewGuid().ToString() + '/start.aspx'
    (New-Object UriBuilder -ArgumentList 'http', 'localhost', $port, $path).Uri.AbsoluteUri
}

function Invoke-Warmup([string]$Url) {
    # Any HTTP answer counts (even 404 or 500: the worker answered); no answer leaves the status empty.
    $watch = [Diagnostics.Stopwatch]::StartNew()
    $seconds = [Math]::Max(1, [int](($deadlineMs - $clock.ElapsedMilliseconds) / 1000))
    $status = $null
    try {
        $status = [int](Invoke-WebRequest -Uri $Url -UseBasicParsing -TimeoutSec $seconds).StatusCode
    } catch {
        if ($_.Exception.Response) { $status = [int]$_.Exception.Response.StatusCode }
    }
    $result.warmup_status = $status
    $result.warmup_ms = [int]$watch.ElapsedMilliseconds
}

function Invoke-Operation {
    if ((Get-IisMajorVersion) -lt 7) { Stop-Operation 'internal' 'the appdomain operation needs IIS 7 or later (Microsoft.Web.Administration)' }
    if (-not (Test-WebServicesRunning)) {
        Stop-Operation 'was_stopped' 'WAS or W3SVC is not running: every site on this host is down and only the server rung would help, which aspreset never runs; escalate to a person'
    }
    $target = Resolve-Target
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
        foreach ($domain in @(Get-AppDomains $target)) { $null = Invoke-CimMethod -InputObject $domain -MethodName Unload }
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
    $P = Read-Parameters
    $deadlineMs = [double]$P.timeout_s * 1000
    $null = Invoke-Operation
} catch {
    $failure = $_.Exception
    $result.ok = $false
    $result.error_code = Get-ErrorCode $failure
    $result.error = Get-ErrorText $result.error_code $failure
}
$result.duration_ms = [int]$clock.ElapsedMilliseconds
$json = ConvertTo-Json -InputObject $result -Compress -Depth 5
Write-Output ([regex]::Replace($json, '[^\x00-\x7F]', { param($m) '\u{0:x4}' -f [int]$m.Value[0] }))
exit 0
