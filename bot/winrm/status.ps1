# aspreset-operation: status
# Read-only: the state of one application pool and one application on this host.
# Parameters arrive only in $AspresetParams (base64 UTF-8 JSON, assigned on the first line of stdin).
# The prelude (prelude.ps1, sent in front of this file) sets the preferences and defines the shared helpers.
# Prints one ASCII-only JSON object whose keys are exactly bot.winrm.results.StatusResult.

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
        try {
            $result.appdomain_id = Get-AppDomainIds ([string]$site.Name) $appPath
        } catch {
            # Without the WMI provider the AppDomain cannot be read: appdomain_id stays empty.
            if (-not (Test-MissingNamespace $_.Exception)) { throw }
        }
    }
    if (-not $poolName) { Stop-Operation 'bad_parameters' 'give an application pool or an IIS site' }
    $pool = $manager.ApplicationPools[$poolName]
    if ($null -eq $pool) { Stop-Operation 'pool_not_found' 'IIS has no application pool by the name given in the inventory' }
    $result.pool_state = Get-ObjectState $pool
    $result.start_mode = Get-StartMode $pool
    $result.managed_runtime = [string]$pool.ManagedRuntimeVersion
    $result.max_processes = [int]$pool.ProcessModel.MaxProcesses
    $result.workers = @(Get-PoolWorkers $poolName)
    $result.ok = $true
}

try {
    $P = Read-Parameters 'status'
    $null = Invoke-Operation
} catch {
    Set-Failure $_.Exception
}
Write-Result
exit 0
