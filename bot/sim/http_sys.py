"""Requests to a simulated IIS server, routed as HTTP.sys routes them (docs/iis-behaviour.md).

HTTP.sys picks the site by the binding's port and Host header (a binding without a host name takes
any), and answers some requests itself, with `Server: Microsoft-HTTPAPI/2.0`: 400 Invalid Hostname
when no binding matches, 503 when the site's pool is stopped, 404 when the site is stopped. The
site's application with the longest matching path then serves it: a worker is started if none
serves (on-demand start, queued as HTTP.sys queues it), the AppDomain (or the ASP.NET Core child
process) is created on the first request, which takes the configured cold start.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

from bot.sim.iis import OUT_OF_PROCESS, STARTED, App, Binding, IisServer, IisSite
from bot.sim.network import LOOPBACK, OFFLINE_PAGE, host_name_of
from bot.sim.processes import Worker

__all__ = ["HTTP_API", "OFFLINE_PAGE", "HttpAnswer", "http_sys_page", "route", "serve"]

HTTP_API = "Microsoft-HTTPAPI/2.0"


def http_sys_page(title: str, line: str) -> str:
    """HTTP.sys' own error page, as it sends it (docs/iis-behaviour.md)."""
    return ('<!DOCTYPE HTML PUBLIC "-//W3C//DTD HTML 4.01//EN""http://www.w3.org/TR/html4/strict.dtd">\r\n'
            f'<HTML><HEAD><TITLE>{title}</TITLE>\r\n'
            '<META HTTP-EQUIV="Content-Type" Content="text/html; charset=us-ascii"></HEAD>\r\n'
            f'<BODY><h2>{title}</h2>\r\n<hr><p>{line}</p>\r\n</BODY></HTML>\r\n')


INVALID_HOSTNAME = http_sys_page("Bad Request - Invalid Hostname", "HTTP Error 400. The request hostname is invalid.")
NOT_FOUND = http_sys_page("Not Found", "HTTP Error 404. The requested resource is not found.")
UNAVAILABLE = http_sys_page("Service Unavailable", "HTTP Error 503. The service is unavailable.")


@dataclass(frozen=True)
class HttpAnswer:
    status: int
    body: str
    server: str = HTTP_API
    location: str = ""


def route(iis: IisServer, port: int, host_header: str | None, path: str,
          local_address: str = LOOPBACK) -> tuple[IisSite, App] | None:
    """The site whose binding matches the address the request came in on, its port and its Host
    header (an exact host name first, then an IIS 10 wildcard host name `*.example.com`, then a
    binding without one; a binding to that very address before one to all addresses), and its
    application with the longest prefix of `path`."""
    name = host_name_of(host_header or "").lower()

    def on(b: Binding) -> int:  # 2: bound to this address, 1: to every address, 0: not here
        return 0 if b.port != port else 2 if b.ip == local_address else 1 if b.ip in ("*", "") else 0

    def found(matches: Callable[[Binding], bool]) -> list[IisSite]:
        ranked = [(max((on(b) for b in s.bindings if matches(b)), default=0), s) for s in iis.sites.values()]
        return [s for rank, s in sorted(ranked, key=lambda pair: -pair[0]) if rank]

    sites = (found(lambda b: b.host.lower() == name and bool(name))
             or found(lambda b: b.host.startswith("*.") and name.endswith(b.host[1:].lower()))
             or found(lambda b: not b.host))
    if not sites:
        return None
    site = sites[0]
    best: App | None = None
    for app in site.apps.values():
        prefix = app.path.rstrip("/") + "/"
        if (path == app.path or path.startswith(prefix) or app.path == "/") and (
            best is None or len(app.path) > len(best.path)
        ):
            best = app
    return (site, best) if best is not None else None


