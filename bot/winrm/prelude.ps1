# The aspreset prelude: the helpers two or more operation scripts share. bot/winrm/scripts.py sends it on
# stdin after the parameters line and before the operation's own script, all as one script block, so the
# functions below are defined in the scope the operation's code runs in. It sets the preferences first,
# then defines functions and nothing else: it prints nothing and carries no operation marker line (the
# operation's file does). The functions read the operation's $P (parameters), $result (its ordered
# result), $clock and $deadlineMs, which the operation's script sets at its top level.
# The scripts observe and act; bot/app/verification.py judges what they saw (docs/iis-behaviour.md).
# Windows PowerShell 3.0 or later: the bootstrap (bot/winrm/scripts.py) answers powershell_too_old before.
$ErrorActionPreference = 'Stop'
$ProgressPreference = 'SilentlyContinue'
$WarningPreference = 'SilentlyContinue'
$MwaAssembly = 'Microsoft.Web.Administration, Version=7.0.0.0, Culture=neutral, PublicKeyToken=31bf3856ad364e35'
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
    $result.powershell_version = $PSVersionTable.PSVersion.ToString()
    $params
}

function Get-Account {
    [Security.Principal.WindowsIdentity]::GetCurrent().Name
}

function Get-ErrorCode($Exception) {
    # By HRESULT, exception type or status name: never by (localised) message text. Unreachable UNC
    # paths (ERROR_BAD_NETPATH, ERROR_BAD_NET_NAME, logon failure) are access problems, not "not found".
    for ($e = $Exception; $e; $e = $e.InnerException) {
        if ($e.Data['aspreset_code']) { return [string]$e.Data['aspreset_code'] }
        $denied = $e -is [UnauthorizedAccessException] -or
            @(-2147024891, -2147217405, -2147024843, -2147024829, -2147023570) -contains $e.HResult -or
            @('AccessDenied') -contains [string]$e.NativeErrorCode -or
            @('AccessDenied') -contains [string]$e.ErrorCode -or
            ($e -is [ComponentModel.Win32Exception] -and $e.NativeErrorCode -eq 5)
        if ($denied) { return 'access_denied' }
    }
    'internal'
}

