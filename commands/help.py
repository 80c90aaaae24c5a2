"""Help text shown by `/recycle help` (and `/help` in the chat console). Chat replies name chat
commands only: nothing here asks a person in chat to open a shell."""

from __future__ import annotations

from commands.rungs import rungs_help

OVERVIEW = """\
*aspreset* restarts as little as the job needs; IISRESET is never one of the options.
  /recycle SITE [--changed PATH ...] [--reason REASON] [--note TEXT] [--scope RUNG] [--host HOST ... | --from HOST]
    [--dry-run]
  /recycle plan SITE ...      show what would run and whether it needs approval
  /recycle status SITE        worker PIDs, pool state and AppDomain per host
  /recycle approve ID         approve someone else's request
  /recycle deny ID [--reason TEXT]
  /recycle sites              the sites you can name
  /recycle requests [SITE] [--state STATE]   the latest requests and where they stand
Rungs, narrowest first: none < appdomain < apppool < worker (server-wide is never run).
Reasons: hung, locked-file, gac, memory, config, native-module. `help TOPIC` for more."""

TOPICS = {
    "recycle": """\
/recycle SITE works out the narrowest restart from what changed or why:
  --changed bin/App.dll          ASP.NET restarts by itself: warm up and verify only (none)
  --changed App_Config/x.config  restart the app's AppDomain (appdomain)
  --reason gac|locked-file|memory|native-module   recycle the app pool (apppool)
  --reason hung                  kill the pool's worker process and warm up (worker; always approved by a second person)
  --reason config                restart the app's AppDomain (appdomain)
  --note "checkout hangs"        free text kept with the request (a note, not a reason)
  --scope RUNG                   ask for a rung yourself; wider than needed goes to policy""",
    "rungs": rungs_help(),
    "approve": "/recycle approve ID approves a request waiting for you; you cannot approve your own.",
    "deny": "/recycle deny ID --reason TEXT turns a waiting request down; the requester sees why.",
    "status": "/recycle status SITE reads pool state, worker PIDs and AppDomain ids; it changes nothing.",
    "plan": "/recycle plan SITE ... shows the rung, hosts, blast radius and the policy decision; runs nothing.",
    "sites": "/recycle sites lists the sites in the inventory with their environment and hosts.",
    "requests": "/recycle requests [SITE] [--state awaiting_approval|running|succeeded|failed|...] lists the "
                "latest 20 requests, newest first, with their state.",
}


def help_text(topic: str | None = None) -> str:
    if topic is None:
        return OVERVIEW
    text = TOPICS.get(topic)
    if text is None:
        return f"No help on {topic!r}. Topics: {', '.join(sorted(TOPICS))}.\n\n{OVERVIEW}"
    return text
