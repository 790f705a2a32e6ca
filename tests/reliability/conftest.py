"""The reliability campaign: inject one fault into a small dry run, check and record the outcome.

Every test here is marked ``faults``. Each records what it tried through the ``outcome``
fixture; the record (fault, instrument, injections, what happened, spectra lost, pass/fail)
is appended as one JSON line to ``$STM_RELIABILITY_RESULTS`` (default
``<rootdir>/.reliability/results.jsonl``) once the test has run, so
``python tools/reliability_report.py`` can turn it into the README's reliability table.
"""

from __future__ import annotations

import contextlib
import copy
import datetime as dt
import json
import os
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from stm_andreev.config import load_plan_text, load_station, station_from_dict
from stm_andreev.config.yaml_file import parse_yaml
from stm_andreev.engine import RunControl, RunEngine, RunSummary
from stm_andreev.engine.runner import POINT_KEYS
from stm_andreev.procedures import plan_points
from stm_andreev.simulators.faults import FaultInjector, FaultyEmulator
from stm_andreev.station import Station
from stm_andreev.storage import RunReader, RunWriter

RESULTS_ENV = "STM_RELIABILITY_RESULTS"

# Four spectra of 11 bias points: three setpoints at base temperature (tunnelling to contact),
# then one at 0.3 K, so every instrument is busy and a temperature step is included.
RELIABILITY_PLAN = """
name: reliability
steps:
  - kind: setpoint_sweep
    label: setpoints
    temperature_K: 0.065
    I_start_A: 1.0e-9
    I_stop_A: 1.0e-6
    n_setpoints: 3
    n_bias: 11
    settle_s: 0.01
    integration_s: 0.01
    feedback_settle_s: 0.1
  - kind: temperature_sweep
    label: temperatures
    temperatures_K: [0.3]
    setpoint_A: 1.0e-6
    n_bias: 11
    settle_s: 0.01
    integration_s: 0.01
    feedback_settle_s: 0.1
"""
N_POINTS = 4
N_BIAS = 11

# Messages each simulated instrument handles in a fault-free run of RELIABILITY_PLAN (measured
# with tests/reliability/test_link_faults.py::test_message_counts_are_as_planned): the
# fault triggers below are chosen inside a spectrum from these, and that test fails if they
# drift so the triggers are re-chosen instead of silently landing between spectra.
#   instrument: (messages before spectrum 0 ends, ... after each spectrum)
MESSAGES_AFTER_SPECTRUM = {
    "lockin": (28, 51, 74, 97),
    "stm": (43, 109, 175, 214),
    "fridge": (148, 158, 168, 343),
}
# A message number in the middle of spectrum 1 (the 32 nA one) for each instrument.
MID_SWEEP = {
    name: (counts[0] + counts[1]) // 2 for name, counts in MESSAGES_AFTER_SPECTRUM.items()
}
# Station time (s) inside spectrum 1 of a fault-free run: it runs from about 314.6 to 319.5 s.
MID_SPECTRUM_TIME_S = 317.0


def station_config(**simulation: Any):
    """configs/simulated.yaml with ``simulation`` keys overridden (e.g. ``faults``)."""
    base = load_station("simulated")
    data = copy.deepcopy(parse_yaml(base.source_text, "simulated.yaml").data)
    data["simulation"].update(simulation)
    return station_from_dict(data, "reliability-station")


class ScriptedControl(RunControl):
    """An operator who answers every pause with a resume (no wall-time waits).

    ``on_pause`` hooks run while the engine is paused, so a test can look at the safe state
    the engine left the instruments in before the run goes on.
    """

    def __init__(
        self, on_pause: Callable[[], None] | None = None, answer: str = "resume"
    ) -> None:
        super().__init__(None)
        self.pauses = 0
        self.hook = on_pause
        self.answer = answer

    def wait_while_paused(self, on_pause=None) -> None:
        if self.paused:
            self.pauses += 1
            if on_pause is not None:
                on_pause()
            if self.hook is not None:
                self.hook()
            self.request(self.answer)
        self.check_abort()