function Get-ErrorText([string]$Code, $Exception) {
    if ($Code -eq 'access_denied') {
        return ('access denied for ' + (Get-Account) + ': the WinRM account must be a local administrator with an ' +
            'elevated token; for a local (non-domain) account set LocalAccountTokenFilterPolicy=1 under ' +
            'HKLM:\SOFTWARE\Microsoft\Windows\CurrentVersion\Policies\System; for content on a UNC share ' +
            '(double hop) use CredSSP or Kerberos delegation. (' + $Exception.Message + ')')
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

function Assert-CimInTime($Watch, [string]$What) {
    # A CIM call that ended after its bound is a timeout whatever the (localised) message says.
    if ($Watch.Elapsed.TotalSeconds -ge $P.cim_timeout_s) {
        Stop-Operation 'wmi_timeout' "a WMI call ($What) did not answer within $($P.cim_timeout_s) s: the WMI repository on this host is stuck; check the Winmgmt service (winmgmt /verifyrepository)"
    }
}

function Get-CimBounded([string]$Namespace, [string]$Class) {
    # Every CIM call is bounded, so a stuck WMI repository fails this host, not the bot.
    $watch = [Diagnostics.Stopwatch]::StartNew()
    try {
        Get-CimInstance -Namespace $Namespace -ClassName $Class -OperationTimeoutSec $P.cim_timeout_s
    } catch {
        Assert-CimInTime $watch "$Namespace $Class"
        throw
    }
}

function Test-WmiProvider {
    $watch = [Diagnostics.Stopwatch]::StartNew()
    try {
        $null = Get-CimClass -Namespace 'root/WebAdministration' -ClassName AppDomain -OperationTimeoutSec $P.cim_timeout_s
        $true
    } catch {
        if (Test-MissingNamespace $_.Exception) { return $false }
        Assert-CimInTime $watch 'root/WebAdministration AppDomain class'
        throw
    }
}

function Get-Features {
    # What "IIS Management Scripts and Tools" (Web-Scripting-Tools) and ASP.NET 4.x (Web-Asp-Net45) bring.
    $components = Get-ItemProperty -LiteralPath 'HKLM:\SOFTWARE\Microsoft\InetStp\Components' -ErrorAction SilentlyContinue
    [ordered]@{
        wmi_provider = Test-WmiProvider
        webadministration_module = $null -ne (Get-Module -ListAvailable -Name WebAdministration)
        aspnet = [bool]($components -and ($components.ASPNET45 -eq 1 -or $components.ASPNET -eq 1))
    }
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

function Assert-Host([string]$Op) {
    $major = Get-IisMajorVersion
    if ((Test-Iis5Isolation $major) -and @('apppool', 'worker') -contains $Op) {
        Stop-Operation 'iis5_isolation' 'this host runs IIS 5 isolation mode: one aspnet_wp.exe serves every application on the machine and there are no application pools, so recycling or killing it is the server rung, which aspreset never runs; use the appdomain rung'
    }
    if ($major -lt 7) { Stop-Operation 'iis_too_old' "IIS $major has no Microsoft.Web.Administration: the $Op operation needs IIS 7 or later (see docs/supported.md)" }
    if (-not (Test-WebServicesRunning $major)) {
        Stop-Operation 'was_stopped' 'WAS or W3SVC is not running: every site on this host is down and only the server rung would help, which aspreset never runs; escalate to a person'
    }
    $major
}

function Get-ObjectState($Item) {
    # Runtime state comes from WAS: a stopped WAS or a site without a web binding has none to give.
    try { [string]$Item.State } catch { 'Unknown' }
}

function Get-StartMode($Pool) {
    $mode = [string]$Pool.StartMode
    if ($mode) { $mode } else { 'OnDemand' }  # IIS 7.0 has no startMode: always on demand
}

function New-ServerManager {
    Add-Type -AssemblyName $MwaAssembly
    New-Object Microsoft.Web.Administration.ServerManager
}

function Get-CoreHosting($Manager, [string]$SiteName, [string]$AppPath) {
    # ASP.NET Core is told by the application's effective configuration, not by its pool's runtime
    # version (a Core app may run in a v4.0 pool; a No Managed Code pool may serve static files or PHP):
    # a handler running AspNetCoreModule(V2), and <aspNetCore> for hostingModel (absent: out of process)
    # and processPath, whose image name finds the app's own process (docs/iis-behaviour.md).
    $core = @{ IsCore = $false; Hosting = ''; Image = ''; Dll = '' }
    $config = $Manager.GetWebConfiguration($SiteName, $AppPath)
    $handlers = @($config.GetSection('system.webServer/handlers').GetCollection())
    $core.IsCore = @($handlers | Where-Object { ([string]$_['modules']) -like 'AspNetCoreModule*' }).Count -gt 0
    if (-not $core.IsCore) { return $core }
    $section = $config.GetSection('system.webServer/aspNetCore')
    $core.Hosting = if (([string]$section.GetAttributeValue('hostingModel')) -eq 'inprocess') { 'inprocess' } else { 'outofprocess' }
    $path = [string]$section.GetAttributeValue('processPath')
    if ($path -and -not $path.Contains('%')) {
        $core.Image = $path.Split('\/')[-1]
        if ($core.Image -notlike '*.*') { $core.Image += '.exe' }
        if ($core.Image -eq 'dotnet.exe') {
            # A framework-dependent app: every such app runs dotnet.exe; its .dll names this one.
            $first = ([string]$section.GetAttributeValue('arguments')).Trim().Split(' ')[0].Trim('"')
            if ($first -like '*.dll') { $core.Dll = $first.Split('\/')[-1] }
        }
    }
    $core
}

function Resolve-Target {
    # The site, application and pool to act on; the inventory's pool must be the application's.
    $manager = New-ServerManager
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
    $physical = [Environment]::ExpandEnvironmentVariables([string]$app.VirtualDirectories['/'].PhysicalPath)
    $core = Get-CoreHosting $manager ([string]$site.Name) $appPath
    @{ Manager = $manager; Site = $site; SiteName = [string]$site.Name; SiteId = [long]$site.Id; AppPath = $appPath
       PoolName = $poolName; Pool = $pool; Physical = $physical; IsCore = $core.IsCore; Hosting = $core.Hosting
       CoreImage = $core.Image; CoreDll = $core.Dll; HasProvider = Test-WmiProvider }
}

function Get-PoolSettings($Target) {
    $pool = $Target.Pool
    [ordered]@{
        start_mode = Get-StartMode $pool
        managed_runtime = [string]$pool.ManagedRuntimeVersion
        aspnet_core = [bool]$Target.IsCore
        hosting_model = $Target.Hosting
        max_processes = [int]$pool.ProcessModel.MaxProcesses
        shutdown_time_limit_s = [double]$pool.ProcessModel.ShutdownTimeLimit.TotalSeconds
        disallow_overlapping_rotation = [bool]$pool.Recycling.DisallowOverlappingRotation
        rapid_fail_protection = [bool]$pool.Failure.RapidFailProtection
        rapid_fail_max_crashes = [int]$pool.Failure.RapidFailProtectionMaxCrashes
        rapid_fail_interval_s = [double]$pool.Failure.RapidFailProtectionInterval.TotalSeconds
    }
}

function Get-PoolState([string]$Pool) {
    # A fresh ServerManager per read: runtime state is not cached between polls.
    $manager = New-ServerManager
    try { [string]$manager.ApplicationPools[$Pool].State } finally { $manager.Dispose() }
}

function ConvertTo-Process([int]$Id) {
    # (PID, start time): Windows reuses PIDs. A process that exited meanwhile is left out, also when it
    # exits between being found and its start time being read (StartTime then throws).
    try {
        $process = [Diagnostics.Process]::GetProcessById($Id)
        $started = $process.StartTime.ToUniversalTime().ToString('o')
    } catch { return }
    [ordered]@{ pid = $Id; started_at = $started }
}

function Get-Workers([string]$Pool) {
    # Pool -> worker processes from Microsoft.Web.Administration (no WMI provider needed).
    $manager = New-ServerManager
    try {
        $ids = @($manager.WorkerProcesses | Where-Object { $_.AppPoolName -eq $Pool } | ForEach-Object { [int]$_.ProcessId })
    } finally { $manager.Dispose() }
    @($ids | Sort-Object -Unique | ForEach-Object { ConvertTo-Process $_ })
}

function Test-AppProcess($Process, $Target) {
    # One of the app's own processes: never the console host Windows attaches; the image of ANCM's
    # processPath when it is known (MyApp.exe, or dotnet.exe with this app's .dll on its command line).
    if ($Process.Name -eq 'conhost.exe') { return $false }
    if ($Target.CoreImage -and $Process.Name -ne $Target.CoreImage) { return $false }
    -not $Target.CoreDll -or ([string]$Process.CommandLine).ToLowerInvariant().Contains($Target.CoreDll.ToLowerInvariant())
}

function Get-Children($Workers, $Target) {
    # ASP.NET Core out of process: the app's process under the pool's workers, whatever its name.
    $parents = @($Workers | ForEach-Object { [int]$_.pid })
    if ($parents.Count -eq 0) { return @() }
    @(Get-CimBounded 'root/cimv2' 'Win32_Process' | Where-Object { $parents -contains [int]$_.ParentProcessId -and (Test-AppProcess $_ $Target) } |
        Sort-Object ProcessId | ForEach-Object { ConvertTo-Process ([int]$_.ProcessId) })
}

function Test-AppDomainOfApp($Domain, $Target) {
    # Microsoft.Web.Administration's ApplicationDomain of this site's application: its Id starts with the
    # site's metabase path, in whatever case the host writes it (/LM/W3SVC/1/ROOT or /lm/w3svc/1/root).
    ([string]$Domain.Id) -like "/LM/W3SVC/$($Target.SiteId)/ROOT*" -and ([string]$Domain.VirtualPath).TrimEnd('/') -eq $Target.AppPath.TrimEnd('/')
}

function Get-AppDomainEntries($Target) {
    # The application's loaded AppDomains: WMI (bounded) when the provider is installed, else
    # Microsoft.Web.Administration's WorkerProcesses[..].ApplicationDomains (docs/iis-behaviour.md).
    $appPath = $Target.AppPath.TrimEnd('/')
    if ($Target.HasProvider) {
        return @(Get-CimBounded 'root/WebAdministration' 'AppDomain' |
            Where-Object { $_.SiteName -eq $Target.SiteName -and ([string]$_.ApplicationPath).TrimEnd('/') -eq $appPath } |
            ForEach-Object { [ordered]@{ id = [string]$_.Id; worker_pid = [int]$_.ProcessId } })
    }
    $manager = New-ServerManager
    try {
        @(foreach ($worker in @($manager.WorkerProcesses | Where-Object { $_.AppPoolName -eq $Target.PoolName })) {
            foreach ($domain in @($worker.ApplicationDomains)) {
                if (Test-AppDomainOfApp $domain $Target) {
                    [ordered]@{ id = [string]$domain.Id; worker_pid = [int]$worker.ProcessId }
                }
            }
        })
    } finally { $manager.Dispose() }
}

function Get-AppRestarts {
    # The ASP.NET counter `Application Restarts` (machine-wide, since W3SVC started); $null without ASP.NET.
    try { [int](New-Object Diagnostics.PerformanceCounter 'ASP.NET', 'Application Restarts', $true).NextValue() } catch { $null }
}

function Get-PoolCrashes([string]$Pool, [double]$WindowS) {
    # What rapid-fail protection counts besides our kills: WAS logs 5009 (a worker ended unexpectedly,
    # killed ones too), 5010 (it failed to answer a ping) and 5011 (a fatal communication error) in the
    # System log, with the pool's name as the event's first value (docs/iis-behaviour.md). A log that
    # cannot be read throws: the caller fails closed.
    $filter = @{ LogName = 'System'; ProviderName = 'Microsoft-Windows-WAS'; Id = @(5009, 5010, 5011)
                 StartTime = (Get-Date).AddSeconds(-$WindowS) }
    try {
        $events = @(Get-WinEvent -FilterHashtable $filter -ErrorAction Stop)
    } catch {
        if ([string]$_.FullyQualifiedErrorId -like 'NoMatchingEventsFound*') { return 0 }
        throw
    }
    @($events | Where-Object { [string]$_.Properties[0].Value -eq $Pool }).Count
}

function Test-AppOffline($Target) {
    [IO.File]::Exists([IO.Path]::Combine($Target.Physical, 'app_offline.htm'))
}

function Get-Observation($Target, [bool]$Domains) {
    $workers = @(Get-Workers $Target.PoolName)
    $children = @()
    if ($Target.Hosting -eq 'outofprocess') { $children = @(Get-Children $workers $Target) }
    $entries = $null
    if ($Domains -and -not $Target.IsCore) { $entries = @(Get-AppDomainEntries $Target) }
    [ordered]@{
        at_ms = [int]$clock.ElapsedMilliseconds
        pool_state = Get-PoolState $Target.PoolName
        workers = $workers
        children = $children
        appdomains = $entries
        app_restarts = Get-AppRestarts
        app_offline = Test-AppOffline $Target
    }
}

function Get-LookAfterAct($Target, [bool]$Domains) {
    # A look after the act: one that fails (WAS busy, a WMI call past its bound, a share gone) is
    # recorded in look_errors and answers $null, and the caller looks again: the operation is not
    # ended without its after-state by one failed read.
    try { Get-Observation $Target $Domains } catch {
        $code = Get-ErrorCode $_.Exception
        $result.look_errors += , ('{0}: {1}' -f $code, (Get-ErrorText $code $_.Exception))
        $null
    }
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

function Assert-SiteServes($Target) {
    # A warm-up needs the site Started and bound to http or https; 127.0.0.1:80 may be another site.
    $state = Get-ObjectState $Target.Site
    if ($state -ne 'Started') {
        Stop-Operation 'site_stopped' "the IIS site is $state, so nothing could warm the application up or show it answers: nothing was done; start the site first"
    }
    $web = @($Target.Site.Bindings | Where-Object { @('http', 'https') -contains $_.Protocol -and $_.EndPoint })
    if ($web.Count -eq 0 -and -not $P.warmup_url) {
        Stop-Operation 'site_stopped' 'the IIS site has no http or https binding to warm the application up through, and the inventory gives no warmup_url: nothing was done'
    }
}

function Initialize-Operation([string]$Op, [bool]$Domains) {
    # Host checks, the target, its settings and the state before; a Stopped pool, app_offline.htm and a
    # deploy still writing to bin/ stop here.
    $null = Assert-Host $Op
    $target = Resolve-Target
    Assert-SiteServes $target
    $result.settings = Get-PoolSettings $target
    $state = Wait-PoolSettled $target.PoolName
    $result.before = Get-Observation $target $Domains
    if ($state -eq 'Stopped') {
        Stop-Operation 'pool_stopped' 'the application pool is Stopped (rapid-fail protection after repeated worker failures, WAS event 5002, or an operator stopped it): nothing was done'
    }
    if ($result.before.app_offline) {
        Stop-Operation 'app_offline' "app_offline.htm is present in $($target.Physical): the application is offline on purpose (a deploy in progress or a leftover); no restart helps until it is removed"
    }
    Assert-DeployQuiet $target
    $target
}

function Add-Action([string]$Step, [string]$What) {
    $result.actions += , [ordered]@{ step = $Step; target = $What; at_ms = [int]$clock.ElapsedMilliseconds }
}

function Get-ProcessKeys($Processes) {
    @($Processes | ForEach-Object { '{0}@{1}' -f $_.pid, $_.started_at })
}

function Wait-Outcome($WaitTarget, [bool]$WaitDomains, [scriptblock]$IsDone, [scriptblock]$AreOldGone, [double]$DrainUntilMs) {
    # Warm up, then look again, until $IsDone holds after an answer and $AreOldGone holds. Every look reads
    # the pool state: a Stopped pool ends the wait at once. Old workers are waited for up to $DrainUntilMs
    # (shutdownTimeLimit plus a margin), the rest up to the operation's deadline. Decides nothing else.
    # The condition blocks run in this scope and see the caller's variables: names here start with "wait".
    # An answer counts only if it was sent when no old worker was left: during an overlapped recycle
    # HTTP.sys hands requests to the old worker until the new one is ready (docs/iis-behaviour.md).
    $waitAnswer = $null
    $waitSeen = $result.acted
    $waitFresh = $false
    while ($clock.ElapsedMilliseconds -le [Math]::Max($deadlineMs, $DrainUntilMs) + 1000) {
        # A 500 or 502.5 while the app starts is asked again within the wait; the offline page is an answer.
        $waitServed = $null -ne $waitAnswer -and $null -ne $waitAnswer.status -and ($waitAnswer.status -lt 500 -or $waitAnswer.offline_page)
        if (-not $waitServed -or -not $waitFresh -or -not (& $IsDone $waitSeen)) {
            $waitFresh = $null -ne $waitSeen -and (& $AreOldGone $waitSeen)
            $waitAnswer = Invoke-Warmup $WaitTarget $waitSeen
        }
        $waitLook = Get-LookAfterAct $WaitTarget $WaitDomains
        $waitNowMs = $clock.ElapsedMilliseconds
        if ($null -eq $waitLook) {
            if ($waitNowMs -ge $deadlineMs) { $result.wait_ended = 'deadline'; return }  # nothing readable: no drain to watch
            Start-Sleep -Milliseconds $P.poll_ms
            continue
        }
        $waitSeen = $waitLook
        $result.after = $waitSeen
        $waitOldGone = & $AreOldGone $waitSeen
        if ($waitSeen.pool_state -eq 'Stopped') { $result.wait_ended = 'pool_stopped'; return }
        # HTTP.sys itself said no binding or no registration matches: asking again cannot help. Its own
        # pages say so by their Server header, or (DisableServerHeader) by their fixed "HTTP Error NNN. " line.
        $waitByHttpSys = $waitAnswer.server -like 'Microsoft-HTTPAPI*' -or $waitAnswer.error_line -match '^HTTP Error \d{3}\. '
        if (@(400, 404) -contains $waitAnswer.status -and $waitByHttpSys) { $result.wait_ended = 'not_routed'; return }
        $waitServed = $null -ne $waitAnswer.status -and ($waitAnswer.status -lt 500 -or $waitAnswer.offline_page)
        if ($waitServed -and $waitFresh -and (& $IsDone $waitSeen) -and $waitOldGone) { $result.wait_ended = 'condition'; return }
        if (-not $waitOldGone -and $DrainUntilMs -gt 0 -and $waitNowMs -ge $DrainUntilMs) { $result.wait_ended = 'shutdown_time_limit'; return }
        # Old workers gone only now, past the deadline: one more warm-up, which the new worker answers.
        $waitOneMore = $waitOldGone -and -not $waitFresh -and $null -ne $waitAnswer.status
        if ($waitNowMs -ge $deadlineMs -and ($waitOldGone -or $waitNowMs -ge $DrainUntilMs) -and -not $waitOneMore) { $result.wait_ended = 'deadline'; return }
        Start-Sleep -Milliseconds $P.poll_ms
    }
    $result.wait_ended = 'deadline'
}

function Wait-Gone([scriptblock]$WaitCheck) {
    # After acting: a bounded look for the old entry or process to go (a request in flight can keep it).
    $waitUntilMs = [Math]::Min($deadlineMs, $clock.ElapsedMilliseconds + 10000)
    while (-not (& $WaitCheck) -and $clock.ElapsedMilliseconds -lt $waitUntilMs) {
        if ($clock.ElapsedMilliseconds -ge $deadlineMs) { break }
        Start-Sleep -Milliseconds $P.poll_ms
    }
}
