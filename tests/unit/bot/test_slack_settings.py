"""Slack settings come from the environment over the config file, and never show a secret."""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.app.errors import ConfigError
from bot.config import load_settings


def test_the_environment_wins_over_the_config_file_and_the_base_url_gets_its_slash(tmp_path: Path):
    config = tmp_path / "aspreset.toml"
    config.write_text('[slack]\nbot_token = "xoxb-from-file"\nsigning_secret = "file-secret"\n', encoding="utf-8")
    env = {"SLACK_BOT_TOKEN": "xoxb-from-env", "SLACK_API_BASE_URL": "http://127.0.0.1:9/api"}
    slack = load_settings(config=str(config), environ=env).slack
    assert slack.bot_token == "xoxb-from-env" and slack.signing_secret == "file-secret"
    assert slack.api_base_url == "http://127.0.0.1:9/api/"


def test_no_secret_shows_in_the_settings_repr(tmp_path: Path):
    env = {"SLACK_BOT_TOKEN": "xoxb-very-secret", "SLACK_SIGNING_SECRET": "sign-very-secret",
           "ASPRESET_WEBHOOK_SECRET": "hook-very-secret", "SLACK_APP_TOKEN": "xapp-very-secret"}
    settings = load_settings(environ=env, cwd=tmp_path)
    shown = repr(settings) + repr(settings.slack)
    assert "very-secret" not in shown


def test_a_base_url_that_is_not_http_is_refused_naming_the_variable(tmp_path: Path):
    with pytest.raises(ConfigError, match="SLACK_API_BASE_URL"):
        load_settings(environ={"SLACK_API_BASE_URL": "slack.com/api"}, cwd=tmp_path)
