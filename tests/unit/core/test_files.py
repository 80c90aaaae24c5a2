from __future__ import annotations

import pytest

from policies.files import FileError, load_inventory, load_policy, parse_inventory, parse_policy


@pytest.mark.parametrize(
    ("text", "path_and_reason"),
    [
        ('[[rules]]\nname = "x"\neffect = "alow"\n',
         "line 3: rules[1].effect: expected one of allow, needs_approval, refuse, got 'alow'"),
        ('[[rules]]\nname = "x"\neffect = "allow"\nrungs = ["apppol"]\n',
         "line 4: rules[1].rungs[1]: expected one of none, appdomain, apppool, worker, server, got 'apppol'"),
        ('[people]\nalice = "alice"\n', "people: alice = 'alice' must be a Slack user ID"),
        ('[[rules]]\nname = "x"\neffect = "allow"\nrungs = ["server"]\n', "line 1: rules[1]: the server rung"),
        ('[[rules]]\nname = "x"\neffect = "needs_approval"\nrungs = ["apppool"]\n', "needs approvers"),
        ('[[rules]]\nname = "x"\neffect = "allow"\nrungs = ["apppool"]\nrequesters = ["nobody"]\n',
         "line 5: rules[1].requesters: 'nobody' is not"),
        ('[environments.prod]\nwidest_rung = "server"\n', "environments.prod.widest_rung"),
        ('[[freezes]]\nname = "f"\nstart = "08:00"\nend = "09:00"\ntimezone = "Mars/Base"\n', "unknown timezone"),
        ("[limits]\nworker_kills_per_hour = 3\n",
         "line 2: limits.worker_kills_per_hour: unknown key; did you mean 'worker_kills_per_pool_per_hour'?"),
        ('[triggers]\n"**.dll" = "server"\n', "no change needs the server rung"),
        ("rules = [\n", "not valid TOML"),
        ("[approval]\nexpiry_minutes = 15\nexpiry_minutes = 20\n",
         "line 3, column 20: not valid TOML: this key is set twice"),
        ('[[freezes]]\nname = "f"\nstart = "25:00"\nend = "09:00"\ntimezone = "UTC"\n',
         'line 3: freezes[1].start: expected a time of day "HH:MM" (hours 00-23, minutes 00-59), got \'25:00\''),
        ("[approval]\nexpiry_minutes = 0\n", "line 2: approval.expiry_minutes: must be at least 1, got 0"),
    ],
)
def test_an_invalid_policy_is_refused_naming_the_file_the_field_and_the_reason(text, path_and_reason):
    with pytest.raises(FileError) as caught:
        parse_policy(text, "team/policy.toml")
    message = str(caught.value)
    assert message.startswith("team/policy.toml: ")
    assert path_and_reason in message
    for library_wording in ("Input should be", "Extra inputs", "outside expected range", "(at line", "Value error"):
        assert library_wording not in message


def test_a_second_rules_problem_is_placed_on_its_own_entry_and_line():
    text = '[[rules]]\nname = "a"\neffect = "refuse"\n\n[[rules]]\nname = "b"\neffect = "refuse"\nrungz = []\n'
    with pytest.raises(FileError) as caught:
        parse_policy(text, "policy.toml")
    assert str(caught.value) == "policy.toml: line 8: rules[2].rungz: unknown key; did you mean 'rungs'?"


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
        ('[hosts.h1]\naddress = "h1"\n', "sites: is required but missing"),
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
