"""Block Kit for the replies only the asker sees (ephemeral): a plan, status, the site list, help,
a refusal with its narrower alternative, an error with its incident id, and the short note that a
request was recorded. Rendered from the core's views by their `kind`."""

from __future__ import annotations

from typing import Any

from bot.slack.blocks import Rendered, context, mention, render_plan_lines, section, state_text


def render_reply(view: Any) -> Rendered:
    kind = getattr(view, "kind", None)
    render = _BY_KIND.get(str(kind), _fallback)
    return render(view)


def _plan(view: Any) -> Rendered:
    decision = view.decision
    head = f"*Plan for {view.site}* ({view.environment}): *{view.rung}* ({view.method}) · nothing was run"
    lines = render_plan_lines(view)
    verdict = {"allow": ":white_check_mark: allowed", "needs_approval": ":hourglass: needs approval",
               "refuse": ":no_entry: refused"}.get(str(decision.outcome), str(decision.outcome))
    verdict += f" ({decision.rule})"
    if decision.outcome == "needs_approval":
        verdict += " from " + (", ".join(mention(p) for p in decision.approvers) or "nobody")
    reasons = "\n".join(f"– {r}" for r in decision.reasons)
    if decision.alternative:
        reasons += f"\nNarrower and allowed: *{decision.alternative}*"
    return Rendered(f"{view.site}: {view.rung} ({decision.outcome})",
                    [section(head), section("\n".join(lines)), section(f"{verdict}\n{reasons}")])


def _refusal(view: Any) -> Rendered:
    reasons = "\n".join(f"– {r}" for r in view.reasons)
    lines = [f":no_entry: *Refused: {view.what}*", reasons]
    if view.alternative:
        lines.append(f"Narrower: *{view.alternative}*")
    if getattr(view, "suggestion", None):
        lines.append(str(view.suggestion))
    return Rendered(f"Refused: {view.what}", [section("\n".join(lines))])


def _error(view: Any) -> Rendered:
    text = f":warning: {view.message}"
    blocks = [section(text)]
    if getattr(view, "incident", None):
        blocks.append(context(f"incident `{view.incident}`: the bot's log has the details"))
    return Rendered(str(view.message), blocks)


def _request(view: Any) -> Rendered:
    """Shown to the asker beside the channel message (or instead of one, when it was refused)."""
    state = str(view.state)
    if state == "refused":
        reasons = view.plan.decision.reasons if view.plan is not None else ()
        alternative = view.plan.decision.alternative if view.plan is not None else None
        lines = [f":no_entry: *{view.site}: {view.rung} refused*", *(f"– {r}" for r in reasons)]
        if alternative:
            lines.append(f"Narrower and allowed: *{alternative}*: `/recycle {view.site} --scope {alternative}`")
        return Rendered(f"{view.site}: refused", [section("\n".join(lines))])
    text = f"`{view.id}` {view.site}: {view.rung} restart is {state_text(state)}"
    if view.message:
        text += f": {view.message}"
    return Rendered(text, [section(text)])


def _status(view: Any) -> Rendered:
    lines = [f"*{view.site}*: status, read-only"]
    for host in view.hosts:
        lines.append(_status_line(host))
    return Rendered(f"{view.site} status", [section("\n".join(lines))])


def _status_line(host: Any) -> str:
    data = host.model_dump() if hasattr(host, "model_dump") else dict(vars(host))
    name = data.pop("host", "?")
    shown = " · ".join(f"{k.replace('_', ' ')} {v}" for k, v in data.items() if v not in (None, [], "", {}))
    return f"• *{name}* {shown}"


def _sites(view: Any) -> Rendered:
    sites = getattr(view, "sites", [])
    lines = []
    for site in sites:
        data = site.model_dump() if hasattr(site, "model_dump") else dict(vars(site))
        name = data.pop("name", data.pop("site", "?"))
        lines.append(f"• *{name}* " + " · ".join(f"{v}" for v in data.values() if v not in (None, [], "")))
    return Rendered("sites", [section("\n".join(lines) or "No sites in the inventory.")])


def _help(view: Any) -> Rendered:
    text = getattr(view, "text", None) or "\n".join(str(line) for line in getattr(view, "lines", []))
    return Rendered("help", [section(text or "Nothing you may do here: ask for a [[rules]] entry.")])


def _fallback(view: Any) -> Rendered:
    return Rendered(str(getattr(view, "message", view)), [section(str(getattr(view, "message", view)))])


_BY_KIND = {
    "plan": _plan,
    "refusal": _refusal,
    "error": _error,
    "request": _request,
    "status": _status,
    "sites": _sites,
    "site_list": _sites,
    "help": _help,
}
