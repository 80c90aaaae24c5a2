"""`[sites.X.watch]` in the inventory: defaults a team can rely on, and bad values refused whole with
the file, the field and what would be right."""

from __future__ import annotations

import pytest

from policies.files import FileError, parse_inventory

SITE = '''
[hosts.web01]
address = "web01.example"
password_env = "P"

[sites.shop]
environment = "prod"
hosts = ["web01"]
iis_site = "Shop"
pool = "ShopPool"
'''


def test_a_watch_with_no_settings_probes_every_minute_and_opens_after_three_bad_probes():
    inventory = parse_inventory(SITE + "[sites.shop.watch]\n", "inventory.toml")
    watch = inventory.sites["shop"].watch
    assert watch is not None
    assert (watch.interval_s, watch.bad_probes, watch.path, watch.memory_mb) == (60.0, 3, None, None)
    assert watch.timeout_s < watch.interval_s


def test_a_site_without_a_watch_is_not_watched():
    assert parse_inventory(SITE, "inventory.toml").sites["shop"].watch is None


@pytest.mark.parametrize(
    ("lines", "said"),
    [
        ('path = "health"', "sites.shop.watch.path: path must start with '/', like /health, got 'health'"),
        ("interval_s = 10\ntimeout_s = 10", "timeout_s (10) must be shorter than interval_s (10)"),
        ("timeout_s = 2\nslow_ms = 2500", "slow_ms (2500) must be below timeout_s (2 s = 2000 ms)"),
        ("bad_probes = 0", "sites.shop.watch.bad_probes: must be at least 1, got 0"),
        ("memory_mb = -5", "sites.shop.watch.memory_mb: must be at least 1, got -5"),
        ("intervall_s = 30", "unknown key; did you mean 'interval_s'?"),
    ],
)
def test_a_bad_watch_is_refused_naming_the_field_and_the_fix(lines, said):
    with pytest.raises(FileError) as caught:
        parse_inventory(SITE + "[sites.shop.watch]\n" + lines + "\n", "team/inventory.toml")
    message = str(caught.value)
    assert message.startswith("team/inventory.toml: ")
    assert said in message
