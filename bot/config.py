"""Settings from the config file and the environment. Read only here.

The config file `aspreset.toml` is found by `--config`, then `ASPRESET_CONFIG`, then the working
directory. Paths in it are relative to the file. Command-line options override it.
"""

from __future__ import annotations

import os
import re
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, ValidationError, model_validator

from bot.app.errors import ConfigError
from bot.app.results import MAX_SCRIPT_TIMEOUT_S
from policies.files import FileError, default_policy, load_inventory, load_policy
from policies.inventory import Inventory
from policies.policy import Policy
from policies.problems import toml_problem, validation_problems

CONFIG_NAME = "aspreset.toml"
DB_DIR, DB_NAME = ".aspreset", "aspreset.db"
RESTART_MARGIN_S = 5.0  # a restart deadline's room beyond its script's timeout and the clean-up (transport)


class WinRMSettings(BaseModel):
    """`[winrm]`: how hard the bot tries each host (docs/winrm.md explains each setting)."""

    model_config = ConfigDict(extra="forbid")
    max_parallel: int = Field(default=8, ge=1, le=64, description="hosts contacted at once")
    connect_timeout_s: float = Field(default=10.0, gt=0, le=120, description="TCP connect and TLS handshake")
    command_timeout_s: float = Field(
        default=180.0, gt=0, le=MAX_SCRIPT_TIMEOUT_S,
        description="how long a restart script waits on the host (pool drain, transitions, warm-up)",
    )
    status_deadline_s: float = Field(default=30.0, gt=0, le=600, description="a whole status call on one host")
    discover_deadline_s: float = Field(default=60.0, gt=0, le=900, description="a whole discovery on one host")
    restart_deadline_s: float = Field(
        default=240.0, gt=0, le=MAX_SCRIPT_TIMEOUT_S + 300, description="a whole restart on one host"
    )
    cleanup_budget_s: float = Field(
        default=5.0, gt=0, le=60, description="kept at the end of a deadline to terminate and delete the shell"
    )
    ca_trust_path: str | None = Field(default=None, description="PEM file of CAs trusted for https hosts")

    @model_validator(mode="after")
    def _restart_outlasts_its_script(self) -> WinRMSettings:
        floor = self.command_timeout_s + self.cleanup_budget_s + RESTART_MARGIN_S
        if self.restart_deadline_s < floor:
            raise ValueError(
                f"restart_deadline_s = {self.restart_deadline_s:g} must be at least command_timeout_s "
                f"({self.command_timeout_s:g}) + cleanup_budget_s ({self.cleanup_budget_s:g}) + "
                f"{RESTART_MARGIN_S:g} s, so a restart script (or the none rung's warm-up) can report its own timeout "
                "before the bot gives up "
                f"on the host: raise restart_deadline_s to {floor:g} or more, or lower command_timeout_s"
            )
        shortest = min(self.status_deadline_s, self.discover_deadline_s, self.restart_deadline_s)
        if self.cleanup_budget_s * 2 > shortest:
            raise ValueError(
                f"cleanup_budget_s = {self.cleanup_budget_s:g} must be at most half the shortest deadline "
                f"({shortest:g} s)"
            )
        return self


class McpClient(BaseModel):
    """One MCP client allowed over HTTP: its bearer token maps to the principal `mcp:NAME`. The
    token itself never sits in the file: name the environment variable holding it, or give its
    SHA-256 (hex)."""

    model_config = ConfigDict(extra="forbid")
    token_env: str | None = Field(default=None, pattern=r"^[A-Za-z_][A-Za-z0-9_]*$")
    token_sha256: str | None = Field(default=None, pattern=r"^[0-9a-f]{64}$")

    @model_validator(mode="after")
    def _one_source(self) -> McpClient:
        if (self.token_env is None) == (self.token_sha256 is None):
            raise ValueError('give exactly one of token_env = "ENV_VAR" or token_sha256 = "<64 hex digits>"')
        return self


class McpSettings(BaseModel):
    """`[mcp.clients.NAME]` tables: who may use MCP over HTTP (`aspreset serve`); `[mcp]`
    `allowed_hosts` (Host headers a reverse proxy keeps, e.g. "bot.example.com"), `resource_url` (the
    endpoint's public URL, for its RFC 9728 metadata; default: the URL the request came to) and
    `authorization_servers` (when a real OAuth server issues the tokens; default none: static tokens)."""

    model_config = ConfigDict(extra="forbid")
    clients: dict[Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9_.-]{1,64}$")], McpClient] = Field(
        default_factory=dict
    )
    allowed_hosts: list[Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9.-]+(:[0-9]{1,5})?$")]] = Field(
        default_factory=list
    )
    resource_url: Annotated[str, StringConstraints(pattern=r"^https?://[^\s]+$")] | None = None
    authorization_servers: list[Annotated[str, StringConstraints(pattern=r"^https://[^\s]+$")]] = Field(
        default_factory=list
    )


SLACK_API_DEFAULT = "https://slack.com/api/"


