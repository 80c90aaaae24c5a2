"""Reading the policy and inventory TOML files. An invalid file is refused whole, with the file,
the field path and what would be right."""

from __future__ import annotations

import tomllib
from importlib import resources
from pathlib import Path
from typing import TypeVar

from pydantic import BaseModel, ValidationError

from policies.inventory import Inventory
from policies.policy import Policy
from policies.problems import toml_problem, validation_problems

Model = TypeVar("Model", bound=BaseModel)


class FileError(ValueError):
    """A policy or inventory file that cannot be used. `str()` names the file, field and fix."""

    def __init__(self, path: str, problems: list[str]) -> None:
        self.path = path
        self.problems = problems
        super().__init__(f"{path}: " + "; ".join(problems))


def load_policy(path: str | Path) -> Policy:
    return _load(Path(path), Policy).with_source(str(path))


def load_inventory(path: str | Path) -> Inventory:
    return _load(Path(path), Inventory)


def default_policy() -> Policy:
    text = resources.files("policies").joinpath("default.toml").read_text(encoding="utf-8")
    return parse_policy(text, "policies/default.toml")


def parse_policy(text: str, source: str) -> Policy:
    return _parse(text, source, Policy).with_source(source)


def parse_inventory(text: str, source: str) -> Inventory:
    return _parse(text, source, Inventory)


def _load(path: Path, model: type[Model]) -> Model:
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise FileError(str(path), ["no such file"]) from None
    except UnicodeDecodeError:
        raise FileError(str(path), ["is not UTF-8 text: save it as UTF-8"]) from None
    except PermissionError:
        raise FileError(str(path), ["cannot be read: permission denied for the user the bot runs as"]) from None
    except OSError as error:
        raise FileError(str(path), [f"cannot be read: {error.strerror or 'the system refused'}"]) from None
    return _parse(text, str(path), model)


def _parse(text: str, source: str, model: type[Model]) -> Model:
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as error:
        raise FileError(source, [toml_problem(error)]) from None
    try:
        return model.model_validate(data)
    except ValidationError as error:
        raise FileError(source, validation_problems(error, model, text)) from None
