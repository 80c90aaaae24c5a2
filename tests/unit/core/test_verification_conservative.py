"""The judge's rules for what a real server shows but cannot prove (docs/iis-behaviour.md): an
answer that may have come from the old worker, a redirect answered before the app ran, HTTP.sys
answering without its Server header, a machine-wide counter moved by another app."""

from __future__ import annotations

from bot.app.results import Observation, RestartResult, WarmupAnswer, WorkerProcess
from bot.app.verification import judge
from commands.rungs import Rung

OLD = WorkerProcess(pid=4000, started_at="2026-01-01T10:00:00.000000Z")
NEW = WorkerProcess(pid=4004, started_at="2026-01-01T10:05:00.000000Z")


def answer(status: int = 200, server: str = "Microsoft-IIS/10.0", seen: list[WorkerProcess] | None = None,
           **fields) -> WarmupAnswer:
    return WarmupAnswer(url="http://127.0.0.1:80/", host_header="shop.example.com", status=status, server=server,
                        workers_seen=seen, **fields)


def recycled(*warmups: WarmupAnswer) -> RestartResult:
    return RestartResult(ok=True, op="apppool", method="recycle",
                         before=Observation(pool_state="Started", workers=[OLD]),
                         after=Observation(pool_state="Started", workers=[NEW]), warmups=list(warmups),
                         wait_ended="condition")


def test_an_answer_sent_while_the_old_worker_still_ran_does_not_show_the_new_worker_answers():
    verdict = judge(Rung.APPPOOL, "P", recycled(answer(seen=[OLD, NEW])))
    assert verdict.error_code == "not_verified" and "4000" in (verdict.error or "")


def test_an_answer_sent_once_only_the_new_worker_ran_shows_it_answers():
    verdict = judge(Rung.APPPOOL, "P", recycled(answer(seen=[OLD, NEW]), answer(seen=[NEW])))
    assert verdict.error_code is None and {"new_worker", "app_answered"} <= set(verdict.evidence)


def test_http_sys_without_its_server_header_is_told_by_its_fixed_line_and_an_iis_page_is_not_mistaken_for_it():
    http_sys = answer(404, server="", seen=[NEW], error_line="HTTP Error 404. The requested resource is not found.")
    verdict = judge(Rung.APPPOOL, "P", recycled(http_sys))
    assert verdict.error_code == "warmup_failed" and "HTTP.sys answered" in (verdict.error or "")
    from_iis = answer(404, server="", seen=[NEW], error_line="HTTP Error 404.0 - Not Found")
    assert judge(Rung.APPPOOL, "P", recycled(from_iis)).error_code is None


def test_an_https_warm_up_to_a_binding_without_a_host_name_that_fails_validation_is_a_note_not_a_failure():
    nameless = WarmupAnswer(url="https://127.0.0.1:443/", host_header="127.0.0.1", failure="TrustFailure",
                            workers_seen=[NEW])
    verdict = judge(Rung.APPPOOL, "P", recycled(nameless))
    assert verdict.error_code is None and "app_answered" not in verdict.evidence
    assert any("certificate" in note for note in verdict.notes)
    named = nameless.model_copy(update={"host_header": "shop.example.com"})
    assert judge(Rung.APPPOOL, "P", recycled(named)).error_code == "warmup_failed"
