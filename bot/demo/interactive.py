"""`aspreset demo --interactive`: the demo's farm and bot, and a prompt. Type chat lines as any of
the example people, send deploy notices through the signed webhook, and break the farm."""

from __future__ import annotations

import shlex
from typing import TextIO

from bot.demo import DemoWorld

HELP = """\
  /recycle ...                  a chat line, as typed in Slack (`/recycle help` for the grammar)
  /as NAME                      type as another person: {people}
  !deploy SITE FILE [FILE ...]  a CI pipeline's signed deploy notice (what changed)
  !silent HOST                  the host stops answering WinRM     !heal HOST  it answers again
  !hang HOST [POOL]             the pool's worker stops responding (a recycle will not finish)
  !stop HOST [POOL]  !crash HOST [POOL]  !slow HOST MS  !leak HOST MB   more ways to break it (docs/watch.md)
  !help                         this text                          !quit (or Ctrl-D) ends the demo"""


def repl(world: DemoWorld, lines: TextIO, out: TextIO) -> int:
    console = world.console
    people = sorted(console.service.policy.people)
    person = "alice" if "alice" in people else people[0]
    print("\nType chat lines as one of the example people. `!help` lists what else you can do.", file=out)
    print(HELP.format(people=", ".join(people)), file=out)
    versions = 0
    while True:
        print(f"{person}> ", end="", file=out, flush=True)
        line = lines.readline()
        if not line or line.strip() in ("!quit", "/quit", "quit", "exit"):
            print("", file=out)
            return 0
        line = line.strip()
        if not line:
            continue
        if line.startswith("/as"):
            name = line[3:].strip()
            if name in people:
                person = name
                print(f"  you are now {name} ({console.service.policy.people[name]})", file=out)
            else:
                print(f"  no person {name!r}; the policy knows {', '.join(people)}", file=out)
        elif line.startswith("!deploy"):
            words = shlex.split(line)[1:]
            if len(words) < 2:
                print("  usage: !deploy SITE FILE [FILE ...]", file=out)
                continue
            versions += 1
            console.deploy({"site": words[0], "version": f"demo-{versions}", "changed_files": words[1:],
                            "deployed_by": person})
        elif line.startswith("!help"):
            print(HELP.format(people=", ".join(people)), file=out)
        elif line.startswith("!"):
            print(f"  farm: {world.sim.control(line[1:])}", file=out)
        else:
            _say(world, person, line, out)


def _say(world: DemoWorld, person: str, line: str, out: TextIO) -> None:
    text = line if line.startswith("/recycle") else f"/recycle {line}"
    world.console.say(person, text, echo=False)  # the person's own line is already on the screen
