# aspreset-operation: appdomain
# Restarts one application's AppDomain (rung "appdomain"): the worker process and every other app keep
# running. Methods: wmi-unload (AppDomain.Unload through WMI, or through Microsoft.Web.Administration when
# the WMI provider is missing, as the policy's fallback allows), touch-web-config (web.config LastWriteTime),
# bin-marker (a file created and deleted in bin/). ASP.NET Core (an ANCM handler in the app's effective
# configuration) has no AppDomain: touch-web-config, which makes ANCM restart the app (its worker in
# process, its own process out of process). Observes before, acts, looks for the old entry to go, warms up, observes after; judges nothing.
# Parameters arrive only in $AspresetParams (base64 UTF-8 JSON, assigned on the first line of stdin).
# The prelude (prelude.ps1, sent in front of this file) sets the preferences and defines the shared helpers.
# Prints one ASCII-only JSON object whose keys are exactly bot.app.results.RestartResult.

$clock = [Diagnostics.Stopwatch]::StartNew()
$result = [ordered]@{
    ok = $false
    error_code = $null
    error = $null
    op = 'appdomain'
    method = ''
    powershell_version = ''
    settings = $null
    before = $null
    actions = @()
    acted = $null
    warmups = @()
    after = $null
    wait_ended = ''
    look_errors = @()
    crashes_seen = $null
    deploy_check = ''
    duration_ms = 0
}

function Assert-ContentReachable([string]$Physical) {
    # Exists() says "no" for a share the network logon cannot reach (double hop): list the folder instead,
    # so access denied and unreachable UNC paths fail as access_denied with the path and the account.
    try {
        $null = [IO.Directory]::GetFileSystemEntries($Physical, 'web.config')
    } catch {
        if ((Get-ErrorCode $_.Exception) -eq 'access_denied' -or $_.Exception -is [IO.IOException]) {
            Stop-Operation 'access_denied' ("access denied to $Physical for " + (Get-Account) + ': content on a UNC share needs delegation from a WinRM network logon (double hop): use CredSSP or Kerberos constrained delegation, or give the share the computer account')
        }
        throw
    }
}

function Invoke-Operation {
    $target = Initialize-Operation 'appdomain' $true
    if (-not $target.IsCore -and -not $result.settings.managed_runtime) {
        Stop-Operation 'bad_parameters' 'the application runs no ASP.NET: its pool has no managed runtime and no ASP.NET Core module handler serves it (static files, PHP...), so there is no AppDomain to restart; use --scope apppool'
    }
    $method = [string]$P.method
    if (-not $method) { $method = if ($target.IsCore) { 'touch-web-config' } else { 'wmi-unload' } }
    if (@('wmi-unload', 'touch-web-config', 'bin-marker') -notcontains $method) {
        Stop-Operation 'bad_parameters' 'method must be wmi-unload, touch-web-config or bin-marker'
    }
    if ($target.IsCore -and $method -ne 'touch-web-config') {
        Stop-Operation 'bad_parameters' 'ASP.NET Core (an ANCM handler serves the app) has no AppDomain: use touch-web-config, which makes ANCM restart the app'
    }
    if ($method -eq 'wmi-unload' -and -not $target.HasProvider) {
        # No WMI provider: Microsoft.Web.Administration reaches the same AppDomains, unless the policy says otherwise.
        $method = if ($P.fallback) { [string]$P.fallback } else { 'mwa-unload' }
        if ($method -eq 'refuse') {
            Stop-Operation 'wmi_provider_missing' 'the WMI provider root\WebAdministration is not installed and the policy refuses other ways to unload the AppDomain: Install-WindowsFeature Web-Scripting-Tools'
        }
    }
    $result.method = $method
    $webConfig = [IO.Path]::Combine($target.Physical, 'web.config')
    $bin = [IO.Path]::Combine($target.Physical, 'bin')
    if (@('touch-web-config', 'bin-marker') -contains $method) {
        Assert-ContentReachable $target.Physical  # a deploy still writing to bin/ was held before (checks.ps1)
    }

    if ($method -eq 'wmi-unload') {
        foreach ($domain in @(Get-CimBounded 'root/WebAdministration' 'AppDomain' | Where-Object { $_.SiteName -eq $target.SiteName -and ([string]$_.ApplicationPath).TrimEnd('/') -eq $target.AppPath.TrimEnd('/') })) {
            $null = Invoke-CimMethod -InputObject $domain -MethodName Unload -OperationTimeoutSec $P.cim_timeout_s
            Add-Action 'unload' ([string]$domain.Id)
        }
    } elseif ($method -eq 'mwa-unload') {
        $manager = New-ServerManager
        foreach ($worker in @($manager.WorkerProcesses | Where-Object { $_.AppPoolName -eq $target.PoolName })) {
            foreach ($domain in @($worker.ApplicationDomains | Where-Object { Test-AppDomainOfApp $_ $target })) {
                $domain.Unload()
                Add-Action 'unload' ([string]$domain.Id)
            }
        }
        $manager.Dispose()
    } elseif ($method -eq 'touch-web-config') {
        if (-not [IO.File]::Exists($webConfig)) { Stop-Operation 'bad_parameters' "the application has no web.config to touch in $($target.Physical): use bin-marker or wmi-unload" }
        [IO.File]::SetLastWriteTimeUtc($webConfig, [DateTime]::UtcNow)
        Add-Action 'touch-web-config' $webConfig
    } else {
        if (-not [IO.Directory]::Exists($bin)) { Stop-Operation 'bad_parameters' "the application has no bin folder in $($target.Physical) for a marker file: use touch-web-config or wmi-unload" }
        $marker = [IO.Path]::Combine($bin, 'aspreset-' + [guid]::NewGuid().ToString('N') + '.marker')
        [IO.File]::WriteAllText($marker, '')
        [IO.File]::Delete($marker)
        Add-Action 'bin-marker' $bin
    }

    # What "gone" and "back" mean for this app: its AppDomain entry, or for ASP.NET Core the process.
    $oldWorkers = Get-ProcessKeys $result.before.workers
    $oldChildren = Get-ProcessKeys $result.before.children
    $gone = {
        param($Seen)
        if ($target.Hosting -eq 'outofprocess') { return @(Get-ProcessKeys $Seen.children | Where-Object { $oldChildren -contains $_ }).Count -eq 0 }
        if ($target.IsCore) { return @(Get-ProcessKeys $Seen.workers | Where-Object { $oldWorkers -contains $_ }).Count -eq 0 }
        @($Seen.appdomains).Count -eq 0
    }
    $back = {
        param($Seen)
        if ($null -eq $Seen) { return $false }
        if ($target.Hosting -eq 'outofprocess') { return @($Seen.children).Count -gt 0 -and (& $gone $Seen) }
        if ($target.IsCore) { return @($Seen.workers).Count -gt 0 -and (& $gone $Seen) }
        @($Seen.appdomains).Count -gt 0
    }
    Wait-Gone { $look = Get-LookAfterAct $target $true; $null -ne $look -and (& $gone $look) }
    $result.acted = Get-LookAfterAct $target $true
    Wait-Outcome $target $true $back { param($Seen) $true } 0
}

try {
    $P = Read-Parameters 'appdomain'
    $deadlineMs = [double]$P.timeout_s * 1000
    $null = Invoke-Operation
    $result.ok = $true
} catch {
    Set-Failure $_.Exception
}
$result.duration_ms = [int]$clock.ElapsedMilliseconds
Write-Result
exit 0
