"""`aspreset config check` and `aspreset policy check`: everything that can be checked without
talking to a host, said in one go. Exit 0 when nothing is wrong (warnings allowed), 2 otherwise."""

from __future__ import annotations

import argparse
import json
import sys
from dataclasses import dataclass, field
from typing import Any

from bot.app.errors import AspresetError
from bot.cli.exit_codes import EXIT_BAD_INPUT, EXIT_DONE
from bot.config import Settings, former_default_database, load_settings
from bot.store.database import parse_url
from policies.consistency import environments_fit
from policies.files import FileError, default_policy, load_inventory, load_policy
from policies.inventory import Inventory
from policies.policy import Policy


@dataclass
class Findings:
    checked: dict[str, str] = field(default_factory=dict)
    problems: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    def attempt(self, what: str, check: Any) -> Any:
        try:
            return check()
        except (AspresetError, FileError) as error:
            self.problems.append(f"{what}: {error}")
            return None


def cmd_policy_check(args: argparse.Namespace) -> int:
    findings = Findings()
    settings = load_settings(config=args.config) if args.config or not args.file else None
    policy_file = args.file or (str(settings.policy_path) if settings and settings.policy_path else None)
    inventory_file = args.inventory or (
        str(settings.inventory_path) if settings and settings.inventory_path and not args.file else None
    )
    policy = _policy(findings, policy_file)
    inventory = _inventory(findings, inventory_file) if inventory_file else None
    if policy is not None and inventory is not None:
        _fit(findings, policy, inventory, inventory_file or "")
    return _report(args, findings, policy, policy_file or "the built-in default policy")


def cmd_config_check(args: argparse.Namespace) -> int:
    findings = Findings()
    settings: Settings | None = findings.attempt(
        "config", lambda: load_settings(config=args.config, policy=args.policy, inventory=args.inventory, db=args.db)
    )
    if settings is None:
        return _report(args, findings, None, "the config file")
    findings.checked["config"] = str(settings.config_path or "none found (built-in defaults)")
    policy_file = str(settings.policy_path) if settings.policy_path else None
    policy = _policy(findings, policy_file)
    inventory = None
    if settings.inventory_path is None:
        findings.problems.append('inventory: none configured: set inventory = "FILE" in aspreset.toml or pass '
                                 "--inventory FILE")
    else:
        inventory = _inventory(findings, str(settings.inventory_path))
    if policy is not None and inventory is not None:
        _fit(findings, policy, inventory, str(settings.inventory_path))
    if inventory is not None:
        _credentials(findings, inventory, settings)
    if findings.attempt("database", lambda: parse_url(settings.db_url or "")) is not None:
        findings.checked["database"] = settings.database_shown
        if former := former_default_database(settings):
            findings.warnings.append(f"database: {former}")
    return _report(args, findings, policy, policy_file or "the built-in default policy")


def _policy(findings: Findings, path: str | None) -> Policy | None:
    policy: Policy | None = findings.attempt("policy", lambda: load_policy(path) if path else default_policy())
    findings.checked["policy"] = path or "the built-in default policy"
    if policy is not None:
        findings.notes += [f"group {name!r} is empty; rules that need its approval refuse"
                           for name, members in policy.groups.items() if not members]
    return policy


def _inventory(findings: Findings, path: str) -> Inventory | None:
    findings.checked["inventory"] = path
    inventory: Inventory | None = findings.attempt("inventory", lambda: load_inventory(path))
    return inventory


def _fit(findings: Findings, policy: Policy, inventory: Inventory, inventory_file: str) -> None:
    fit = environments_fit(policy, inventory, inventory_file)
    findings.problems += fit.errors
    findings.warnings += fit.warnings


def _credentials(findings: Findings, inventory: Inventory, settings: Settings) -> None:
    """Each host's credentials are where the inventory says (present, not tried: no traffic)."""
    from bot.winrm.credentials import resolve_credentials

    for name, host in sorted(inventory.hosts.items()):
        findings.attempt("credentials", lambda name=name, host=host: resolve_credentials(name, host, settings.env))
    findings.checked["credentials"] = f"{len(inventory.hosts)} host(s)"


def _report(args: argparse.Namespace, findings: Findings, policy: Policy | None, policy_name: str) -> int:
    ok = not findings.problems
    if getattr(args, "json", False):
        data: dict[str, Any] = {
            "file": policy_name, "valid": ok, "checked": findings.checked, "problems": findings.problems,
            "warnings": findings.warnings,
            "rules": [rule.name for rule in policy.rules] if policy else [],
            "people": sorted(policy.people) if policy else [],
            "empty_groups": [name for name, members in policy.groups.items() if not members] if policy else [],
        }
        print(json.dumps(data, indent=2))
    else:
        lines = [f"{what}: {where}" for what, where in findings.checked.items()]
        if policy is not None:
            lines.append(f"{policy_name}: {len(policy.rules)} rules, {len(policy.people)} people")
        lines += [f"  note: {note}" for note in findings.notes]
        lines += [f"  warning: {warning}" for warning in findings.warnings]
        print("\n".join([*lines, "valid"] if ok else lines))
        if not ok:  # what must change goes where errors go
            problems = [f"  problem: {problem}" for problem in findings.problems]
            print("\n".join([f"aspreset: INVALID, {len(problems)} problem(s):", *problems]), file=sys.stderr)
    return EXIT_DONE if ok else EXIT_BAD_INPUT


def add_policy_check_arguments(check: argparse.ArgumentParser) -> None:
    check.add_argument("file", nargs="?", help="the policy TOML file (default: the one the config file names)")
    check.add_argument("--config", help="aspreset.toml whose policy and inventory to check")
    check.add_argument("--inventory", help="also check that this inventory's environments fit the policy")
    check.add_argument("--json", action="store_true", help="print one JSON object")
