"""Where the warm-up goes on the host's own network (docs/iis-behaviour.md, "https warm-ups" and
"HTTP.sys' IP listen list"): the operation runs through real WinRM against the farm, whose hosts
have their own addresses, an HTTP.sys listen list, IPv6 and https bindings (bot.sim.network), and
bot.app.verification judges what the warm-up saw."""

from __future__ import annotations

from restart_results import restart_of, verdict_of

from bot.sim.iis import Binding
from bot.sim.network import LAB_ADDRESS


def _only(farm, host: str, site: str, *bindings: Binding) -> None:
    farm.host(host).iis.sites[site].bindings[:] = list(bindings)


# ---- HTTP.sys' IP listen list --------------------------------------------------------------------


def test_with_loopback_left_out_of_the_listen_list_the_warm_up_goes_to_a_listed_address(farm, executor, call):
    iis = farm.host("web01").iis
    iis.network.ip_listen_list = [LAB_ADDRESS]  # netsh http add iplisten 192.0.2.10: 127.0.0.1 refused
    refused = farm.host("web01").get_from_host(f"http://127.0.0.1:{iis.http_port}/", "shop-1.sim", 2)
    assert refused.failure == "ConnectFailure"

    r = restart_of(executor.run(*call("shop-web", "web01", "apppool")))

    assert r.warmups[-1].url.startswith(f"http://{LAB_ADDRESS}:{iis.http_port}/") and r.warmups[-1].status == 200
    verdict = verdict_of(r)
    assert verdict.error_code is None and "app_answered" in verdict.evidence


def test_a_binding_to_one_address_is_warmed_up_on_that_address_with_its_host_name(farm, executor, call):
    iis = farm.host("web01").iis
    _only(farm, "web01", "Shop", Binding("http", LAB_ADDRESS, iis.http_port, "shop.example.com"))
    iis.network.ip_listen_list = [LAB_ADDRESS]

    r = restart_of(executor.run(*call("shop-web", "web01", "appdomain", warmup_url="")))

    assert r.warmups[-1].url == f"http://{LAB_ADDRESS}:{iis.http_port}/"
    assert r.warmups[-1].host_header == f"shop.example.com:{iis.http_port}" and r.warmups[-1].status == 200
    assert "app_answered" in verdict_of(r).evidence


def test_an_ipv6_binding_is_warmed_up_on_its_bracketed_address(farm, executor, call):
    iis = farm.host("web01").iis
    _only(farm, "web01", "Shop", Binding("http", "::1", iis.http_port, ""))

    r = restart_of(executor.run(*call("shop-web", "web01", "worker", warmup_url="")))

    assert r.warmups[-1].url == f"http://[::1]:{iis.http_port}/"
    assert r.warmups[-1].host_header == f"[::1]:{iis.http_port}" and r.warmups[-1].status == 200
    verdict = verdict_of(r)
    assert verdict.error_code is None and {"new_worker", "app_answered"} <= set(verdict.evidence)


# ---- https ---------------------------------------------------------------------------------------


def test_a_native_redirect_to_https_on_the_same_host_is_followed_and_the_app_answers_over_tls(farm, executor, call):
    iis = farm.host("web01").iis
    name = "shop.example.com"
    _only(farm, "web01", "Shop", Binding("http", "*", iis.http_port, name), Binding("https", "*", iis.https_port, name))
    iis.sites["Shop"].native_redirects["/"] = f"https://{name}:{iis.https_port}/"  # HSTS redirectHttpToHttps

    r = restart_of(executor.run(*call("shop-web", "web01", "apppool", warmup_url=f"http://{name}:{iis.http_port}/")))

    first, followed = r.warmups[-2], r.warmups[-1]
    assert first.status == 301 and first.url.startswith("http://127.0.0.1:")
    assert followed.url == f"https://127.0.0.1:{iis.https_port}/" and followed.host_header == f"{name}:{iis.https_port}"
    assert followed.status == 200 and not followed.failure  # TLS with SNI shop.example.com, validated against it
    verdict = verdict_of(r)
    assert verdict.error_code is None and {"new_worker", "app_answered"} <= set(verdict.evidence)


def test_a_redirect_to_an_https_binding_on_one_address_is_followed_to_that_address(farm, executor, call):
    iis = farm.host("web01").iis
    name = "shop.example.com"
    _only(farm, "web01", "Shop", Binding("http", "*", iis.http_port, name),
          Binding("https", LAB_ADDRESS, iis.https_port, name))
    iis.sites["Shop"].native_redirects["/"] = f"https://{name}:{iis.https_port}/"

    r = restart_of(executor.run(*call("shop-web", "web01", "appdomain", warmup_url=f"http://{name}:{iis.http_port}/")))

    assert r.warmups[-2].status == 301 and r.warmups[-2].url.startswith("http://127.0.0.1:")
    assert r.warmups[-1].url == f"https://{LAB_ADDRESS}:{iis.https_port}/" and r.warmups[-1].status == 200
    assert "app_answered" in verdict_of(r).evidence


def test_without_a_warmup_url_an_https_binding_with_a_host_name_is_used(farm, executor, call):
    iis = farm.host("web01").iis
    _only(farm, "web01", "Shop", Binding("http", "*", iis.http_port, ""),
          Binding("https", "*", iis.https_port, "*.example.com"))

    r = restart_of(executor.run(*call("shop-web", "web01", "appdomain", warmup_url="")))

    answer = r.warmups[-1]
    assert answer.url.startswith("https://") and answer.host_header == f"aspreset-warmup.example.com:{iis.https_port}"
    assert answer.status == 200 and "app_answered" in verdict_of(r).evidence


def test_an_https_binding_without_a_host_name_fails_certificate_validation_and_says_so_as_a_note(
    farm, executor, call
):
    iis = farm.host("web01").iis
    _only(farm, "web01", "Shop", Binding("https", "*", iis.https_port, ""))

    r = restart_of(executor.run(*call("shop-web", "web01", "apppool", warmup_url="", timeout_s=2)))

    assert {w.failure for w in r.warmups} == {"TrustFailure"}  # no certificate names 127.0.0.1
    verdict = verdict_of(r)
    assert "app_answered" not in verdict.evidence
    assert any("could not validate the certificate" in note for note in verdict.notes)
