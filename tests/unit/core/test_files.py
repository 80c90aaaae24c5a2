from __future__ import annotations

import pytest

from policies.files import FileError, load_inventory, load_policy, parse_inventory, parse_policy


@pytest.mark.parametrize(
    ("text", "path_and_reason"),
    [
        ('[[rules]]\nname = "x"\neffect = "alow"\n', "rules.0.effect: Input should be 'allow'"),
        ('[[rules]]\nname = "x"\neffect = "allow"\nrungs = ["apppol"]\n', "rules.0.rungs.0:"),
        ('[people]\nalice = "alice"\n', "people: alice = 'alice' must be a Slack user ID"),
        ('[[rules]]\nname = "x"\neffect = "allow"\nrungs = ["server"]\n', "rules.0: the server rung"),
        ('[[rules]]\nname = "x"\neffect = "needs_approval"\nrungs = ["apppool"]\n', "needs approvers"),
        ('[[rules]]\nname = "x"\neffect = "allow"\nrungs = ["apppool"]\nrequesters = ["nobody"]\n',
         "rules[0] (x).requesters: 'nobody' is not"),
        ('[environments.prod]\nwidest_rung = "server"\n', "environments.prod.widest_rung"),
        ('[[freezes]]\nname = "f"\nstart = "08:00"\nend = "09:00"\ntimezone = "Mars/Base"\n', "unknown timezone"),
        ("[limits]\nworker_kills_per_hour = 3\n", "limits.worker_kills_per_hour: unknown field"),
        ('[triggers]\n"**.dll" = "server"\n', "no change needs the server rung"),
        ("rules = [\n", "not valid TOML"),
    ],
)
def test_an_invalid_policy_is_refused_naming_the_file_the_field_and_the_reason(text, path_and_reason):
    with pytest.raises(FileError) as caught:
        parse_policy(text, "team/policy.toml")
    message = str(caught.value)
    assert message.startswith("team/policy.toml: ")
    assert path_and_reason in message


@pytest.mark.parametrize(
    ("text", "path_and_reason"),
    [
        ('[hosts.h1]\naddress = "h1"\n[sites.s]\nenvironment = "prod"\nhosts = ["h2"]\niis_site = "S"\npool = "P"\n',
         "sites.s.hosts names unknown host 'h2'"),
        ('[hosts.h1]\naddress = "h1"\npassword = "hunter2"\n[sites]\n', "inline password is only accepted for a lab"),
        ('[hosts.h1]\naddress = "h1"\ntransport = "basic"\n[sites]\n', "sends the password in clear"),
        ('[hosts.h1]\naddress = "h1"\n[sites.s]\nenvironment = "prod"\nhosts = ["h1"]\niis_site = "S"\n'
         'pool = "P"\napp = "api"\n', "sites.s.app: app must be an application path"),
        ('[hosts.h1]\naddress = "h1"\n[sites.s]\nenvironment = "prod"\nhosts = ["h1"]\niis_site = "S"\n'
         'pool = "P"\nchannel = "#shop"\n', "must be a Slack channel ID"),
        ('[hosts.h1]\naddress = "h1"\n', "sites: required field is missing"),
    ],
)
def test_an_invalid_inventory_is_refused_naming_the_field(text, path_and_reason):
    with pytest.raises(FileError) as caught:
        parse_inventory(text, "inv.toml")
    assert path_and_reason in str(caught.value)


def test_a_password_never_appears_in_the_error_about_it():
    with pytest.raises(FileError) as caught:
        parse_inventory('[hosts.h1]\naddress = "h1"\npassword = "hunter2-secret"\n[sites]\n', "inv.toml")
    assert "hunter2-secret" not in str(caught.value)


def test_missing_files_are_named(tmp_path):
    with pytest.raises(FileError, match=r"nope\.toml: no such file"):
        load_policy(tmp_path / "nope.toml")
    with pytest.raises(FileError, match=r"inv\.toml: no such file"):
        load_inventory(tmp_path / "inv.toml")
