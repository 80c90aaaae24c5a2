# The aspreset prelude, second part: the warm-up request. bot/winrm/scripts.py sends it right after
# prelude.ps1 (which sets the preferences) and before the operation's own script, as one script block.
# It defines functions and nothing else. How HTTP.sys routes a request and what answers it before the
# application does: docs/iis-behaviour.md.

function Get-UrlHost([string]$Address) {
    # An IPv6 literal stands in brackets in a URL and in a Host header ([Uri] throws without them).
    if ($Address.Contains(':') -and -not $Address.StartsWith('[')) { return "[$Address]" }
    $Address
}

function Get-ListenAddress {
    # Where to reach a binding to every address from this host: 127.0.0.1, unless HTTP.sys' IP listen list
    # (netsh http add iplisten; the ListenOnlyList registry value) names addresses and leaves loopback out:
    # then HTTP.sys refuses 127.0.0.1, and ::1 or a listed address is used ("0.0.0.0"/"::": every one).
    $listed = @()
    $key = 'HKLM:\SYSTEM\CurrentControlSet\Services\HTTP\Parameters'
    $values = Get-ItemProperty -LiteralPath $key -Name ListenOnlyList -ErrorAction SilentlyContinue
    if ($values) { $listed = @($values.ListenOnlyList | Where-Object { $_ } | ForEach-Object { ([string]$_).Trim() }) }
    if ($listed.Count -eq 0 -or $listed -contains '127.0.0.1' -or $listed -contains '0.0.0.0') { return '127.0.0.1' }
    if ($listed -contains '::1' -or $listed -contains '::') { return '::1' }
    $v4 = @($listed | Where-Object { -not $_.Contains(':') })
    if ($v4.Count -gt 0) { return $v4[0] }
    $listed[0]
}

function Get-WarmupRequest($Target) {
    # To this host (the bound IP, else 127.0.0.1 or a listed address) on the binding's port, with the URL's host name as Host
    # header, or the binding's when the URL names an address: HTTP.sys routes by it (docs/iis-behaviour.md).
    # The binding: of the URL's scheme if it names one; https with a host name first (a native module may
    # redirect http to https, and the name lets the certificate match), then http with a host name, http, https.
    $bindings = @($Target.Site.Bindings | Where-Object { @('http', 'https') -contains $_.Protocol -and $_.EndPoint })
    $scheme = ''
    if ($P.warmup_url) { $scheme = ([Uri][string]$P.warmup_url).Scheme }
    $wanted = @($bindings | Where-Object { -not $scheme -or $_.Protocol -eq $scheme })
    if ($wanted.Count -eq 0) { $wanted = $bindings }
    $binding = $wanted | Sort-Object { -not [string]$_.Host }, { if ([string]$_.Host) { $_.Protocol -ne 'https' } else { $_.Protocol -ne 'http' } } |
        Select-Object -First 1
    $port = 80
    $hostHeader = ''
    if ($binding) { $scheme = if ($scheme) { $scheme } else { [string]$binding.Protocol }; $port = $binding.EndPoint.Port; $hostHeader = [string]$binding.Host }
    if (-not $scheme) { $scheme = 'http' }
    # An IIS 10 wildcard host name (*.example.com) is no valid Host header; any name under it routes there.
    if ($hostHeader.StartsWith('*')) { $hostHeader = 'aspreset-warmup' + $hostHeader.TrimStart('*') }
    $path = if ([string]$P.warmup_path -ne '/') { [string]$P.warmup_path } else { $Target.AppPath.TrimEnd('/') + '/' }
    if ($P.warmup_url) {
        $uri = [Uri][string]$P.warmup_url
        $port = $uri.Port
        $path = $uri.PathAndQuery
        if ($uri.HostNameType -eq [UriHostNameType]::Dns -and $uri.Host -ne 'localhost') { $hostHeader = $uri.Host }
    }
    $address = ''
    if ($binding -and -not (@('0.0.0.0', '::') -contains $binding.EndPoint.Address.ToString())) { $address = $binding.EndPoint.Address.ToString() }
    if (-not $address) { $address = Get-ListenAddress }
    $address = Get-UrlHost $address
    if (-not $hostHeader) { $hostHeader = $address }
    # RFC 7230: the Host header carries the port unless it is the scheme's default.
    if (($scheme -eq 'http' -and $port -ne 80) -or ($scheme -eq 'https' -and $port -ne 443)) { $hostHeader = "${hostHeader}:$port" }
    @{ Url = '{0}://{1}:{2}{3}' -f $scheme, $address, $port, $path; Host = $hostHeader }
}