@dataclass
class FaultRun:
    """The outcome of one dry run: summary, stored data and what the injectors did."""

    path: Path
    station: Station
    summary: RunSummary | None
    injected: dict[str, int]
    control: ScriptedControl
    error: BaseException | None = None
    ledger: list[int] = field(default_factory=list)
    status: str = ""
    spectra: dict[str, np.ndarray] = field(default_factory=dict)
    table: dict[str, np.ndarray] = field(default_factory=dict)
    events: list[tuple[str, int, str]] = field(default_factory=list)

    @property
    def event_kinds(self) -> list[str]:
        return [k for k, _, _ in self.events]

    def rows_of(self) -> dict[int, int]:
        """point index -> row in the stored arrays."""
        return {int(p): row for row, p in enumerate(self.ledger)}

    @property
    def total_injections(self) -> int:
        return sum(self.injected.values())


def injected_counts(wrappers: dict[str, FaultyEmulator]) -> dict[str, int]:
    """Faults injected so far, by station instrument name ("lab" for lab faults)."""
    counts = {name: len(w.injected) for name, w in wrappers.items()}
    schedules = {
        id(w._lab_schedule): w._lab_schedule for w in wrappers.values() if w._lab_schedule
    }
    fired = sum(len(s.fired) for s in schedules.values())
    if fired:
        counts["lab"] = fired
    return counts


@contextlib.contextmanager
def collecting_wrappers():
    """Collect the FaultyEmulator wrappers a station builds (the station does not expose them)."""
    created: dict[str, FaultyEmulator] = {}
    original = FaultInjector.wrap

    def wrap(self, emulator, instrument):
        wrapper = original(self, emulator, instrument)
        created[instrument] = wrapper
        return wrapper

    FaultInjector.wrap = wrap
    try:
        yield created
    finally:
        FaultInjector.wrap = original


def build_run(tmp_path: Path, faults: list[dict] | None = None, name: str = "run.h5"):
    """(station, points, writer) for a fresh in-process dry run of RELIABILITY_PLAN."""
    plan = load_plan_text(RELIABILITY_PLAN, "reliability.yaml")
    config = station_config(faults=faults or [])
    with collecting_wrappers() as wrappers:
        station = Station.from_config(config, source_text="reliability test")
    station.fault_wrappers = wrappers  # read by the tests, not by the engine
    points = plan_points(plan)
    writer = RunWriter.create(
        tmp_path / name,
        n_bias=N_BIAS,
        n_planned=len(points),
        metadata={"plan": plan.name},
        station_text="reliability test",
        plan_text=RELIABILITY_PLAN,
        snapshot=station.snapshot(),
        point_keys=POINT_KEYS,
    )
    return station, points, writer


def dry_run(
    tmp_path: Path,
    faults: list[dict] | None = None,
    *,
    on_pause: Callable[[], None] | None = None,
    on_spectrum: Callable[[Any, Any], None] | None = None,
    prepare: Callable[[Station, RunWriter], None] | None = None,
    name: str = "run.h5",
    outcome: Outcome | None = None,
    answer: str = "resume",
    notifier: Any = None,
) -> FaultRun:
    """Run RELIABILITY_PLAN with ``faults`` on virtual time; read back what was stored.

    The scripted operator answers every pause with ``answer`` ("resume" or "abort").
    An exception out of the engine is kept in ``FaultRun.error`` (the test decides whether it
    is acceptable); the station is closed either way.
    """
    station, points, writer = build_run(tmp_path, faults, name)
    if prepare is not None:
        prepare(station, writer)
    control = ScriptedControl(on_pause, answer)
    engine = RunEngine(station, points, writer, control=control, on_spectrum=on_spectrum,
                       notifier=notifier)
    result = FaultRun(tmp_path / name, station, None, {}, control)
    try:
        result.summary = engine.run()
    except Exception as exc:  # judged by the test
        result.error = exc
    finally:
        result.injected = injected_counts(station.fault_wrappers)
        station.close()
        if not writer.closed:
            writer.close("failed")
    with RunReader(result.path) as run:
        result.ledger = [int(p) for p in run.ledger]
        result.status = run.status
        result.spectra = {k: np.asarray(v) for k, v in run.spectra().items()}
        result.table = {k: np.asarray(v) for k, v in run.table().items()}
        result.events = [(e.kind, int(e.point_index), e.message) for e in run.events()]
    if outcome is not None:
        outcome.observe(result)
    return result


