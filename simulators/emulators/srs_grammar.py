"""The SRS lock-ins' command grammar shared by the SR830 and SR860 emulators and their buffer
commands: how a handler is declared, how arguments are counted and parsed, how numbers are
written, and which error each mistake raises (a command error or an execution error, the two
``*ESR?`` bits the instrument sets instead of replying; docs/protocols.md section 2).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass


class BinaryBlock(str):
    """A query reply sent exactly as it is: an IEEE 488.2 definite-length block
    (``#<n><length><bytes>``, SR860 ``CAPTUREGET?``) carries its own length and the manual
    gives it no terminator, so none is appended (every other reply ends in LF)."""


class SRSCommandError(Exception):
    """Unknown mnemonic or wrong form (a query of a set-only command): command error bit."""


class SRSArgumentError(Exception):
    """Missing, extra, malformed or out-of-range argument: execution error bit."""


@dataclass(frozen=True)
class Handler:
    query: Callable[[list[str]], str] | None = None
    set: Callable[[list[str]], None] | None = None


def expect_args(args: list[str], low: int, high: int | None = None) -> None:
    high = low if high is None else high
    if not low <= len(args) <= high:
        expected = str(low) if low == high else f"{low}-{high}"
        raise SRSArgumentError(f"expected {expected} argument(s), got {len(args)}: {args}")


def no_argument_query(reply: Callable[[], str]) -> Handler:
    """A query that takes no argument and answers ``reply()``."""

    def query(args: list[str]) -> str:
        expect_args(args, 0)
        return reply()

    return Handler(query=query)


def int_arg(text: str, low: int, high: int, what: str) -> int:
    try:
        value = float(text)
    except ValueError:
        raise SRSArgumentError(f"{what}: {text!r} is not a number") from None
    if not value.is_integer() or not low <= value <= high:
        raise SRSArgumentError(f"{what}: {text!r} is not an integer in {low}..{high}")
    return int(value)


def float_arg(text: str, low: float, high: float, what: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise SRSArgumentError(f"{what}: {text!r} is not a number") from None
    if not math.isfinite(value) or not low <= value <= high:
        raise SRSArgumentError(f"{what}: {text!r} is outside {low:g}..{high:g}")
    return value


def format_number(value: float) -> str:
    """Output values in exponent form (the drivers parse any float text)."""
    return f"{value:.6e}"
