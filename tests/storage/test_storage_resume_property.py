"""Property: whatever the order of points and wherever appends are interrupted, resuming and
finishing leaves every point in the file exactly once with its own data."""

from __future__ import annotations

import tempfile
from pathlib import Path

import numpy as np
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from stm_andreev.storage import RunReader, RunWriter

from .storage_helpers import append_point, new_run, spectrum_for

N_PLANNED = 10


class Interrupted(Exception):
    """Stands for the process dying inside append_spectrum."""


@st.composite
def scenarios(draw):
    order = draw(st.permutations(range(N_PLANNED)))
    crashes = draw(st.lists(
        st.tuples(st.sampled_from(["row_written", "ledger_written"]),
                  st.integers(0, N_PLANNED - 1)),
        max_size=4, unique_by=lambda c: c[1],
    ))
    return order, dict((point, stage) for stage, point in crashes)


@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(scenarios())
def test_every_point_exactly_once_after_interrupted_appends(scenario):
    order, crash_at = scenario
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "run.h5"
        pending = dict(crash_at)

        def hook(stage: str, point: int) -> None:
            if pending.get(point) == stage:
                del pending[point]
                raise Interrupted

        RunWriter.fault_hook = hook
        try:
            writer = new_run(path, n_planned=N_PLANNED)
            position = 0
            while position < len(order):
                point = order[position]
                if writer.is_finished(point):
                    position += 1
                    continue
                try:
                    append_point(writer, point)
                    position += 1
                except Interrupted:
                    writer.close("aborted")
                    writer = RunWriter.resume(path)
            writer.close()
        finally:
            RunWriter.fault_hook = None

        with RunReader(path) as reader:
            ledger = [int(p) for p in reader.ledger]
            assert sorted(ledger) == list(range(N_PLANNED))
            # confirmed order follows the plan order (an interrupted point may be confirmed
            # already, when the ledger entry was written before the interruption)
            assert ledger == list(order)
            g = reader.spectra()["G_S"]
            for row, point in enumerate(ledger):
                np.testing.assert_array_equal(g[row], spectrum_for(point)["G_S"])
