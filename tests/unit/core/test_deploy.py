"""What a deploy means for the running app: ASP.NET restarted it by itself, or which narrow restart
is still needed; a notice about the wrong thing is refused with the field that is wrong."""

from __future__ import annotations

import json

import pytest

from bot.app.deploy import NoticeError, assess, read_notice
from commands.rungs import Rung


def _notice(**fields: object) -> bytes:
    body = {"site": "shop-web", "version": "2.4.1", "changed_files": ["bin/Shop.Web.dll"]}
    body.update(fields)
    return json.dumps(body).encode()


def test_bin_and_web_config_changes_restart_the_app_by_themselves(example_inventory, example_policy):
    found = assess(read_notice(_notice(changed_files=["bin/Shop.Web.dll", "web.config"])),
                   example_inventory, example_policy)
    assert found.restarted_by_itself and found.rung == Rung.NONE


def test_a_config_file_beside_web_config_still_needs_the_appdomain_restart(example_inventory, example_policy):
    found = assess(read_notice(_notice(changed_files=["App_Config/connectionStrings.config"])),
                   example_inventory, example_policy)
    assert not found.restarted_by_itself and found.rung == Rung.APPDOMAIN
    assert found.follow_up.changed == ("App_Config/connectionStrings.config",)
    assert found.plan.channel == "C0SHOP"


def test_the_widest_change_decides_the_restart(example_inventory, example_policy):
    found = assess(read_notice(_notice(changed_files=["bin/Shop.Web.dll", "App_Config/x.config"])),
                   example_inventory, example_policy)
    assert found.rung == Rung.APPDOMAIN


@pytest.mark.parametrize(
    ("body", "code", "field"),
    [
        (b"[1, 2", "malformed_body", "body"),
        (_notice(changed_files=[]), "malformed_body", "changed_files"),
        (_notice(site=None), "malformed_body", "site"),
        (_notice(extra="x"), "malformed_body", "extra"),
        (_notice(pipeline_url="javascript:alert(1)"), "malformed_body", "pipeline_url"),
    ],
)
def test_a_body_that_is_not_a_deploy_notice_names_the_field(body, code, field):
    with pytest.raises(NoticeError) as raised:
        read_notice(body)
    assert raised.value.code == code and raised.value.field == field


def test_an_unknown_site_is_named_with_the_known_ones(example_inventory, example_policy):
    with pytest.raises(NoticeError) as raised:
        assess(read_notice(_notice(site="shop-wbe")), example_inventory, example_policy)
    assert raised.value.code == "unknown_site" and "shop-web" in str(raised.value)


def test_a_notice_for_another_environment_is_refused(example_inventory, example_policy):
    with pytest.raises(NoticeError) as raised:
        assess(read_notice(_notice(environment="staging")), example_inventory, example_policy)
    assert raised.value.code == "wrong_environment" and raised.value.field == "environment"