class SlackSettings(BaseModel):
    """The Slack app's credentials and where its Web API is. Each comes from the environment
    (SLACK_BOT_TOKEN, SLACK_SIGNING_SECRET, SLACK_APP_TOKEN, ASPRESET_WEBHOOK_SECRET,
    SLACK_API_BASE_URL), else the config file's [slack] table. Secrets never appear in a repr."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    bot_token: str | None = Field(default=None, repr=False)
    signing_secret: str | None = Field(default=None, repr=False)
    app_token: str | None = Field(default=None, repr=False, description="xapp-..., for Socket Mode")
    webhook_secret: str | None = Field(default=None, repr=False, description="signs POST /hooks/deploy")
    api_base_url: str = Field(default=SLACK_API_DEFAULT, pattern=r"^https?://\S+/$")

    @classmethod
    def from_env(cls, env: dict[str, str], file: SlackSettings | None = None) -> SlackSettings:
        base = file or cls()
        url = env.get("SLACK_API_BASE_URL") or base.api_base_url
        return cls(
            bot_token=env.get("SLACK_BOT_TOKEN") or base.bot_token,
            signing_secret=env.get("SLACK_SIGNING_SECRET") or base.signing_secret,
            app_token=env.get("SLACK_APP_TOKEN") or base.app_token,
            webhook_secret=env.get("ASPRESET_WEBHOOK_SECRET") or base.webhook_secret,
            api_base_url=url if url.endswith("/") else url + "/",
        )


class ConfigFile(BaseModel):
    model_config = ConfigDict(extra="forbid")
    policy: str | None = None
    inventory: str | None = None
    db: str | None = None
    cli_user: str | None = Field(default=None, description="who the CLI acts as without --as")
    replica: str | None = Field(default=None, max_length=100, pattern=r"^[A-Za-z0-9_.-]+$",
                                description="this machine's name for the runs it records (default: its host name)")
    winrm: WinRMSettings = Field(default_factory=WinRMSettings)
    mcp: McpSettings = Field(default_factory=McpSettings)
    slack: SlackSettings = Field(default_factory=SlackSettings)


@dataclass(frozen=True)
class Settings:
    policy_path: Path | None
    inventory_path: Path | None
    db_url: str | None
    cli_user: str | None
    winrm: WinRMSettings
    workdir: Path
    config_path: Path | None = None
    db_source: str = "the working directory's .aspreset/"  # where db_url came from, for people to read
    db_default: bool = False  # db_url is the default (no --db, ASPRESET_DB or db = "..."): for the upgrade note
    env: dict[str, str] = field(default_factory=dict, repr=False)
    owner: str | None = None  # who runs requests (default: REPLICA/pid)
    replica: str | None = None  # this machine's name in the store (default: its host name)
    mcp: McpSettings = field(default_factory=McpSettings)
    slack: SlackSettings = field(default_factory=SlackSettings, repr=False)
    metrics_token: str | None = field(default=None, repr=False)  # ASPRESET_METRICS_TOKEN: bearer token for /metrics
    # already-loaded files, for the demo and tests that build their own farm
    loaded_policy: Policy | None = field(default=None, repr=False)
    loaded_inventory: Inventory | None = field(default=None, repr=False)

    @classmethod
    def of(
        cls,
        policy: Policy,
        inventory: Inventory,
        *,
        workdir: Path,
        db_url: str | None = None,
        winrm: WinRMSettings | None = None,
        owner: str | None = None,
        cli_user: str | None = None,
        slack: SlackSettings | None = None,
    ) -> Settings:
        """Settings around a policy and inventory already in memory (no config file read)."""
        return cls(policy_path=None, inventory_path=None, db_url=db_url, cli_user=cli_user,
                   winrm=winrm or WinRMSettings(), workdir=workdir, owner=owner,
                   slack=slack or SlackSettings(), loaded_policy=policy, loaded_inventory=inventory)

    @property
    def database_shown(self) -> str:
        """Where the database is, for people to read: the URL without its password, and its source."""
        url = re.sub(r"://([^:/@]*):[^@/]*@", r"://\1:***@", self.db_url or "")
        return f"{url or '.aspreset/aspreset.db under the working directory'} ({self.db_source})"

    def policy(self) -> Policy:
        if self.loaded_policy is not None:
            return self.loaded_policy
        if self.policy_path is None:
            return default_policy()
        try:
            return load_policy(self.policy_path)
        except FileError as error:
            raise ConfigError(f"policy file {error}") from None

    def inventory(self) -> Inventory:
        if self.loaded_inventory is not None:
            return self.loaded_inventory
        if self.inventory_path is None:
            raise ConfigError(
                "no inventory: pass --inventory FILE, or set inventory = \"FILE\" in aspreset.toml "
                "(examples/inventory.toml shows the format)"
            )
        try:
            return load_inventory(self.inventory_path)
        except FileError as error:
            raise ConfigError(f"inventory file {error}") from None


def load_settings(
    config: str | None = None,
    policy: str | None = None,
    inventory: str | None = None,
    db: str | None = None,
    environ: dict[str, str] | None = None,
    cwd: Path | None = None,
) -> Settings:
    env = dict(os.environ if environ is None else environ)
    workdir = cwd or Path.cwd()
    config_path = _find_config(config, env, workdir)
    file = _read_config(config_path) if config_path else ConfigFile()
    base = config_path.parent if config_path else workdir

    def resolve(value: str | None) -> Path | None:
        return None if value is None else (base / value)

    db_url, db_source = _database(db, env, file.db, config_path)
    return Settings(
        policy_path=Path(policy) if policy else resolve(file.policy),
        inventory_path=Path(inventory) if inventory else resolve(file.inventory),
        db_url=db_url,
        db_source=db_source,
        db_default=not (db or env.get("ASPRESET_DB") or file.db),
        cli_user=env.get("ASPRESET_USER") or file.cli_user,
        winrm=file.winrm,
        mcp=file.mcp,
        workdir=workdir,
        config_path=config_path,
        env=env,
        slack=_slack_settings(env, file.slack),
        replica=file.replica,
        metrics_token=env.get("ASPRESET_METRICS_TOKEN") or None,
    )


def _database(option: str | None, env: dict[str, str], configured: str | None,
              config_path: Path | None) -> tuple[str, str]:
    """The database URL and where it came from. Unset, every front end of one config file finds the
    same SQLite file: beside the config file, else in the user's state directory (XDG_STATE_HOME,
    default ~/.local/state), never under whatever directory the front end was started from."""
    if option:
        return option, "--db"
    if env.get("ASPRESET_DB"):
        return env["ASPRESET_DB"], "ASPRESET_DB"
    if configured:
        return configured, f"db in {config_path}"
    if config_path is not None:
        return _sqlite(config_path.resolve().parent / DB_DIR / DB_NAME), f"the default beside {config_path}"
    return _sqlite(state_directory(env).resolve() / DB_NAME), "the default per-user state directory"


def former_default_database(settings: Settings) -> str | None:
    """What to tell someone upgrading: the default database used to be `.aspreset/aspreset.db`
    under the working directory. When one sits here and this run, left to the default, uses another
    file, its requests, locks and audit trail would seem gone: say where each is and how to keep the
    old one. Said on every run until they choose (set `db`, move the file, or delete it)."""
    if not settings.db_default or not settings.db_url:
        return None
    former = (settings.workdir / DB_DIR / DB_NAME).resolve()
    in_use = Path(settings.db_url.removeprefix("sqlite:///"))
    if not former.is_file() or former == in_use.resolve():
        return None
    where = f"db = \"sqlite:///{former}\" in {settings.config_path}" if settings.config_path else (
        f"ASPRESET_DB=sqlite:///{former} (or db = \"sqlite:///{former}\" in an aspreset.toml)")
    move = "" if in_use.exists() else f", or move it there (mv {former} {in_use}, with no bot running)"
    return (f"found the database of an earlier aspreset at {former} (the former default under the working "
            f"directory); this version uses {in_use} ({settings.db_source}), so the requests, locks and audit "
            f"trail recorded there are not seen here. To keep using it, set {where}{move}; to start afresh, "
            "delete or rename it")


def state_directory(env: dict[str, str]) -> Path:
    """aspreset's per-user state: $XDG_STATE_HOME/aspreset, default ~/.local/state/aspreset."""
    state = env.get("XDG_STATE_HOME") or str(Path(env.get("HOME") or Path.home()) / ".local" / "state")
    return Path(state) / "aspreset"


