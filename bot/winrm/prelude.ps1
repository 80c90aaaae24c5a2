# The aspreset prelude: the helpers two or more operation scripts share. bot/winrm/scripts.py sends it on
# stdin after the parameters line and before the operation's own script, all as one script block, so the
# functions below are defined in the scope the operation's code runs in. It sets the preferences first,
# then defines functions and nothing else: it prints nothing and carries no operation marker line (the
# operation's file does). The functions read the operation's $P (parameters), $result (its ordered
# result), $clock and $deadlineMs, which the operation's script sets at its top level.
$ErrorActionPreference = 'Stop'
$ProgressPreference = 'SilentlyContinue'
$WarningPreference = 'SilentlyContinue'
# Windows PowerShell 5.1 would serialise some arrays as {"value":[...],"Count":n} without this.
try { Remove-TypeData -TypeName System.Array } catch { }

function Stop-Operation([string]$Code, [string]$Message) {
    $failure = New-Object System.InvalidOperationException $Message
    $failure.Data['aspreset_code'] = $Code
    throw $failure
}

function Read-Parameters([string]$Op) {
    try {
        $text = [Text.Encoding]::UTF8.GetString([Convert]::FromBase64String($AspresetParams))
        $params = ConvertFrom-Json -InputObject $text
    } catch {
        Stop-Operation 'bad_parameters' 'the parameters are not base64 UTF-8 JSON'
    }
    if ($params.op -ne $Op) { Stop-Operation 'bad_parameters' "this script runs the $Op operation only" }
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

function Set-Failure($Exception) {
    $result.ok = $false
    $result.error_code = Get-ErrorCode $Exception
    $result.error = Get-ErrorText $result.error_code $Exception
}

function Write-Result {
    # The script's one output: $result as one compressed JSON line, every non-ASCII character as \uXXXX.
    $json = ConvertTo-Json -InputObject $result -Compress -Depth 5
    Write-Output ([regex]::Replace($json, '[^\x00-\x7F]', { param($m) '\u{0:x4}' -f [int]$m.Value[0] }))
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

function Assert-WebServicesRunning([int]$Major) {
    if (-not (Test-WebServicesRunning $Major)) {
        Stop-Operation 'was_stopped' 'WAS or W3SVC is not running: every site on this host is down and only the server rung would help, which aspreset never runs; escalate to a person'
    }
}

function Get-ObjectState($Item) {
    # Runtime state comes from WAS: a stopped WAS or a site without a web binding has none to give.
    try { [string]$Item.State } catch { 'Unknown' }
}

function Get-StartMode($Pool) {
    $mode = [string]$Pool.StartMode
    if ($mode) { $mode } else { 'OnDemand' }  # IIS 7.0 has no startMode: always on demand
}

function Get-AppDomains([string]$Site, [string]$AppPath) {
    Get-CimInstance -Namespace 'root/WebAdministration' -ClassName AppDomain |
        Where-Object { $_.SiteName -eq $Site -and ([string]$_.ApplicationPath).TrimEnd('/') -eq $AppPath.TrimEnd('/') }
}

function Get-AppDomainIds([string]$Site, [string]$AppPath) {
    # Loaded AppDomains of one application (one per worker in a web garden), ids sorted and joined; $null if none.
    $ids = @(Get-AppDomains $Site $AppPath | ForEach-Object { [string]$_.Id } | Sort-Object)
    if ($ids.Count -eq 0) { return $null }
    $ids -join ','
}

function Resolve-PoolTarget {
    # The pool to act on: the one named, or the IIS application's; both given must agree.
    Add-Type -AssemblyName 'Microsoft.Web.Administration, Version=7.0.0.0, Culture=neutral, PublicKeyToken=31bf3856ad364e35'
    $manager = New-Object Microsoft.Web.Administration.ServerManager
    $site = $null
    $appPath = '/' + ([string]$P.app_path).Trim('/')
    $poolName = [string]$P.pool
    if ($P.iis_site) {
        $site = $manager.Sites[[string]$P.iis_site]
        if ($null -eq $site) { Stop-Operation 'site_not_found' 'IIS has no site by the name given in the inventory' }
        $app = $site.Applications[$appPath]
        if ($null -eq $app) { Stop-Operation 'app_not_found' "IIS site has no application at $appPath" }
        if (-not $poolName) { $poolName = [string]$app.ApplicationPoolName }
        if ($poolName -ne $app.ApplicationPoolName) {
            Stop-Operation 'bad_parameters' "the inventory names pool '$poolName' but IIS runs this application in pool '$($app.ApplicationPoolName)': correct the inventory"
        }
    }
    if (-not $poolName) { Stop-Operation 'bad_parameters' 'give an application pool or an IIS site' }
    $pool = $manager.ApplicationPools[$poolName]
    if ($null -eq $pool) { Stop-Operation 'pool_not_found' "IIS has no application pool '$poolName'" }
    @{ Manager = $manager; Site = $site; AppPath = $appPath; PoolName = $poolName; Pool = $pool }
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

function Wait-NewWorker([int[]]$Before, [string]$Pool, [string]$Url) {
    # Done when a new worker answered the warm-up and none of the workers from before is left.
    Invoke-Warmup $Url
    while ($true) {
        $now = @(Get-PoolPids $Pool)
        $old = @($now | Where-Object { $Before -contains $_ })
        $new = @($now | Where-Object { $Before -notcontains $_ })
        $served = $new.Count -gt 0 -and $null -ne $result.warmup_status
        if (($old.Count -eq 0 -and $served) -or $clock.ElapsedMilliseconds -ge $deadlineMs) { break }
        Start-Sleep -Milliseconds $P.poll_ms
        # No new worker yet (on-demand pool, or no overlap): a request is what starts one.
        if (-not $served) { Invoke-Warmup $Url }
    }
    $result.pids_after = [int[]]$now
    $result.drained = $old.Count -eq 0
    @{ Old = $old; New = $new; Served = $served }
}