function Invoke-Warmup($Target, $Seen) {
    # One GET, and one more when it is redirected to the host it named: a native module (URL Rewrite,
    # httpRedirect, HSTS) answers some paths before ASP.NET runs, so a redirect never shows the app
    # answered. Returns the last answer. $Seen is the last look before it ($null: none).
    try { $request = Get-WarmupRequest $Target } catch {
        for ($cause = $_.Exception; $cause.InnerException; $cause = $cause.InnerException) { }
        $request = @{ Url = [string]$P.warmup_url; Host = ''; Failure = $cause.GetType().Name }
    }
    $answer = Send-Warmup $request $Target $Seen
    $follow = Get-SameHostRedirect $request $answer $Target
    if ($follow) { $answer = Send-Warmup $follow $Target $Seen }
    $answer
}

function Send-Warmup($Request, $Target, $Seen) {
    # Runs after the act: nothing here may throw. A Host header .NET refuses, a body cut short, a
    # certificate it rejects: each is the answer's failure, and the operation goes on to its after-state.
    $seenWorkers = $null
    if ($null -ne $Seen) { $seenWorkers = @($Seen.workers) }
    $answer = [ordered]@{ url = $Request.Url; host_header = $Request.Host; status = $null; server = ''; location = ''
                          ms = 0; failure = [string]$Request.Failure; offline_page = $false; error_line = ''
                          at_ms = [int]$clock.ElapsedMilliseconds; workers_seen = $seenWorkers }
    $watch = [Diagnostics.Stopwatch]::StartNew()
    $response = $null
    try {
        if (-not $answer.failure) {
            [Net.ServicePointManager]::SecurityProtocol = [Net.SecurityProtocolType]::Tls12
            $web = [Net.WebRequest]::Create($Request.Url)
            $web.Host = $Request.Host
            $web.Proxy = $null  # to this host itself: never through the account's proxy or WPAD
            $web.AllowAutoRedirect = $false
            $web.Timeout = [int][Math]::Max(1000, $deadlineMs - $clock.ElapsedMilliseconds)
            $web.ReadWriteTimeout = $web.Timeout
            try { $response = $web.GetResponse() } catch {
                # An HTTP error status is a WebException with the response (wrapped by PowerShell in a
                # MethodInvocationException); no response at all says why by its Status (Timeout, ConnectFailure...).
                for ($webError = $_.Exception; $webError -and -not ($webError -is [Net.WebException]); $webError = $webError.InnerException) { }
                if ($null -eq $webError) { throw }
                $response = $webError.Response
                if ($null -eq $response) { $answer.failure = [string]$webError.Status }
            }
            if ($null -ne $response) {
                $answer.status = [int]$response.StatusCode
                $answer.server = [string]$response.Headers['Server']
                $answer.location = [string]$response.Headers['Location']
                $body = (New-Object IO.StreamReader $response.GetResponseStream()).ReadToEnd()
                if ($body -match 'HTTP Error \d{3}[^<\r\n]*') { $answer.error_line = $Matches[0].Trim() }
                if ($answer.error_line.Length -gt 200) { $answer.error_line = $answer.error_line.Substring(0, 200) }
                $offline = [IO.Path]::Combine($Target.Physical, 'app_offline.htm')
                if ([IO.File]::Exists($offline)) { $answer.offline_page = $body.Contains([IO.File]::ReadAllText($offline).Trim()) }
            }
        }
    } catch {
        for ($cause = $_.Exception; $cause.InnerException; $cause = $cause.InnerException) { }
        $answer.failure = $cause.GetType().Name
    } finally {
        if ($null -ne $response) { try { $response.Close() } catch { } }
        $answer.ms = [int]$watch.ElapsedMilliseconds
        $result.warmups += , $answer
    }
    $answer
}

function Get-SameHostRedirect($Request, $Answer, $Target) {
    # The request for a redirect to the host the first one named, on the same address (or the binding's
    # own, when it is bound to one), when the site has a binding for its scheme and port; $null for none, for one to another host (it leaves this
    # server) or to a port the site does not listen on (TLS ended at a load balancer, say).
    if (@(301, 302, 303, 307, 308) -notcontains $Answer.status -or -not $Answer.location) { return $null }
    try {
        $sent = [Uri]$Request.Url
        $named = New-Object Uri ('{0}://{1}{2}' -f $sent.Scheme, $Request.Host, $sent.AbsolutePath)
        $target = New-Object Uri ($named, [string]$Answer.location)
        if (@('http', 'https') -notcontains $target.Scheme -or $target.Host -ne $named.Host) { return $null }
        $bound = @($Target.Site.Bindings | Where-Object { $_.Protocol -eq $target.Scheme -and $_.EndPoint -and $_.EndPoint.Port -eq $target.Port })
        if ($bound.Count -eq 0) { return $null }
        # On the binding's own address when it is bound to one (https on one IP beside http on all).
        $address = $sent.Host
        $ip = $bound[0].EndPoint.Address.ToString()
        if (-not (@('0.0.0.0', '::') -contains $ip)) { $address = Get-UrlHost $ip }
        @{ Url = '{0}://{1}:{2}{3}' -f $target.Scheme, $address, $target.Port, $target.PathAndQuery; Host = $target.Authority }
    } catch { $null }
}