def _sqlite(path: Path) -> str:
    return f"sqlite:///{path}"


def _slack_settings(env: dict[str, str], file: SlackSettings) -> SlackSettings:
    try:
        return SlackSettings.from_env(env, file)
    except ValidationError:
        raise ConfigError(
            "SLACK_API_BASE_URL (or [slack] api_base_url) must be an http(s) URL like https://slack.com/api/"
        ) from None


def _find_config(explicit: str | None, env: dict[str, str], cwd: Path) -> Path | None:
    if explicit:
        path = Path(explicit)
        if not path.is_file():
            raise ConfigError(f"--config {explicit}: no such file")
        return path
    if env.get("ASPRESET_CONFIG"):
        path = Path(env["ASPRESET_CONFIG"])
        if not path.is_file():
            raise ConfigError(f"ASPRESET_CONFIG={path}: no such file")
        return path
    candidate = cwd / CONFIG_NAME
    return candidate if candidate.is_file() else None


def _read_config(path: Path) -> ConfigFile:
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as error:
        why = error.strerror if isinstance(error, OSError) else "it is not UTF-8 text"
        raise ConfigError(f"{path}: cannot be read ({why or 'the system refused'})") from None
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as error:
        raise ConfigError(f"{path}: {toml_problem(error)}") from None
    try:
        return ConfigFile.model_validate(data)
    except ValidationError as error:
        raise ConfigError(f"{path}: " + "; ".join(validation_problems(error, ConfigFile, text))) from None
