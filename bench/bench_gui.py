"""GUI benchmarks (prints figures, asserts nothing).

1. Redraw time of the live spectra view with a 1,000-spectrum run attached while new spectra
   arrive (target: median < 50 ms). The run file is written by RunWriter with the project's
   physics spectra: 600 setpoints, then 400 temperatures, 301 bias points each; 900 are there
   when the view attaches, the last 100 arrive one by one.
2. Acquisition throughput of the same ``stm-andreev run`` (simulated station, a setpoint sweep)
   with the GUI attached (live spectra + run control polling the file) versus alone
   (target ratio >= 0.95). Runs alternate alone / attached to share the machine's load fairly.

3. Paints while following a run (``--only paints``): a run file grows by one spectrum every
   0.15 s (a dry run's rate) in this process while the live spectra view follows it in a
   1600 x 950 window; prints the plots' paints per redraw, their CPU, and the GUI's CPU per
   spectrum (the writer's CPU taken out).

    python bench/bench_gui.py [--spectra 1000] [--runs 3] [--setpoints 40]
                              [--only redraw|throughput|paints]

The machine's load shifts both throughput figures; the pairs and the GUI's own CPU share
(printed) tell how much of a difference is the GUI.
"""

from __future__ import annotations

import argparse
import os
import re
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

import numpy as np  # noqa: E402
from PyQt5 import QtCore, QtWidgets  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from stm_andreev.gui.run_control import RunControlWidget  # noqa: E402
from stm_andreev.gui.spectra_view import LiveSpectraWidget  # noqa: E402
from stm_andreev.service.launcher import find_run_file  # noqa: E402
from tests.gui.physics_runs import append, create_run  # noqa: E402

THROUGHPUT_PLAN = """
name: bench-gui
steps:
  - kind: setpoint_sweep
    label: setpoints
    I_start_A: 1.0e-9
    I_stop_A: 1.0e-6
    n_setpoints: {n}
    n_bias: 301
    settle_s: 0.01
    integration_s: 0.01
    feedback_settle_s: 0.1
"""


def redraw_benchmark(app: QtWidgets.QApplication, n_spectra: int, folder: Path) -> None:
    n_set = int(n_spectra * 0.6)
    rows = [(0, float(I), 0.065) for I in np.geomspace(1e-9, 1e-6, n_set)]
    rows += [(1, 1e-6, float(T)) for T in np.linspace(0.065, 1.6, n_spectra - n_set)]
    bias = np.linspace(-1.5e-3, 1.5e-3, 301)
    path = folder / "bench-1000.h5"
    writer = create_run(path, len(rows), n_bias=301)
    n_before = len(rows) - 100
    t0 = time.perf_counter()
    for i, row in enumerate(rows[:n_before]):
        append(writer, i, row, bias, time_s=float(i))
    print(f"wrote {n_before} physics spectra in {time.perf_counter() - t0:.1f} s")
    view = LiveSpectraWidget()
    view.resize(1600, 900)
    view.show()
    t0 = time.perf_counter()
    view.follow(path)
    while not view._analysis_done():
        view.update_views()
        app.processEvents()
    print(f"attach: first draw + in-line analysis of {view.model.temperature_rows().size} "
          f"temperature rows took {time.perf_counter() - t0:.2f} s "
          f"(spread over redraws of at most ~{1e3 * 0.015:.0f} ms of analysis each)")
    view.redraw_times_s.clear()
    with_paint, summary = [], []
    for i, row in enumerate(rows[n_before:], start=n_before):
        append(writer, i, row, bias, time_s=float(i))
        view._current_due = 0.0  # as at lab rates: every spectrum is drawn (no throttling)
        t0 = time.perf_counter()
        view.update_views()  # what the timer does when a spectrum has arrived
        app.processEvents()  # and Qt paints it
        with_paint.append(time.perf_counter() - t0)
        t0 = time.perf_counter()
        view._redraw_summary()  # every view, as a SUMMARY_REDRAW_S tick does
        app.processEvents()
        summary.append(time.perf_counter() - t0)
    writer.close("finished")

    def stats(name: str, values) -> None:
        ms = np.array(values) * 1e3
        print(f"  {name}: median {np.median(ms):.1f} ms, p95 {np.percentile(ms, 95):.1f} ms, "
              f"max {ms.max():.1f} ms")

    print(f"redraw with {view.model.n} spectra attached, {len(with_paint)} new spectra "
          "(target median < 50 ms):")
    stats("new spectrum: read + current view (no paint)", view.redraw_times_s)
    stats("new spectrum: read + current view + Qt paint", with_paint)
    stats("summary views (waterfall, -d2G/dV2 map, setpoint and gap plots) + paint", summary)
    view.close_run()


