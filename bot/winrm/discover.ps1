# aspreset-operation: discover
# Read-only: the sites (state, bindings), applications (path, pool, physical path; the root "/" too)
# and application pools of this host, for `aspreset inventory discover HOST`.
# Parameters arrive only in $AspresetParams (base64 UTF-8 JSON, assigned on the line above this one).
# Prints one ASCII-only JSON object whose keys are exactly bot.winrm.results.DiscoverResult.
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
    iis5_isolation = $false
    sites = @()
    pools = @()
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
    if ($params.op -ne 'discover') { Stop-Operation 'bad_parameters' 'this script runs the discover operation only' }
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

function Get-IisMajorVersion {
    $inetStp = Get-ItemProperty -LiteralPath 'HKLM:\SOFTWARE\Microsoft\InetStp' -ErrorAction SilentlyContinue
    if (-not $inetStp) { Stop-Operation 'internal' 'IIS is not installed on this host (no HKLM:\SOFTWARE\Microsoft\InetStp)' }
    [int]$inetStp.MajorVersion
}

function Test-Iis5Isolation([int]$Major) {
    if ($Major -ne 6) { return ($Major -lt 6) }
    [bool]([ADSI]'IIS://localhost/W3SVC').IIs5IsolationModeEnabled
}

function Get-ObjectState($Item) {
    # Runtime state comes from WAS: a stopped WAS or a site without a web binding has none to give.
    try { [string]$Item.State } catch { 'Unknown' }
}

function Get-StartMode($Pool) {
    $mode = [string]$Pool.StartMode
    if ($mode) { $mode } else { 'OnDemand' }  # IIS 7.0 has no startMode: always on demand
}

function Invoke-Operation {
    $major = Get-IisMajorVersion
    $result.iis_major_version = $major
    $result.iis5_isolation = Test-Iis5Isolation $major
    if ($major -lt 7) {
        # IIS 6 has no Microsoft.Web.Administration: the version and the isolation mode are all we report.
        $result.ok = $true
        return
    }
    Add-Type -AssemblyName 'Microsoft.Web.Administration, Version=7.0.0.0, Culture=neutral, PublicKeyToken=31bf3856ad364e35'
    $manager = New-Object Microsoft.Web.Administration.ServerManager
    $result.sites = @(foreach ($site in $manager.Sites) {
        [ordered]@{
            name = [string]$site.Name
            state = Get-ObjectState $site
            bindings = @(foreach ($binding in $site.Bindings) { '{0}/{1}' -f $binding.Protocol, $binding.BindingInformation })
            apps = @(foreach ($app in $site.Applications) {
                [ordered]@{
                    path = [string]$app.Path
                    pool = [string]$app.ApplicationPoolName
                    physical_path = [Environment]::ExpandEnvironmentVariables([string]$app.VirtualDirectories['/'].PhysicalPath)
                }
            })
        }
    })
    $result.pools = @(foreach ($pool in $manager.ApplicationPools) {
        [ordered]@{
            name = [string]$pool.Name
            state = Get-ObjectState $pool
            managed_runtime = [string]$pool.ManagedRuntimeVersion
            start_mode = Get-StartMode $pool
            max_processes = [int]$pool.ProcessModel.MaxProcesses
        }
    })
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
