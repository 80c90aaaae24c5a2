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
