"""Spectra analysed in forked worker processes: same numbers, same order, same errors."""

import os
import sys
import threading

import pytest

from stm_andreev.analysis import parallel
from stm_andreev.analysis.errors import FitError
from stm_andreev.analysis.report import analyze_items
from stm_andreev.analysis.sources import load_spectra

from .simulated import write_paper_run

pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"),
                                reason="worker processes are forked on Linux only")


def test_map_items_keeps_order_and_caught_errors_and_runs_in_other_processes():
    offset = 100  # a closure: the forked workers inherit it, nothing is pickled

    def work(k):
        if k == 3:
            raise ValueError("three")
        return k + offset, os.getpid()

    out = parallel.map_items(work, list(range(8)), workers=2, catch=(ValueError,))
    assert isinstance(out[3], ValueError) and str(out[3]) == "three"
    assert [r[0] for i, r in enumerate(out) if i != 3] == [100, 101, 102, 104, 105, 106, 107]
    assert os.getpid() not in {r[1] for i, r in enumerate(out) if i != 3}
    with pytest.raises(ValueError, match="three"):
        parallel.map_items(work, list(range(8)), workers=2)


def test_no_workers_unasked_while_another_thread_runs(monkeypatch):
    monkeypatch.setattr(parallel.os, "sched_getaffinity", lambda pid: {0, 1, 2, 3})
    assert parallel.default_workers(1) == 1
    stop = threading.Event()
    other = threading.Thread(target=stop.wait)
    other.start()
    try:
        assert parallel.default_workers(1000) == 1
    finally:
        stop.set()
        other.join()


def test_workers_give_the_numbers_one_process_gives(tmp_path, monkeypatch):
    path, _ = write_paper_run(tmp_path / "run.h5")
    specs = load_spectra(path)
    import stm_andreev.analysis.report as report

    real = report.analyze_spectrum

    def flaky(spec, **kwargs):  # the caller's function reaches the workers
        if spec.index == 2:
            raise FitError("every start of the btk fit failed")
        return real(spec, **kwargs)

    monkeypatch.setattr(report, "analyze_spectrum", flaky)
    errors_one: list[str] = []
    errors_two: list[str] = []
    one = analyze_items(specs, workers=1, errors=errors_one)
    two = analyze_items(specs, workers=2, errors=errors_two)
    assert errors_two == errors_one == [f"{specs[2].source}[2]: not analysed: every start of "
                                        "the btk fit failed"]
    assert [a.result for a in two] == [a.result for a in one]  # every float bit for bit
    assert [a.fit for a in two] == [a.fit for a in one]
    assert all(a.spectrum is s for a, s in zip(two, specs[:2] + specs[3:], strict=True))
