# aspreset-operation: discover
# Read-only: the sites (state, bindings), applications (path, pool, physical path, ASP.NET Core or not; the root "/" too)
# and application pools of this host, and which optional IIS features are installed, for `aspreset inventory discover HOST`.
# Parameters arrive only in $AspresetParams (base64 UTF-8 JSON, assigned on the first line of stdin).
# The prelude (prelude.ps1, sent in front of this file) sets the preferences and defines the shared helpers.
# Prints one ASCII-only JSON object whose keys are exactly bot.app.results.DiscoverResult.

$clock = [Diagnostics.Stopwatch]::StartNew()
$result = [ordered]@{
    ok = $false
    error_code = $null
    error = $null
    op = 'discover'
    powershell_version = ''
    iis_major_version = 0
    iis5_isolation = $false
    features = $null
    sites = @()
    pools = @()
}

function Get-DiscoveredApp($Manager, [string]$SiteName, $App) {
    # ASP.NET Core is told by the app's ANCM handler, as the operations tell it (Get-CoreHosting), not by
    # its pool's runtime version. One app whose configuration cannot be read (a malformed web.config, a
    # share the network logon cannot reach) is reported as such; the other apps are still listed.
    $found = [ordered]@{
        path = [string]$App.Path
        pool = [string]$App.ApplicationPoolName
        physical_path = [Environment]::ExpandEnvironmentVariables([string]$App.VirtualDirectories['/'].PhysicalPath)
        aspnet_core = $null
        hosting_model = ''
        config_error = ''
    }
    try {
        $core = Get-CoreHosting $Manager $SiteName ([string]$App.Path)
        $found.aspnet_core = [bool]$core.IsCore
        $found.hosting_model = [string]$core.Hosting
    } catch {
        $code = Get-ErrorCode $_.Exception
        $found.config_error = '{0}: {1}' -f $code, (Get-ErrorText $code $_.Exception)
    }
    $found
}

function Invoke-Operation {
    $major = Get-IisMajorVersion
    $result.iis_major_version = $major
    $result.iis5_isolation = Test-Iis5Isolation $major
    if ($major -lt 7) {
        # IIS 6 has no Microsoft.Web.Administration: the version and the isolation mode are all we report.
        return
    }
    $result.features = Get-Features
    $manager = New-ServerManager
    $result.sites = @(foreach ($site in $manager.Sites) {
        [ordered]@{
            name = [string]$site.Name
            state = Get-ObjectState $site
            bindings = @(foreach ($binding in $site.Bindings) { '{0}/{1}' -f $binding.Protocol, $binding.BindingInformation })
            apps = @(foreach ($app in $site.Applications) { Get-DiscoveredApp $manager ([string]$site.Name) $app })
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
}

try {
    $P = Read-Parameters 'discover'
    $null = Invoke-Operation
    $result.ok = $true
} catch {
    Set-Failure $_.Exception
}
Write-Result
exit 0
