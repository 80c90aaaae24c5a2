"""The channel notice for a finished deploy: what changed and what follows. Either ASP.NET
restarted the app by itself (the button warms it up and verifies, reporting the evidence and PIDs),
or a narrow restart is still needed (the button runs it). Both buttons send the same changed files
back, so the click is planned and decided by the policy exactly as a typed `/recycle` would be."""

from __future__ import annotations

import json
from typing import Any

from bot.app.deploy import DeployAssessment
from bot.slack.blocks import DEPLOY_RUN, Rendered, button, context, fit, section
from bot.slack.mrkdwn import code, escape, link, web_url
from commands.rungs import Rung

BUTTON_VALUE_MAX = 2000  # Slack's limit on a button's value
BUTTON_BLOCKS = ("deploy:", "deploy-note")  # block_id prefixes of the button and its footnote
RUNG_WORDS = {
    Rung.NONE: "Warm up and verify",
    Rung.APPDOMAIN: "Restart the AppDomain",
    Rung.APPPOOL: "Recycle the app pool",
    Rung.WORKER: "Kill the worker and warm up",
}


def button_value(assessment: DeployAssessment) -> str:
    """site, version and the changed files; if they do not fit, only the files that need the
    plan's rung (they lead the planner to the same rung)."""
    notice, rung = assessment.notice, assessment.rung
    files = list(notice.changed_files)
    value = json.dumps({"site": notice.site, "version": notice.version, "changed": files})
    if len(value) <= BUTTON_VALUE_MAX:
        return value
    deciding = [line.split(": ", 1)[0] for line in assessment.plan.why if line.endswith(f"({rung.value})")]
    kept: list[str] = []
    for path in deciding or files:
        trial = json.dumps({"site": notice.site, "version": notice.version, "changed": [*kept, path]})
        if len(trial) > BUTTON_VALUE_MAX:
            break
        kept.append(path)
    return json.dumps({"site": notice.site, "version": notice.version, "changed": kept})


def read_button_value(value: str) -> tuple[str, tuple[str, ...], str | None]:
    data: dict[str, Any] = json.loads(value)
    return str(data["site"]), tuple(str(p) for p in data.get("changed") or ()), data.get("version")


def render_notice(assessment: DeployAssessment) -> Rendered:
    notice, plan = assessment.notice, assessment.plan
    by = f" by {escape(notice.deployed_by)}" if notice.deployed_by else ""
    url = web_url(notice.pipeline_url)  # an http(s) URL, or nothing
    pipeline = f" ({link(url, 'pipeline')})" if url else ""
    head = (f":package: *{escape(notice.site)}* {escape(notice.version)} deployed to "
            f"{escape(plan.environment)}{by}{pipeline}")
    files = "\n".join(f"• {code(p)}" for p in assessment.shown_files)
    if assessment.more_files:
        files += f"\n• … and {assessment.more_files} more"
    if assessment.restarted_by_itself:
        follows = (":recycle: *ASP.NET restarted the app by itself* for these changes; nothing needs "
                   "restarting. Warm it up and verify to see the new AppDomain and the worker PIDs.")
    else:
        follows = (f":wrench: *Still needed: {plan.rung.value}* ({escape(plan.method)}) on "
                   f"{escape(', '.join(plan.hosts))}: ASP.NET does not pick these changes up by itself.")
    why = "\n".join(f"– {escape(line)}" for line in plan.why)
    blocks = [section(head), section(f"*Changed:*\n{files}"), section(f"{follows}\n{why}")]
    if plan.warnings:
        blocks.append(context(" ".join(f":warning: {escape(w)}" for w in plan.warnings)))
    label = RUNG_WORDS.get(plan.rung, f"Run {plan.rung.value}")
    blocks.append({"type": "actions", "block_id": f"deploy:{notice.site}", "elements": [
        button(label, DEPLOY_RUN, button_value(assessment), None if assessment.restarted_by_itself else "primary")]})
    footnote = context("The button runs under the same policy as `/recycle`: approval where it says so.")
    blocks.append({**footnote, "block_id": "deploy-note"})
    text = (f"{escape(notice.site)} {escape(notice.version)} deployed: "
            + ("ASP.NET restarted the app by itself" if assessment.restarted_by_itself
               else f"{plan.rung.value} restart still needed"))
    return fit(text, blocks)


def without_button(blocks: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The notice as posted minus its button and the line about it: what a retired notice keeps."""
    return [b for b in blocks if not str(b.get("block_id", "")).startswith(BUTTON_BLOCKS)]
