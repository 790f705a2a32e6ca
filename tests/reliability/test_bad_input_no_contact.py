"""Every malformed station or plan file is refused by ``stm-andreev run`` before any
instrument is contacted: no station is built, no socket or VISA resource is opened, no run
file is created."""

from __future__ import annotations

import socket
from pathlib import Path

import pytest
import pyvisa

from stm_andreev import cli
from stm_andreev.station import Station
from stm_andreev.storage import RunWriter

pytestmark = pytest.mark.faults

BAD = Path(__file__).parents[1] / "configs_bad"
FIXTURES = sorted(BAD.glob("*.yaml"))


class InstrumentContacted(AssertionError):
    """The run command reached for an instrument (or the run file) with a bad config."""


@pytest.fixture
def no_instruments(monkeypatch):
    """Fail loudly on anything that would build the station, talk to an instrument or
    create the run file."""
    calls: list[str] = []

    def refuse(what: str):
        def guard(*args, **kwargs):
            calls.append(what)
            raise InstrumentContacted(f"{what} called for a config that should be refused")
        return guard

    monkeypatch.setattr(Station, "from_config", classmethod(refuse("Station.from_config")))
    monkeypatch.setattr(RunWriter, "create", classmethod(refuse("RunWriter.create")))
    monkeypatch.setattr(socket.socket, "connect", refuse("socket.connect"))
    monkeypatch.setattr(socket, "create_connection", refuse("socket.create_connection"))
    monkeypatch.setattr(pyvisa.ResourceManager, "open_resource", refuse("open_resource"))
    return calls


def test_there_are_bad_fixtures_of_both_kinds():
    assert sum(p.name.startswith("station-") for p in FIXTURES) >= 30
    assert sum(p.name.startswith("plan-") for p in FIXTURES) >= 30


@pytest.mark.parametrize("path", FIXTURES, ids=lambda p: p.stem)
def test_bad_file_is_refused_before_any_instrument(
    path, tmp_path, no_instruments, capsys, outcome
):
    out = tmp_path / "runs"
    if path.name.startswith("station-"):
        argv = ["run", "quick", "--station", str(path)]
        outcome.fault = "malformed station file"
    else:
        argv = ["run", str(path)]
        outcome.fault = "malformed plan file"
    outcome.instrument = "config"
    outcome.spectra_planned = 0
    outcome.injections = 1
    code = cli.main([*argv, "--out", str(out), "--no-report", "--quiet"])
    err = capsys.readouterr().err
    assert code == 2, err
    assert no_instruments == []
    assert err.startswith("error: ") and str(path) in err
    assert not out.exists()  # not even the output directory was made
    outcome.happened = ("refused with an error naming file and key, exit 2; no station built, "
                        "no connection, no run file")


def test_the_guard_does_fire_for_a_good_config(tmp_path, no_instruments):
    """Control case: with a valid station and plan the run goes on to build the station."""
    with pytest.raises(InstrumentContacted):
        cli.main(["run", "quick", "--out", str(tmp_path / "runs"), "--no-report", "--quiet"])
    assert no_instruments == ["Station.from_config"]
