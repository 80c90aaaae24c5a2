"""What `aspreset doctor` tells a person about a host whose name does not resolve: check DNS and the
inventory's address (nothing to enable on a host it cannot find), never "run aspreset doctor"."""

from __future__ import annotations

import json
from pathlib import Path

from bot.cli import main

EXAMPLES = Path(__file__).resolve().parents[3] / "examples"


def test_a_name_that_does_not_resolve_is_a_dns_problem_and_doctor_shows_the_database(capsys, tmp_path):
    inventory = tmp_path / "inventory.toml"
    inventory.write_text('[hosts.web09]\naddress = "web09.nowhere.invalid"\ntransport = "basic"\nlab = true\n'
                         'username = "lab"\npassword = "lab"\n[sites]\n')
    code = main(["doctor", "web09", "--inventory", str(inventory), "--policy", str(EXAMPLES / "policy.toml")])
    out, _ = capsys.readouterr()
    assert code == 1
    assert "does not resolve (DNS)" in out and "getent hosts web09.nowhere.invalid" in out
    assert "Enable-PSRemoting" not in out and "aspreset doctor" not in out
    assert "database: " in out

    main(["doctor", "web09", "--inventory", str(inventory), "--policy", str(EXAMPLES / "policy.toml"), "--json"])
    data = json.loads(capsys.readouterr().out)
    assert data["database"].startswith("sqlite:///") and "config" in data
