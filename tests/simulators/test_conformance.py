"""Conformance suite generated from the tables of :mod:`...emulators.conformance`.

Every row of every table: each exchange is sent to a fresh emulator and the reply is read with
a strict reader of the manual's format (the whole reply must match, terminator included, and a
binary reply must carry none); emulated and stored commands leave no error bit in ``*ESR?``;
commands listed as not emulated get no reply and the command-error bit, as an unknown command
does on the instrument. The tables must cover every command the emulators accept.
"""

from __future__ import annotations

import re

import pytest

from stm_andreev.clock import VirtualClock
from stm_andreev.simulators.emulators.conformance import (
    EMULATED,
    NOT_EMULATED,
    STORED,
    TABLES,
    Row,
)
from stm_andreev.simulators.emulators.lakeshore372 import LakeShore372Emulator
from stm_andreev.simulators.emulators.srs import SR830Emulator, SR860Emulator
from stm_andreev.simulators.lab import VirtualLab

ERROR_BITS = {"SR830": 0b11_0000, "SR860": 0b11_0000, "LS372": 0b11_0100}
COMMAND_ERROR = 0b10_0000
TERMINATOR = {"SR830": "\n", "SR860": "\n", "LS372": "\r\n"}


def make(instrument: str):
    lab = VirtualLab("InO-2", clock=VirtualClock(), seed=2)
    lab.clock.advance(0.5)
    if instrument == "SR830":
        return SR830Emulator(lab)
    if instrument == "SR860":
        return SR860Emulator(lab)
    return LakeShore372Emulator(lab)


def cases() -> list[tuple[str, Row]]:
    return [(name, row) for name, rows in TABLES.items() for row in rows]


def esr(emulator, instrument: str) -> int:
    return int(emulator.handle_line("*ESR?").strip())


@pytest.mark.parametrize(("instrument", "row"), cases(),
                         ids=[f"{n}-{r.command}" for n, r in cases()])
def test_row(instrument: str, row: Row) -> None:
    emulator = make(instrument)
    esr(emulator, instrument)  # clear the power-on bit
    terminator = TERMINATOR[instrument]
    if row.status == NOT_EMULATED:
        mnemonic = row.command.rstrip("?")
        for line in (row.command if row.command.endswith("?") else f"{mnemonic}",
                     f"{mnemonic}?"):
            assert emulator.handle_line(line) == ""
            assert esr(emulator, instrument) & COMMAND_ERROR, line
        return
    assert row.status in (EMULATED, STORED) and row.forms, row
    for form in row.forms:
        reply = emulator.handle_line(form.send)
        if form.reply is None:
            assert reply == "", f"{form.send!r} answered {reply!r}"
        elif form.binary:
            assert re.fullmatch(form.reply, reply), f"{form.send!r}: {reply[:40]!r}"
        else:
            assert reply.endswith(terminator), f"{form.send!r}: {reply!r}"
            text = reply[: -len(terminator)]
            assert terminator not in text, f"{form.send!r}: more than one reply {reply!r}"
            assert re.fullmatch(form.reply, text), f"{form.send!r}: {text!r} !~ {form.reply}"
        assert not esr(emulator, instrument) & ERROR_BITS[instrument], form.send


def _accepted(instrument: str) -> set[str]:
    emulator = make(instrument)
    if instrument == "LS372":
        return {m.rstrip("?") for m in (*emulator._queries, *emulator._sets)}
    return set(emulator._handlers)


@pytest.mark.parametrize("instrument", sorted(TABLES))
def test_the_table_covers_every_command_the_emulator_accepts(instrument: str) -> None:
    listed = {row.command.rstrip("?") for row in TABLES[instrument]
              if row.status != NOT_EMULATED}
    accepted = _accepted(instrument)
    aliases = {"RDGK"} if instrument == "LS372" else set()
    assert accepted - listed - aliases == set()
    assert listed - accepted == set()


@pytest.mark.parametrize("instrument", sorted(TABLES))
def test_unknown_commands_get_no_reply_and_the_command_error_bit(instrument: str) -> None:
    emulator = make(instrument)
    esr(emulator, instrument)
    for line in ("NOSUCH?", "NOSUCH 1", "XYZZY"):
        assert emulator.handle_line(line) == ""
        assert esr(emulator, instrument) & COMMAND_ERROR


def test_the_conformance_documents_are_generated_from_these_tables() -> None:
    import importlib.util
    from pathlib import Path

    pytest.importorskip("nanonis_spm")
    path = Path(__file__).resolve().parents[2] / "tools" / "conformance_docs.py"
    spec = importlib.util.spec_from_file_location("conformance_docs", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    assert module.main(["--check"]) == 0, "run: python tools/conformance_docs.py"