def assert_complete_and_plausible(run: FaultRun, reference: FaultRun, rtol: float = 0.15) -> None:
    """Every point stored exactly once, all finite, each spectrum close to the fault-free one.

    A garbled or timed-out reading stored as data would be non-finite, or far off: the
    spectra of the same seed without faults differ only by the (band-limited) noise.
    """
    assert sorted(run.ledger) == list(range(N_POINTS)), run.ledger
    assert len(set(run.ledger)) == len(run.ledger)
    G = run.spectra["G_S"]
    assert G.shape == (N_POINTS, N_BIAS)
    assert np.all(np.isfinite(G)) and np.all(np.isfinite(run.spectra["X_V"]))
    ref_rows, rows = reference.rows_of(), run.rows_of()
    for point in range(N_POINTS):
        got, want = G[rows[point]], reference.spectra["G_S"][ref_rows[point]]
        scale = np.max(np.abs(want))
        assert np.all(got > -0.05 * scale), f"point {point}: negative conductance {got}"
        np.testing.assert_allclose(
            got, want, rtol=rtol, atol=0.05 * scale, err_msg=f"point {point} differs"
        )


# ------------------------------------------------------------------------------ recording
def results_path(config: pytest.Config) -> Path:
    env = os.environ.get(RESULTS_ENV)
    if env:
        return Path(env)
    return Path(config.rootpath) / ".reliability" / "results.jsonl"


@dataclass
class Outcome:
    """What one reliability test tried and saw; written as one JSON line after the test."""

    fault: str = ""
    instrument: str = ""
    injections: int = 0
    happened: str = ""
    spectra_planned: int = N_POINTS
    spectra_stored: int = 0
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def spectra_lost(self) -> int:
        """Planned spectra (of the part of the plan the test meant to run) not stored."""
        return max(self.spectra_planned - self.spectra_stored, 0)

    def observe(self, run: FaultRun) -> None:
        """Take injections and spectra counts from ``run`` (the test then sets ``happened``)."""
        self.injections = run.total_injections
        self.spectra_stored = len(set(run.ledger))


_OUTCOME_KEY = pytest.StashKey[Outcome]()


@pytest.fixture
def outcome(request: pytest.FixtureRequest) -> Outcome:
    """The record of this test's fault; fill ``fault``, ``injections``, ``happened``..."""
    record = Outcome()
    request.node.stash[_OUTCOME_KEY] = record
    return record


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo):
    report = yield
    result = report.get_result()
    record = item.stash.get(_OUTCOME_KEY, None)
    if result.when != "call" or record is None or not record.fault:
        return
    happened = record.happened
    if hasattr(result, "wasxfail"):
        happened = f"KNOWN DEFECT (xfail): {result.wasxfail}"
    elif not result.passed:
        crash = getattr(result.longrepr, "reprcrash", None)
        reason = crash.message if crash is not None else str(result.longrepr)
        happened = f"TEST FAILED: {reason.splitlines()[0][:200]}"
    line = {
        "test": item.nodeid,
        "fault": record.fault,
        "instrument": record.instrument,
        "injections": record.injections,
        "happened": happened,
        "spectra_planned": record.spectra_planned,
        "spectra_stored": record.spectra_stored,
        "spectra_lost": record.spectra_lost,
        "passed": result.passed or hasattr(result, "wasxfail"),
        "known_defect": hasattr(result, "wasxfail"),
        "recorded_at": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        **record.extra,
    }
    path = results_path(item.config)
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "a", encoding="utf-8") as f:
        f.write(json.dumps(line) + "\n")


@pytest.fixture(scope="session")
def reference(tmp_path_factory: pytest.TempPathFactory) -> FaultRun:
    """The fault-free run of the same plan and seed, to compare faulty runs against."""
    return dry_run(tmp_path_factory.mktemp("reference"))
