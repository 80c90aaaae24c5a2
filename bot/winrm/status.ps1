# aspreset-operation: status
# Read-only: the state of one application pool and one application on this host.
# Parameters arrive only in $AspresetParams (base64 UTF-8 JSON, assigned on the line above this one).
# Prints one ASCII-only JSON object whose keys are exactly bot.winrm.results.StatusResult.
$ErrorActionPreference = 'Stop'
$ProgressPreference = 'SilentlyContinue'
$WarningPreference = 'SilentlyContinue'
# Windows PowerShell 5.1 would serialise some arrays as {"value":[...],"Count":n} without this.
try { Remove-TypeData -TypeName System.Array } catch { }

$result = [ordered]@{
    ok = $false
    error_code = $null
    error = $null
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
    if ($params.op -ne 'status') { Stop-Operation 'bad_parameters' 'this script runs the status operation only' }
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

function Test-Iis5Isolation([int]$Major) {
    if ($Major -ne 6) { return ($Major -lt 6) }
    [bool]([ADSI]'IIS://localhost/W3SVC').IIs5IsolationModeEnabled
}

function Test-WebServicesRunning([int]$Major) {
    $names = if ($Major -ge 7) { @('W3SVC', 'WAS') } else { @('W3SVC') }
    $running = @(Get-Service -Name $names -ErrorAction SilentlyContinue | Where-Object { [string]$_.Status -eq 'Running' })
    $running.Count -eq $names.Count
}

function ConvertTo-Worker($Process) {
    [ordered]@{
        pid = [int]$Process.ProcessId
        started_at = $Process.CreationDate.ToUniversalTime().ToString('o')
    }
}

function Get-PoolWorkers([string]$Pool) {
    # Pool -> PIDs from the IIS WMI provider, else from w3wp.exe command lines (-ap "Pool").
    # The pool name is compared here and never put into a query.
    $processes = @(Get-CimInstance -ClassName Win32_Process -Filter "Name = 'w3wp.exe'")
    try {
        $pids = @(Get-CimInstance -Namespace 'root/WebAdministration' -ClassName WorkerProcess |
            Where-Object { $_.AppPoolName -eq $Pool } | ForEach-Object { [int]$_.ProcessId })
    } catch {
        if (-not (Test-MissingNamespace $_.Exception)) { throw }
        $pids = @($processes | Where-Object { $_.CommandLine -match '-ap "([^"]+)"' -and $Matches[1] -eq $Pool } |
            ForEach-Object { [int]$_.ProcessId })
    }
    $processes | Where-Object { $pids -contains [int]$_.ProcessId } | Sort-Object ProcessId |
        ForEach-Object { ConvertTo-Worker $_ }
}

function Get-AppDomainIds([string]$Site, [string]$AppPath) {
    # Loaded AppDomains of one application (one per worker in a web garden); $null without the provider.
    try {
        $domains = @(Get-CimInstance -Namespace 'root/WebAdministration' -ClassName AppDomain)
    } catch {
        if (Test-MissingNamespace $_.Exception) { return $null }
        throw
    }
    $ids = @($domains | Where-Object { $_.SiteName -eq $Site -and ([string]$_.ApplicationPath).TrimEnd('/') -eq $AppPath.TrimEnd('/') } |
        ForEach-Object { [string]$_.Id } | Sort-Object)
    if ($ids.Count -eq 0) { return $null }
    $ids -join ','
}

function Invoke-Operation {
    $major = Get-IisMajorVersion
    $result.iis_major_version = $major
    $result.was_running = Test-WebServicesRunning $major
    if (Test-Iis5Isolation $major) {
        # IIS 5 isolation: one aspnet_wp.exe for the whole machine, no application pools.
        $result.worker_process_name = 'aspnet_wp'
        $result.workers = @(Get-CimInstance -ClassName Win32_Process -Filter "Name = 'aspnet_wp.exe'" |
            Sort-Object ProcessId | ForEach-Object { ConvertTo-Worker $_ })
        $result.ok = $true
        return
    }
    if ($major -lt 7) { Stop-Operation 'internal' 'status reads IIS 7 or later (Microsoft.Web.Administration); this host runs IIS 6' }
    Add-Type -AssemblyName 'Microsoft.Web.Administration, Version=7.0.0.0, Culture=neutral, PublicKeyToken=31bf3856ad364e35'
    $manager = New-Object Microsoft.Web.Administration.ServerManager
    $poolName = [string]$P.pool
    if ($P.iis_site) {
        $site = $manager.Sites[[string]$P.iis_site]
        if ($null -eq $site) { Stop-Operation 'site_not_found' 'IIS has no site by the name given in the inventory' }
        $appPath = '/' + ([string]$P.app_path).Trim('/')
        $app = $site.Applications[$appPath]
        if ($null -eq $app) { Stop-Operation 'app_not_found' "IIS site has no application at $appPath" }
        if (-not $poolName) { $poolName = [string]$app.ApplicationPoolName }
        $physical = [Environment]::ExpandEnvironmentVariables([string]$app.VirtualDirectories['/'].PhysicalPath)
        $result.app_offline = [IO.File]::Exists([IO.Path]::Combine($physical, 'app_offline.htm'))
        $result.appdomain_id = Get-AppDomainIds ([string]$site.Name) $appPath
    }
    if (-not $poolName) { Stop-Operation 'bad_parameters' 'give an application pool or an IIS site' }
    $pool = $manager.ApplicationPools[$poolName]
    if ($null -eq $pool) { Stop-Operation 'pool_not_found' 'IIS has no application pool by the name given in the inventory' }
    $result.pool_state = try { [string]$pool.State } catch { 'Unknown' }
    $result.start_mode = [string]$pool.StartMode
    if (-not $result.start_mode) { $result.start_mode = 'OnDemand' }  # IIS 7.0 has no startMode
    $result.managed_runtime = [string]$pool.ManagedRuntimeVersion
    $result.max_processes = [int]$pool.ProcessModel.MaxProcesses
    $result.workers = @(Get-PoolWorkers $poolName)
    $result.ok = $true
}

try {
    $P = Read-Parameters
    $null = Invoke-Operation
} catch {
    $failure = $_.Exception
    $result.ok = $false
    $result.error_code = Get-ErrorCode $failure
    $result.error = Get-ErrorText $result.error_code $failure
}
$json = ConvertTo-Json -InputObject $result -Compress -Depth 5
Write-Output ([regex]::Replace($json, '[^\x00-\x7F]', { param($m) '\u{0:x4}' -f [int]$m.Value[0] }))
exit 0
