"""Command-line options with ``PIINGUIN_*`` environment equivalents.

Each option is declared once; a flag on the command line wins over its environment
variable, which wins over the default. Every error names the flag, so a bad value stops a
program with one line that says what to fix.
"""

from __future__ import annotations

import argparse
import importlib.metadata
import sys
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any


class OptionError(ValueError):
    def __init__(self, flag: str, problem: str) -> None:
        super().__init__(f"{flag}: {problem}")
        self.flag = flag


@dataclass(frozen=True)
class Option:
    flag: str
    help: str
    default: Any = None
    convert: Callable[[str], Any] = str
    choices: Sequence[str] | None = None
    is_switch: bool = False

    @property
    def dest(self) -> str:
        return self.flag.lstrip("-").replace("-", "_")

    @property
    def env(self) -> str:
        return "PIINGUIN_" + self.dest.upper()

    def invalid(self, problem: str) -> OptionError:
        """The error for a bad setting, naming the variable and the flag: for a program
        set from its environment (the relay's Lambda) as much as from flags."""
        return OptionError(f"{self.env} ({self.flag})", problem)


def whole_number(text: str) -> int:
    try:
        return int(text)
    except ValueError:
        raise ValueError(f"expected a whole number, got {text!r}") from None


def number(text: str) -> float:
    try:
        return float(text)
    except ValueError:
        raise ValueError(f"expected a number, got {text!r}") from None


def parse_bool(text: str) -> bool:
    lowered = text.strip().lower()
    if lowered in {"1", "true", "yes", "on"}:
        return True
    if lowered in {"0", "false", "no", "off", ""}:
        return False
    raise ValueError(f"expected true or false, got {text!r}")


def version() -> str:
    """The installed distribution's version, as ``pip`` and the wheel know it."""
    try:
        return importlib.metadata.version("piinguin")
    except importlib.metadata.PackageNotFoundError:
        return "unknown (not installed)"


class _PrintVersion(argparse.Action):
    """``--version``, looking the version up only when asked: every start would pay for it."""

    def __init__(self, option_strings: Sequence[str], dest: str, **kwargs: Any) -> None:
        super().__init__(option_strings, argparse.SUPPRESS, nargs=0, **kwargs)

    def __call__(self, parser: argparse.ArgumentParser, *args: object, **kwargs: object) -> None:
        sys.stdout.write(f"{parser.prog} {version()}\n")  # where argparse prints --help
        parser.exit()


def build_parser(prog: str, description: str, options: Sequence[Option]) -> argparse.ArgumentParser:
    """A parser for ``options``, with ``--version``: every console script builds its own here."""
    parser = argparse.ArgumentParser(prog=prog, description=description)
    parser.add_argument(
        "--version", action=_PrintVersion, help="print the installed version and exit"
    )
    for option in options:
        env_help = f" [env {option.env}]"
        if option.is_switch:
            parser.add_argument(
                option.flag, action="store_const", const="true", help=option.help + env_help
            )
        else:
            parser.add_argument(
                option.flag,
                metavar=option.dest.upper(),
                help=f"{option.help} (default: {option.default}){env_help}",
            )
    return parser


def resolve(
    options: Sequence[Option], args: argparse.Namespace, environ: Mapping[str, str]
) -> dict[str, Any]:
    """Pick each option's value (flag, then environment, then default) and convert it."""
    values: dict[str, Any] = {}
    for option in options:
        raw = getattr(args, option.dest)
        source = option.flag
        if raw is None and option.env in environ:
            raw, source = environ[option.env], f"{option.flag} (from {option.env})"
        if raw is None:
            values[option.dest] = option.default
            continue
        if option.choices is not None and raw not in option.choices:
            raise OptionError(source, f"expected one of {', '.join(option.choices)}, got {raw!r}")
        convert = parse_bool if option.is_switch else option.convert
        try:
            values[option.dest] = convert(raw)
        except ValueError as exc:
            raise OptionError(source, str(exc)) from exc
    return values
