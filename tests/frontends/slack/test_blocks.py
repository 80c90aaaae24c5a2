"""Block Kit rendered from the core's views stays within Slack's limits and says who, what, when."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from bot.app.views import ApprovalView, HostResultView, RequestView
from bot.slack.blocks import APPROVE, CANCEL, DENY, render_request

NOW = datetime(2026, 12, 2, 17, 0, tzinfo=UTC)


def _request(**fields: object) -> RequestView:
    base: dict[str, object] = dict(id="r-abc123", state="awaiting_approval", site="shop-web", rung="worker",
                                   targets=["web01", "web02"], pool="ShopPool", requester="U01ALICE",
                                   requester_display="alice (U01ALICE)", origin="slack:C0SHOP", reason="hung",
                                   created_at=NOW, updated_at=NOW, expires_at=NOW + timedelta(minutes=15),
                                   approvals_needed=1, approvers=["U02BOB", "S0LEADS"])
    base.update(fields)
    return RequestView.model_validate(base)


def test_a_waiting_request_has_approve_and_deny_and_names_its_approvers_and_expiry():
    rendered = render_request(_request())
    [actions] = [b for b in rendered.blocks if b["type"] == "actions"]
    assert [e["action_id"] for e in actions["elements"]] == [APPROVE, DENY, CANCEL]
    text = str(rendered.blocks)
    assert "<@U02BOB>" in text and "<!subteam^S0LEADS>" in text
    assert f"<!date^{int((NOW + timedelta(minutes=15)).timestamp())}^" in text


def test_a_finished_request_has_no_buttons_and_shows_who_approved():
    view = _request(state="succeeded", approvals=[ApprovalView(approver="U02BOB", display="bob", at=NOW)])
    rendered = render_request(view)
    assert not any(b["type"] == "actions" for b in rendered.blocks)
    assert "Approved by <@U02BOB>" in str(rendered.blocks)


def test_forty_hosts_fit_slacks_limits():
    hosts = [HostResultView(host=f"web{i:02d}", rung="apppool", method="recycle", outcome="succeeded",
                            pids_before=[4000 + i], pids_after=[5000 + i], warmup_status=200, warmup_ms=80,
                            duration_ms=1500) for i in range(40)]
    rendered = render_request(_request(state="succeeded", rung="apppool", hosts=hosts))
    assert len(rendered.blocks) <= 50
    sections = [b["text"]["text"] for b in rendered.blocks if b["type"] == "section"]
    assert all(len(text) <= 3000 for text in sections)
    assert all(f"web{i:02d}" in "".join(sections) for i in range(40))
    assert "PIDs 4039 → 5039" in "".join(sections)
