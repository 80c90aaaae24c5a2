# What a careful operator looks at on the host before acting (docs/iis-behaviour.md, "Checks before
# acting"): a deploy still writing to bin/. Sent after prelude.ps1 and warmup.ps1 as part of the prelude;
# defines functions only.

function Get-BinFiles([string]$Physical) {
    # bin/'s files and folders: relative path -> last write (UTC ticks) and size. The content folder is
    # listed first, so an unreachable share throws instead of looking like an app without bin/.
    $null = [IO.Directory]::GetFileSystemEntries($Physical, 'bin')
    $bin = [IO.Path]::Combine($Physical, 'bin')
    $files = @{}
    if ([IO.Directory]::Exists($bin)) {
        foreach ($item in @(Get-ChildItem -LiteralPath $bin -Recurse -Force)) {
            $size = if ($item.PSIsContainer) { -1 } else { [long]$item.Length }
            $files['bin\' + $item.FullName.Substring($bin.Length).TrimStart('\')] = '{0}|{1}' -f $item.LastWriteTimeUtc.Ticks, $size
        }
    }
    $files
}

function Assert-DeployQuiet($Target) {
    # A deploy still copying into bin/ holds every rung: ASP.NET restarts the app by itself when the copy
    # ends, and a restart now loads half-copied files. A file written within deploy_quiet_s seconds
    # (either way: a file server's clock may run ahead), or changing between two looks, is a copy going on.
    # bin/ unreadable (a share without delegation): recorded, and the rung goes on.
    try {
        $first = Get-BinFiles $Target.Physical
        Start-Sleep -Milliseconds $P.poll_ms
        $second = Get-BinFiles $Target.Physical
    } catch {
        $code = Get-ErrorCode $_.Exception
        if ($code -ne 'access_denied') {
            Stop-Operation 'deploy_in_progress' ("bin/ changed while it was listed (" + $_.Exception.Message + '): a deploy is copying; nothing was done; retry when the copy has settled')
        }
        $result.deploy_check = 'unreadable: access_denied: ' + (Get-ErrorText $code $_.Exception)
        return
    }
    $now = [DateTime]::UtcNow.Ticks
    $window = [long]([double]$P.deploy_quiet_s * 10000000)
    $names = @(@($first.Keys) + @($second.Keys) | Sort-Object -Unique)
    $writing = @($names | Where-Object {
        $age = $now - [long]([string]$second[$_]).Split('|')[0]
        $first[$_] -ne $second[$_] -or ($age -lt $window -and $age -gt -$window)
    })
    if ($writing.Count -gt 0) {
        $shown = @($writing | Select-Object -First 5) -join ', '
        if ($writing.Count -gt 5) { $shown += " and $($writing.Count - 5) more" }
        Stop-Operation 'deploy_in_progress' ("a deploy is still writing to bin/: $shown changed within the last $($P.deploy_quiet_s) s: nothing was done; ASP.NET restarts the application by itself when the copy ends; retry when it has settled")
    }
    $result.deploy_check = 'quiet'
}

function Get-PoolApps($Target) {
    # Every application IIS runs in the pool on this host: the blast radius of a recycle or a kill, read
    # from IIS itself (the inventory may be stale).
    @(foreach ($site in @($Target.Manager.Sites)) {
        foreach ($app in @($site.Applications | Where-Object { $_.ApplicationPoolName -eq $Target.PoolName })) {
            $root = $app.VirtualDirectories['/']
            $physical = if ($root) { [Environment]::ExpandEnvironmentVariables([string]$root.PhysicalPath) } else { '' }
            [ordered]@{ site = [string]$site.Name; path = [string]$app.Path; physical_path = $physical }
        }
    })
}

function Get-RequestsInFlight($Target) {
    # The requests the pool's workers are running (WorkerProcess.GetRequests), which a kill ends: only
    # with the Request Monitor feature (Web-Request-Monitor). The query string is left out: it may carry secrets.
    $components = Get-ItemProperty -LiteralPath 'HKLM:\SOFTWARE\Microsoft\InetStp\Components' -ErrorAction SilentlyContinue
    if (-not ($components -and $components.RequestMonitor -eq 1)) {
        $result.before_acting.requests_unknown = 'Request Monitor not installed'
        return
    }
    $manager = New-ServerManager
    try {
        $result.before_acting.requests = @(foreach ($worker in @($manager.WorkerProcesses | Where-Object { $_.AppPoolName -eq $Target.PoolName })) {
            foreach ($request in @($worker.GetRequests(0))) {
                [ordered]@{ verb = [string]$request.Verb; path = ([string]$request.Url).Split('?')[0]
                            elapsed_ms = [int]$request.TimeElapsed; worker_pid = [int]$worker.ProcessId }
            }
        })
    } catch {
        $result.before_acting.requests_unknown = Get-ErrorText (Get-ErrorCode $_.Exception) $_.Exception
    } finally { $manager.Dispose() }
}

function Get-WasEvents($Target) {
    # The pool's recent WAS events in the System log: 5002 (disabled by rapid-fail protection), 5009 (a
    # worker ended unexpectedly), 5010 (no answer to a ping), 5011 (fatal communication error), 5013
    # (shutdown time limit exceeded); the pool's name is the event's first value.
    $filter = @{ LogName = 'System'; ProviderName = 'Microsoft-Windows-WAS'; Id = @(5002, 5009, 5010, 5011, 5013)
                 StartTime = (Get-Date).AddSeconds(-[double]$P.events_since_s) }
    try {
        $events = @(Get-WinEvent -FilterHashtable $filter -ErrorAction Stop)
    } catch {
        if ([string]$_.FullyQualifiedErrorId -like 'NoMatchingEventsFound*') { $result.before_acting.was_events = @(); return }
        $result.before_acting.was_events_unknown = Get-ErrorText (Get-ErrorCode $_.Exception) $_.Exception
        return
    }
    $result.before_acting.was_events = @($events | Where-Object { [string]$_.Properties[0].Value -eq $Target.PoolName } |
        ForEach-Object { [ordered]@{ id = [int]$_.Id; at = $_.TimeCreated.ToUniversalTime().ToString('o') } })
}

function Get-BeforeActing($Target) {
    # What the plan shows before anything is done: each read that fails says why and the others go on.
    $result.before_acting = [ordered]@{
        pool_apps = @(Get-PoolApps $Target)
        physical_path = $Target.Physical
        requests = $null
        requests_unknown = ''
        was_events = $null
        was_events_unknown = ''
    }
    Get-RequestsInFlight $Target
    Get-WasEvents $Target
}
