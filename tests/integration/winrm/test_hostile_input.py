"""Text from chat and config (site names, request ids, methods, paths) travels only inside the
base64 parameters line: the command line is the same bytes for every operation, and the script
on stdin is one `$AspresetParams = '<base64>'` line, then the shared prelude, then the operation's
own source."""

from __future__ import annotations

import base64
import re
import urllib.parse
from collections.abc import Iterator

import pytest

from bot.app.results import OperationParams
from bot.sim.farm import Farm
from bot.winrm.executor import HostCall, WinRMExecutor
from bot.winrm.scripts import bootstrap_command, prelude_source, script_source
from policies.inventory import Host, Inventory, Site

HOSTILE = 'Shop\' ; $(Remove-Item C:\\ -Recurse) `whoami` \u2018smart\u2019 \u201cquotes\u201d\r\nWrite-Host "pwned" #'
HOSTILE_PATH = "/app'`$(calc);\u201c\n\u2019x"
HOSTILE_POOL = 'Pool"; Stop-Service W3SVC; $x=\u2018'
PARAMS_LINE = re.compile(r"\$AspresetParams = '([A-Za-z0-9+/=]+)'")


@pytest.fixture
def hostile_farm(timing) -> Iterator[Farm]:
    inventory = Inventory(
        hosts={"web01": Host(address="web01.example", transport="kerberos")},
        sites={
            "evil": Site(environment="prod", hosts=["web01"], iis_site=HOSTILE, app=HOSTILE_PATH, pool=HOSTILE_POOL)
        },
    )
    with Farm.from_inventory(inventory, timing=timing) as farm:
        yield farm


def test_hostile_names_reach_the_host_intact_and_never_as_script_source(hostile_farm, executor: WinRMExecutor):
    host = hostile_farm.client_inventory().hosts["web01"]
    warmup = host.warmup_base_url + urllib.parse.quote(HOSTILE_PATH)
    sent: list[OperationParams] = []
    for op, method in (
        ("status", ""),
        ("appdomain", "wmi-unload"),
        ("appdomain", HOSTILE),
        ("apppool", ""),
        ("worker", ""),
        ("discover", ""),
    ):
        params = OperationParams(
            op=op,  # type: ignore[arg-type]
            request_id=HOSTILE,
            iis_site=HOSTILE,
            app_path=HOSTILE_PATH,
            pool=HOSTILE_POOL,
            method=method,
            warmup_url=warmup,
            timeout_s=5,
            poll_ms=50,
        )
        sent.append(params)
        result = executor.run(*HostCall("web01", host, params))
        if method == HOSTILE:
            assert result.error_code == "bad_parameters"  # read as data, refused as data
        else:
            assert result.ok, (op, result.error)  # the site was found by its hostile name

    received = hostile_farm.host("web01").received
    assert len(received) == len(sent)
    executable, arguments = bootstrap_command()
    for params, command in zip(sent, received, strict=True):
        assert command.command == executable and command.arguments == [" ".join(arguments)]
        script = bytes(command.stdin).decode("utf-8")
        first_line, rest = script.split("\n", 1)
        match = PARAMS_LINE.fullmatch(first_line)
        assert match, first_line
        assert rest == prelude_source() + script_source(params.op)
        assert OperationParams.model_validate_json(base64.b64decode(match.group(1))) == params
        assert bytes(command.stdin).isascii()
        for fragment in ("Remove-Item C:", "whoami", "Stop-Service W3SVC", "pwned", "\u2018", "calc"):
            assert fragment not in script
    assert len({command.command_line for command in received}) == 1