def paint_benchmark(app: QtWidgets.QApplication, n_spectra: int, folder: Path,
                    period_s: float = 0.15) -> None:
    import pyqtgraph as pg

    paints: list[float] = []  # CPU seconds of each paint of the plots
    plain_paint = pg.GraphicsView.paintEvent

    def timed_paint(self, event):  # this process only: the paint's CPU, for the figures
        c0 = time.process_time()
        try:
            return plain_paint(self, event)
        finally:
            paints.append(time.process_time() - c0)

    pg.GraphicsView.paintEvent = timed_paint
    rows = [(0, float(I), 0.065) for I in np.geomspace(1e-9, 1e-6, n_spectra)]
    bias = np.linspace(-1.5e-3, 1.5e-3, 301)
    path = folder / "bench-paints.h5"
    writer = create_run(path, len(rows), n_bias=301)
    append(writer, 0, rows[0], bias)
    window = QtWidgets.QMainWindow()
    view = LiveSpectraWidget()
    window.setCentralWidget(view)
    window.resize(1600, 950)
    window.show()
    view.follow(path)
    for _ in range(10):
        app.processEvents()
    redraws = {"current": 0, "summary": 0}
    plain = {name: getattr(view, f"_redraw_{name}") for name in redraws}

    def counted(name: str):
        def redraw() -> None:
            redraws[name] += 1
            plain[name]()
        return redraw

    for name in redraws:
        setattr(view, f"_redraw_{name}", counted(name))
    paints.clear()
    state = {"i": 1, "write_cpu": 0.0}
    loop = QtCore.QEventLoop()

    def write() -> None:
        if state["i"] >= n_spectra:
            timer.stop()
            QtCore.QTimer.singleShot(2500, loop.quit)  # the last redraws (throttled) land
            return
        c0 = time.process_time()
        append(writer, state["i"], rows[state["i"]], bias, time_s=float(state["i"]))
        state["write_cpu"] += time.process_time() - c0
        state["i"] += 1

    timer = QtCore.QTimer()
    timer.setInterval(int(1e3 * period_s))
    timer.timeout.connect(write)
    cpu0, wall0 = time.process_time(), time.perf_counter()
    timer.start()
    loop.exec_()
    gui_cpu = time.process_time() - cpu0 - state["write_cpu"]
    wall = time.perf_counter() - wall0
    writer.close("finished")
    view.close_run()
    window.close()
    pg.GraphicsView.paintEvent = plain_paint
    n = n_spectra - 1
    print(f"following a run: {n} spectra in {wall:.1f} s; redraws: current spectrum "
          f"{redraws['current']}, summary views {redraws['summary']}; paints of the plots "
          f"{len(paints)} ({1e3 * sum(paints) / max(len(paints), 1):.1f} ms CPU each, "
          f"{sum(paints):.2f} s); GUI CPU {1e3 * gui_cpu / n:.1f} ms per spectrum")


def _run(plan: Path, out: Path, app: QtWidgets.QApplication | None) -> tuple[float, float]:
    """Run the plan; return (spectra per wall second as the run reports it, CPU seconds the
    GUI used per wall second meanwhile)."""
    cpu0, wall0 = time.process_time(), time.perf_counter()
    cmd = [sys.executable, "-m", "stm_andreev.cli", "run", str(plan), "--out", str(out),
           "--quiet", "--no-report"]
    process = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    widgets = []
    if app is not None:
        from stm_andreev.service.launcher import RunLauncher
        from stm_andreev.service.queue_store import RunQueue

        view = LiveSpectraWidget()
        control = RunControlWidget(RunQueue(out / "queue.json"), RunLauncher(), runs_dir=out)
        view.show()
        widgets = [view, control]
        attached = False
        while process.poll() is None:
            if not attached and find_run_file(out) is not None:
                view.follow(find_run_file(out))
                control.attach(find_run_file(out))
                attached = True
            app.processEvents()
            time.sleep(0.005)  # an idle event loop waits for its timers
    output = process.communicate()[0]
    for w in widgets:
        if isinstance(w, LiveSpectraWidget):
            w.close_run()
        w.close()
    gui_share = (time.process_time() - cpu0) / (time.perf_counter() - wall0)
    spectra = int(re.search(r"spectra:\s+(\d+) measured", output).group(1))
    wall = float(re.search(r"time taken:\s+([\d.]+) s wall", output).group(1))
    return spectra / wall, gui_share


def throughput_benchmark(app: QtWidgets.QApplication, n_runs: int, n_setpoints: int,
                         folder: Path) -> None:
    plan = folder / "bench-gui.yaml"
    plan.write_text(THROUGHPUT_PLAN.format(n=n_setpoints))
    alone, attached, shares = [], [], []
    for k in range(n_runs):
        alone.append(_run(plan, folder / f"alone-{k}", None)[0])
        rate, share = _run(plan, folder / f"gui-{k}", app)
        attached.append(rate)
        shares.append(share)
        print(f"  pair {k + 1}: alone {alone[-1]:.2f} spectra/s, GUI attached {rate:.2f} "
              f"spectra/s (ratio {rate / alone[-1]:.3f}; GUI used {100 * share:.1f} % of a core)")
    a, g = statistics.median(alone), statistics.median(attached)
    print(f"throughput ({n_setpoints} spectra x 301 points, simulated station): alone "
          f"{a:.2f} spectra/s, GUI attached {g:.2f} spectra/s, ratio {g / a:.3f} "
          f"(target >= 0.95); GUI CPU {100 * statistics.median(shares):.1f} % of a core; "
          f"machine load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--spectra", type=int, default=1000)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--setpoints", type=int, default=40)
    parser.add_argument("--only", choices=("redraw", "throughput", "paints"), default=None)
    args = parser.parse_args()
    app = QtWidgets.QApplication.instance() or QtWidgets.QApplication([])
    with tempfile.TemporaryDirectory() as tmp:
        if args.only in (None, "redraw"):
            redraw_benchmark(app, args.spectra, Path(tmp))
        if args.only in (None, "paints"):
            paint_benchmark(app, args.setpoints, Path(tmp))
        if args.only in (None, "throughput"):
            throughput_benchmark(app, args.runs, args.setpoints, Path(tmp))


if __name__ == "__main__":
    main()
