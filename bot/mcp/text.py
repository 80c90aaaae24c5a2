"""The text an assistant reads, made from the same structured content it gets. The request id is
always in it, and a waiting request always says that a person must approve it and where."""

from __future__ import annotations

from typing import Any

Data = dict[str, Any]


def sites(data: Data) -> str:
    lines = [
        f"{s['site']} ({s['environment']}): IIS site {s['iis_site']}{s['app']}, pool {s['pool']}, "
        f"hosts {', '.join(s['hosts'])}"
        for s in data["sites"]
    ]
    return "\n".join(lines) or "No sites in the inventory."


def status(data: Data) -> str:
    lines = [f"Status of {data['site']}:"]
    for host in data["hosts"]:
        if not host.get("ok", True):
            lines.append(f"  {host['host']}: {host.get('error')} [{host.get('error_code')}]")
            continue
        pids = [w["pid"] for w in host.get("workers", [])]
        lines.append(
            f"  {host['host']}: pool {host.get('pool_state')}, worker PIDs {pids or 'none'}, "
            f"AppDomain {host.get('appdomain_id')}" + (", app_offline.htm present" if host.get("app_offline") else "")
        )
    return "\n".join(lines)


def plan(data: Data) -> str:
    lines = [
        f"Plan for {data['site']} ({data['environment']}): {data['rung']} via {data['method']} "
        f"on {', '.join(data['hosts'])}"
    ]
    lines += [f"  why: {why}" for why in data.get("why", [])]
    radius = data.get("blast_radius") or []
    if radius and radius != [data["site"]]:
        lines.append(f"  also restarts: {', '.join(radius)} (they share pool {data['pool']})")
    if data.get("wider_than_needed"):
        lines.append(f"  note: {data['wider_than_needed']}")
    lines += [f"  warning: {w}" for w in data.get("warnings", [])]
    lines.append("  policy: " + decision(data["decision"]))
    return "\n".join(lines)


def decision(data: Data) -> str:
    reasons = "; ".join(data.get("reasons", []))
    if data["outcome"] == "refuse":
        out = f"refused ({data.get('rule')}): {reasons}."
        if data.get("alternative"):
            out += f" The narrower restart that does the job: scope={data['alternative']}."
        return out
    if data["outcome"] == "needs_approval":
        return f"needs {data.get('approvals', 1)} approval(s) by a person ({reasons}); you cannot approve it."
    return f"allowed ({reasons})."


def request(data: Data) -> str:
    state = data["state"]
    rid = data.get("id")
    head = f"request {rid}" if rid else "no request was recorded"
    if state == "awaiting_approval":
        lines = [f"waiting for approval: request {rid} ({data['rung']} restart of {data['site']}); "
                 f"{data.get('next_step') or 'a person must approve it'}. You cannot approve it; "
                 "call get_request to follow it."]
    elif state == "refused" or _refused(data):
        lines = [f"refused: {head} ({data.get('rung')} of {data.get('site')})."]
    else:
        lines = [f"{head}: {state} ({data.get('rung')} restart of {data.get('site')})"]
    if data.get("message"):
        lines.append(f"  {data['message']}")
    the_decision = (data.get("plan") or {}).get("decision") or data.get("decision")
    if the_decision and "outcome" in the_decision:
        lines.append("  policy: " + decision(the_decision))
    lines += [host(h) for h in data.get("hosts", [])]
    return "\n".join(lines)


def requests(data: Data) -> str:
    lines = [
        f"{r['id']}  {r['state']}  {r['site']}  {r['rung']}  asked by {r.get('requester')}" for r in data["requests"]
    ]
    return "\n".join(lines) or "No requests."


def host(data: Data) -> str:
    if data.get("outcome") != "succeeded":
        return f"  {data['host']}: FAILED {data.get('error')} [{data.get('error_code')}]"
    out = f"  {data['host']}: ok, {data.get('method')}, worker PIDs {data.get('pids_before')} -> "
    out += f"{data.get('pids_after')}"
    if data.get("appdomain_before") or data.get("appdomain_after"):
        out += f", AppDomain {data.get('appdomain_before')} -> {data.get('appdomain_after')}"
    if data.get("warmup_status"):
        out += f", warm-up HTTP {data['warmup_status']} in {data.get('warmup_ms')} ms"
    return out


def _refused(data: Data) -> bool:
    the_decision = (data.get("plan") or {}).get("decision") or data.get("decision") or {}
    return the_decision.get("outcome") == "refuse"