def serve(
    iis: IisServer, port: int, path: str, host_header: str | None, stop: threading.Event | None = None,
    local_address: str = LOOPBACK,
) -> HttpAnswer:
    """Serve one request (bounded by the timing's request timeout)."""
    deadline = time.monotonic() + iis.timing.request_timeout_s
    worker: Worker | None = None
    pause = stop or threading.Event()
    while True:
        with iis.lock:
            iis.tick()
            now = time.monotonic()
            routed = route(iis, port, host_header, path, local_address)
            if routed is None:
                return _http_sys(iis, 400, INVALID_HOSTNAME)
            site, app = routed
            if not iis.was_running or site.state != STARTED:
                return _http_sys(iis, 404, NOT_FOUND)
            pool = iis.pool_of(app)
            if pool.state != STARTED:
                return _http_sys(iis, 503, UNAVAILABLE)
            if app.app_offline:
                return HttpAnswer(503, OFFLINE_PAGE, server=_iis_server(iis))
            if worker is None or not worker.alive(now):
                worker = next((w for w in reversed(pool.alive(now)) if not w.retiring), None)
            overlap = iis.old_worker_serves_overlap and not pool.disallow_overlapping_rotation
            if overlap and (worker is None or worker.ready_at > now):
                old = next((w for w in pool.alive(now) if w.retiring and not w.hung), None)
                if old is not None:  # overlap: the old worker, still warm, answers until the new one is ready
                    return HttpAnswer(200, f"pid={old.pid} appdomain=(old worker)", server=_iis_server(iis))
            if worker is None:
                in_gap = pool.disallow_overlapping_rotation and any(w.retiring for w in pool.alive(now))
                if not in_gap:
                    worker = iis.spawn(pool, now)
            ready_in = iis.timing.poll_s
            if worker is not None and worker.ready_at <= now and not worker.hung:  # a hung one never answers
                native = native_redirect(iis, site, app, path, port)
                if native:  # answered in the worker by a native module: ASP.NET never runs
                    return HttpAnswer(301, "Moved Permanently", server=_iis_server(iis), location=native)
                _load_app(iis, site, app, worker, now)
                if app.ready_at <= now:
                    if app.failing_requests > 0:
                        app.failing_requests -= 1
                        return HttpAnswer(500, "Internal Server Error", server=_iis_server(iis))
                    if app.redirect_to:
                        return HttpAnswer(301, "Moved", server=_iis_server(iis), location=app.redirect_to)
                    owner = app.child.pid if app.child is not None else worker.pid
                    appdomain = app.appdomain.id if app.appdomain else "-"
                    answer = HttpAnswer(200, f"pid={owner} appdomain={appdomain}", server=_iis_server(iis))
                    if app.answer_delay_s <= 0:
                        return answer
                    break  # a slow app: it answers after its delay, waited outside the lock
                ready_in = app.ready_at - now
            elif worker is not None and not worker.hung:
                ready_in = worker.ready_at - now
        if time.monotonic() >= deadline:
            return HttpAnswer(503, "Service Unavailable", server=_iis_server(iis))
        # Look again at the poll interval, or at a quarter of a long wait (a compile of seconds):
        # fifty hosts compiling at once would otherwise spend the simulator's CPU on looking.
        if pause.wait(max(0.001, min(max(iis.timing.poll_s, ready_in / 4), ready_in))) and stop is not None:
            return HttpAnswer(503, "server stopping")
    if pause.wait(min(app.answer_delay_s, max(0.0, deadline - time.monotonic()))) and stop is not None:
        return HttpAnswer(503, "server stopping")
    return answer


def native_redirect(iis: IisServer, site: IisSite, app: App, path: str, port: int) -> str:
    """The Location a native module answers `path` with, or "": the site's own redirects (one to
    https answers http requests only, as HSTS' redirectHttpToHttps and an "HTTPS off" rewrite rule
    do), and IIS's courtesy redirect of an application's path without its trailing slash."""
    location = site.native_redirects.get(path, "")
    if location and not (port == iis.https_port and location.startswith("https:")):
        return location
    if iis.courtesy_redirects and app.path != "/" and path == app.path.rstrip("/"):
        return path + "/"
    return ""


def _load_app(iis: IisServer, site: IisSite, app: App, worker: Worker, now: float) -> None:
    """The first request of an app in a worker: a new AppDomain (CLR) or dotnet.exe child (ANCM out
    of process), which then takes the cold start to answer."""
    pool = iis.pool_of(app)
    if app.hosting_model == OUT_OF_PROCESS:
        if app.child is None or app.child_of not in pool.pids(now):
            iis.start_child(app, worker, now)
    elif app.aspnet_core:
        if app.ready_at < worker.ready_at:  # in process: the app starts with its worker
            app.ready_at = now + iis.timing.cold_start_s
    elif pool.managed_runtime and (app.appdomain is None or app.appdomain.worker_pid not in pool.pids(now)):
        iis.new_appdomain(site, app, worker)
        app.ready_at = now + iis.timing.cold_start_s


def _http_sys(iis: IisServer, status: int, page: str) -> HttpAnswer:
    """An answer HTTP.sys gives itself: its Server header unless DisableServerHeader hides it."""
    return HttpAnswer(status, page, server="" if iis.http_sys_hides_server_header else HTTP_API)


def _iis_server(iis: IisServer) -> str:
    return f"Microsoft-IIS/{iis.iis_major_version}.0"
