"""Nothing injected, nothing cut: text that did not come through Slack's own escaping shows as
text (no `<!channel>` ping, no fake link), and every message keeps to Block Kit's limits without
cutting a word silently. slack_sdk's own Block Kit models (which know Slack's limits) check the
result, alongside the fake Slack's checks in the HTTP tests."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from fake_slack import block_errors
from slack_sdk.models.blocks import Block

from bot.app.deploy import assess, read_notice
from bot.app.views import HostResultView, RequestView, StatusView
from bot.slack.blocks import render_request
from bot.slack.deploy_notice import render_notice
from bot.slack.mrkdwn import chunks, escape, web_url
from bot.slack.replies import render_reply
from commands.limits import LimitExceeded
from commands.model import Deny, RestartRequest
from policies.files import load_inventory, load_policy

EXAMPLES = Path(__file__).resolve().parents[3] / "examples"
NOW = datetime(2026, 12, 2, 17, 0, tzinfo=UTC)
HOSTILE = "<!channel> <@U0BOSS> <https://evil.example|Approve here> & <#C0GENERAL>"
RAW_TOKENS = ("<!channel>", "<@U0BOSS>", "<https://evil.example", "<#C0GENERAL>")


def _request(**fields: object) -> RequestView:
    base: dict[str, object] = dict(id="r-abc123", state="failed", site="shop-web", rung="worker",
                                   targets=["web01"], pool="ShopPool", requester="mcp:claude",
                                   requester_display="claude", origin="mcp", reason=HOSTILE,
                                   created_at=NOW, updated_at=NOW, expires_at=NOW + timedelta(minutes=15),
                                   approvals_needed=1, approvers=["U02BOB"], deny_reason=HOSTILE, error=HOSTILE,
                                   next_step=HOSTILE)
    base.update(fields)
    return RequestView.model_validate(base)


def _shown(rendered: object) -> str:
    """Every text a reader sees (not a button's value, which Slack never shows)."""
    texts = [rendered.text]  # type: ignore[attr-defined]
    for block in rendered.blocks:  # type: ignore[attr-defined]
        if block["type"] == "section":
            texts.append(block["text"]["text"])
        for element in block.get("elements", []):
            texts.append(element["text"]["text"] if isinstance(element.get("text"), dict) else element.get("text", ""))
    return "\n".join(texts)


def _valid(blocks: list[dict[str, object]]) -> None:
    assert len(blocks) <= 50
    assert block_errors(blocks) == []
    for block in blocks:
        Block.parse(block).validate_json()  # type: ignore[union-attr]  # raises past a limit


def test_reasons_errors_and_deny_reasons_from_outside_slack_show_as_text():
    rendered = render_request(_request(state="denied", hosts=[HostResultView(
        host="web01", rung="worker", method="kill", outcome="failed", error=HOSTILE)]))
    seen = _shown(rendered)
    assert not any(token in seen for token in RAW_TOKENS)
    assert "&lt;!channel&gt;" in seen and "&amp;" in seen
    _valid(rendered.blocks)


def test_a_deploy_notice_escapes_who_and_what_and_drops_a_pipeline_url_that_is_not_a_plain_web_link():
    inventory, policy = load_inventory(EXAMPLES / "inventory.toml"), load_policy(EXAMPLES / "policy.toml")
    notice = read_notice(json.dumps({
        "site": "shop-web", "version": "<!here> 1.2", "changed_files": ["bin/<@U0BOSS>.dll"],
        "deployed_by": HOSTILE, "pipeline_url": "https://ci.example/run/1|Approve_here>"}).encode())
    rendered = render_notice(assess(notice, inventory, policy))
    seen = _shown(rendered)
    assert not any(token in seen for token in (*RAW_TOKENS, "<!here>", "Approve_here>"))
    assert "pipeline" not in seen.lower().replace("pipelines", "")  # dropped, not linked
    good = read_notice(json.dumps({"site": "shop-web", "version": "1.2", "changed_files": ["web.config"],
                                   "pipeline_url": "https://ci.example/run/1"}).encode())
    assert "<https://ci.example/run/1|pipeline>" in json.dumps(render_notice(assess(good, inventory, policy)).blocks)


@pytest.mark.parametrize("url", ["javascript:alert(1)", "ftp://x/y", "https://x/<!channel>", "https://x/a|b",
                                 "https://", "http://x/\u0007"])
def test_only_plain_web_urls_become_links(url):
    assert web_url(url) is None


def test_a_reason_with_a_newline_or_control_character_is_refused_at_the_edge():
    with pytest.raises(LimitExceeded, match="newline or control character"):
        RestartRequest(site="shop-web", note="hung\n<!channel> approve now")
    with pytest.raises(LimitExceeded, match="newline or control character"):
        Deny("r-abc123", "no\x1b[31m")


def test_three_hundred_hosts_continue_in_sections_and_end_with_and_n_more_with_the_rest_kept():
    hosts = [HostResultView(host=f"web{i:03d}", rung="apppool", method="recycle", outcome="failed",
                            pids_before=[4000 + i], pids_after=[], duration_ms=1500, error="x" * 700)
             for i in range(300)]
    rendered = render_request(_request(state="failed", reason="hung", hosts=hosts, error=None, next_step="retry"))
    _valid(rendered.blocks)
    shown = _shown(rendered)
    more = re.search(r"…and (\d+) more lines, in the thread", shown)
    assert more is not None and rendered.overflow
    assert int(more.group(1)) == sum(t.count("\n") + 1 for t in rendered.overflow)
    everything = shown + "\n".join(rendered.overflow)
    assert all(f"web{i:03d}" in everything for i in range(300))  # nothing lost
    assert "Next: retry" in json.dumps(rendered.blocks[-2])  # what to do next stays at the end
    assert rendered.blocks[-1]["type"] == "actions"  # with the buttons


def test_a_long_status_or_help_continues_in_further_sections():
    status = StatusView(site="shop-web", hosts=[{"host": f"web{i:03d}", "ok": False, "error": "e" * 200}
                                                for i in range(60)])
    rendered = render_reply(status)
    _valid(rendered.blocks)
    assert len([b for b in rendered.blocks if b["type"] == "section"]) >= 5
    assert all(f"web{i:03d}" in json.dumps(rendered.blocks) for i in range(60))


def test_a_long_line_is_never_cut_inside_a_token_or_an_entity():
    line = " ".join(["<@U0123ABCD>", escape("a&b<c>")] * 400)
    pieces = chunks(line, 3000)
    assert "".join(pieces) == line
    for piece in pieces:
        assert len(piece) <= 3000
        assert piece.count("<") == piece.count(">")  # every token whole
        assert not re.search(r"&(a|am|l|g|amp|lt|gt)?$", piece)  # no entity cut in two


def test_next_steps_name_the_chat_command_not_the_clis():
    rendered = render_request(_request(
        state="partially_failed", reason="hung", error=None,
        next_step="fix the failed host, then resume the rollout with `recycle shop-web --scope apppool --from web03`; "
                  "`aspreset status shop-web` shows where the hosts stand"))
    shown = _shown(rendered)
    assert "`/recycle shop-web --scope apppool --from web03`" in shown and "`/recycle status shop-web`" in shown
    assert "aspreset status" not in shown
