"""Spectra analysed in worker processes of Dask's local scheduler: same numbers, same order,
same errors."""

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
    offset = 100  # a closure: cloudpickle takes it to the workers

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
    monkeypatch.setattr(os, "sched_getaffinity", lambda pid: {0, 1, 2, 3})
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


def test_map_items_runs_on_dasks_local_scheduler():
    """Issue 17: the report's spectra go through Dask's local scheduler (the hand-made
    forked workers are gone): a Dask callback sees the tasks, and they run elsewhere."""
    from dask.callbacks import Callback

    seen: list[str] = []
    with Callback(pretask=lambda key, dsk, state: seen.append(str(key))):
        out = parallel.map_items(_pid, list(range(6)), workers=2)
    assert len(seen) == 6
    assert os.getpid() not in out


def _pid(_item):
    return os.getpid()


def test_the_report_is_the_same_on_workers_and_in_one_process(tmp_path):
    """Figures, report.md and summary.json of the same run, analysed in this process and on
    Dask's process pool, byte for byte."""
    from stm_andreev.analysis.report import write_report

    path, _ = write_paper_run(tmp_path / "run.h5")
    one = write_report([path], tmp_path / "one", workers=1).parent
    two = write_report([path], tmp_path / "two", workers=2).parent
    names = sorted(p.name for p in one.iterdir())
    assert names == sorted(p.name for p in two.iterdir())
    assert any(n.endswith(".png") for n in names) and "summary.json" in names
    for name in names:
        assert (one / name).read_bytes() == (two / name).read_bytes(), name
