# aspreset-operation: worker
# Kills one application pool's own worker process(es) by PID (rung "worker": requests in flight and
# in-proc session state are lost), warms up, and waits for a new worker of the same pool. An on-demand
# pool with no worker is normal: it is warmed up, nothing is killed. Refused on IIS 5 isolation mode,
# where the one aspnet_wp.exe serves the whole machine. Everything in one run on the host.
# Parameters arrive only in $AspresetParams (base64 UTF-8 JSON, assigned on the line above this one).
# Prints one ASCII-only JSON object whose keys are exactly bot.winrm.results.RestartResult.
$ErrorActionPreference = 'Stop'
$ProgressPreference = 'SilentlyContinue'
$WarningPreference = 'SilentlyContinue'
# Windows PowerShell 5.1 would serialise some arrays as {"value":[...],"Count":n} without this.
try { Remove-TypeData -TypeName System.Array } catch { }

$StoppedHint = 'the application pool is Stopped: rapid-fail protection stops a pool after repeated worker crashes (WAS event 5002 in the System log; kills count as crashes), or an operator stopped it. Starting it may crash again: find the cause in the event logs first'

$clock = [Diagnostics.Stopwatch]::StartNew()
$result = [ordered]@{
    ok = $false
    error_code = $null
    error = $null
    op = 'worker'
    method = 'kill-and-warm-up'
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
    if ($params.op -ne 'worker') { Stop-Operation 'bad_parameters' 'this script runs the worker operation only' }
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

function Test-Iis5Isolation([int]$Major) {
    if ($Major -ne 6) { return ($Major -lt 6) }
    [bool]([ADSI]'IIS://localhost/W3SVC').IIs5IsolationModeEnabled
}

function Resolve-Target {
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

function Stop-Worker([int]$Id) {
    # By PID only: a PID read for this pool a moment ago. One that exited meanwhile is fine.
    try {
        Stop-Process -Id $Id -Force
    } catch {
        if (Get-Process -Id $Id -ErrorAction SilentlyContinue) { throw }
    }
}

function Invoke-Operation {
    $major = Get-IisMajorVersion
    if (Test-Iis5Isolation $major) {
        Stop-Operation 'iis5_isolation' 'this host runs IIS 5 isolation mode: its one aspnet_wp.exe serves every application on the machine, so killing it is the server rung, which aspreset never runs; use the appdomain rung (touch web.config) instead'
    }
    if ($major -lt 7) { Stop-Operation 'internal' 'the worker operation needs IIS 7 or later (Microsoft.Web.Administration)' }
    if (-not (Test-WebServicesRunning)) {
        Stop-Operation 'was_stopped' 'WAS or W3SVC is not running: every site on this host is down and only the server rung would help, which aspreset never runs; escalate to a person'
    }
    $target = Resolve-Target
    $state = Wait-PoolSettled $target.PoolName
    $result.state_before = $state
    $before = [int[]]@(Get-PoolPids $target.PoolName)
    $result.pids_before = $before
    if ($state -eq 'Stopped') { Stop-Operation 'pool_stopped' $StoppedHint }

    if ($before.Count -eq 0) {
        $result.method = 'warm-up'
    } else {
        foreach ($id in $before) { Stop-Worker $id }
    }
    $url = Get-WarmupUrl $target
    $outcome = Wait-NewWorker $before $target.PoolName $url
    $result.state_after = Get-PoolState $target.PoolName

    if ($outcome.Old.Count -gt 0) {
        Stop-Operation 'internal' ("worker(s) {0} still run after Stop-Process -Id" -f ($outcome.Old -join ', '))
    }
    if ($result.state_after -eq 'Stopped') { Stop-Operation 'pool_stopped' $StoppedHint }
    if (-not $outcome.Served) {
        Stop-Operation 'worker_not_started' "no new worker answered the warm-up request ($url) within $($P.timeout_s) s"
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
