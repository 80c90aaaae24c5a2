"""What a probe sends to a host: the warm-up's own request (the site's warm-up URL or path, or the
watch's `path` in its place) bounded by the watch's timeout, as one `probe` operation."""

from __future__ import annotations

import urllib.parse

from bot.app.results import OperationParams
from policies.inventory import Host, Site
from policies.watch import Watch


def probe_params(site: Site, host: Host, watch: Watch) -> OperationParams:
    path = watch.path or site.warmup_path
    url = ""
    if site.warmup_url:
        url = site.warmup_url
        if watch.path:  # the watch's path on the warm-up URL's host name
            url = urllib.parse.urlsplit(url)._replace(path=watch.path, query="").geturl()
    elif host.warmup_base_url:
        url = host.warmup_base_url.rstrip("/") + path
    return OperationParams(
        op="probe",
        iis_site=site.iis_site,
        app_path=site.app,
        pool=site.pool,
        warmup_url=url,
        warmup_path=path,
        timeout_s=watch.timeout_s,
    )
