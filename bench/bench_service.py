"""Station service benchmarks (prints figures, asserts nothing).

1. Acquisition throughput of a dry run (simulated station, virtual clock, a setpoint sweep)
   started by ``stm-andreev serve`` with its clients attached - a real ``stm-andreev gui``
   process (offscreen Qt) following the service's queue and run file, the service's page in
   headless Chromium (Selenium; left out when not installed), and a browser-like client (an
   SSE stream read and parsed as the page does, fetching the queue when a status says it
   changed) - versus the same ``stm-andreev run`` alone (target ratio >= 0.95). The rate
   is the run's own "spectra / wall s" line (process start-up is not in it). Pairs alternate
   their order (alone first, then served first, ...) so a drift in the machine's load hits both
   sides; the figure is the ratio of the medians, with every pair printed.
   Beside the wall rates: the CPU seconds per spectrum of every process - the run (alone and
   served; start-up included, as the kernel counts it), the service, the SSE client thread,
   the GUI and Chromium (chromedriver and all its children) - over the run. CPU seconds barely
   move with the machine's load, wall rates do: on a busy machine they show what the clients
   cost when the ratio cannot.
2. Latency from a stored spectrum to the page (target < 1 s), GUI attached. A watcher polls
   the run file's ledger every 5 ms (SWMR) and notes when each row is confirmed; the SSE client
   notes when that row's ``spectrum`` event arrives, and in Chromium a MutationObserver notes
   when the page draws each new spectrum count. The watcher runs only in this separate run, so
   it does not load the pairs. Only rows the stream sends are counted: the page shows the
   newest spectrum, so when two rows land within one 0.2 s poll the older is skipped (its
   summary still arrives).
3. ``--only ladder``: where the CPU goes - the run alone, then served with one client more at
   each step (service, + SSE client, + GUI, + Chromium), ``--runs`` rounds with the steps'
   order rotated each round; prints the table of CPU ms per spectrum in docs/service.md.

    python bench/bench_service.py [--runs 7] [--setpoints 60] [--only throughput|latency|ladder]
        [--no-gui] [--no-browser]

``--runs 9 --setpoints 40`` (the acceptance run) takes about 15 minutes on an idle 2-core
machine.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from stm_andreev.storage import RunReader  # noqa: E402
from tests.service.serving import Served, open_files, start_gui, sweep_plan  # noqa: E402

N_BIAS = 301
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
CHROMEDRIVER = shutil.which("chromedriver")


class SseClient(threading.Thread):
    """Reads /api/stream like the page: parses every event, fetches the queue when a status
    says it changed."""

    def __init__(self, served: Served) -> None:
        super().__init__(daemon=True)
        self.served = served
        self.spectrum_seen: dict[int, float] = {}  # row -> wall time the event arrived
        self.events = 0
        self.stop = threading.Event()
        self.service_share = self.client_share = self.gui_share = float("nan")
        self.browser_share = float("nan")
        self.drawn: dict[int, float] = {}  # spectrum count -> wall time the page showed it
        self.cpu_s = 0.0  # this thread's CPU seconds so far (updated per event)
        self._cpu0 = 0.0

    def run(self) -> None:
        self._cpu0 = time.thread_time()
        with httpx.Client(timeout=None) as client, client.stream(
                "GET", self.served.url + "/api/stream") as response:
            kind = queue_key = ""
            for line in response.iter_lines():
                if self.stop.is_set():
                    return
                if line.startswith("event: "):
                    kind = line[7:]
                elif line.startswith("data: "):
                    data = json.loads(line[6:])
                    self.events += 1
                    self.cpu_s = time.thread_time() - self._cpu0
                    if kind == "spectrum":
                        self.spectrum_seen.setdefault(data["row"], time.time())
                    elif kind == "status":
                        # as the page: the queue is fetched when its counts, the current
                        # plan or the hold changed
                        key = json.dumps([data["queue_counts"], data["current"],
                                          data["queue_hold"]])
                        if key != queue_key:
                            queue_key = key
                            client.get(self.served.url + "/api/queue")
                    self.cpu_s = time.thread_time() - self._cpu0


class PageBrowser:
    """The service's page in headless Chromium (Selenium), as a phone or a lab PC shows it.
    A MutationObserver notes the wall time each new spectrum count is drawn on the page."""

    OBSERVE = """
        window.__drawn = [];
        const el = document.getElementById('count');
        new MutationObserver(() => window.__drawn.push([el.textContent, Date.now() / 1000]))
            .observe(el, {childList: true, characterData: true, subtree: true});
    """

    def __init__(self, url: str) -> None:
        from selenium import webdriver
        from selenium.webdriver.chrome.service import Service

        options = webdriver.ChromeOptions()
        options.binary_location = CHROMIUM
        for arg in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage",
                    "--disable-gpu", "--window-size=1280,1600"):
            options.add_argument(arg)
        self.driver = webdriver.Chrome(service=Service(executable_path=CHROMEDRIVER),
                                       options=options)
        self.driver.get(url + "/")
        self.driver.execute_script(self.OBSERVE)

    def cpu_s(self) -> float:
        """CPU seconds of chromedriver and every Chromium process under it so far."""
        return _tree_cpu_s(self.driver.service.process.pid)

    def drawn(self) -> dict[int, float]:
        """Spectrum count -> wall time the page first showed it."""
        first: dict[int, float] = {}
        for text, t in self.driver.execute_script("return window.__drawn"):
            if str(text).isdigit():
                first.setdefault(int(text), float(t))
        return first

    def close(self) -> None:
        self.driver.quit()


def browser_available() -> bool:
    try:
        import selenium  # noqa: F401
    except ImportError:
        return False
    return bool(CHROMIUM and CHROMEDRIVER)


def _rate(log_text: str) -> tuple[float, int]:
    """(spectra per wall s, spectra) from the run's summary lines."""
    spectra = int(re.search(r"spectra:\s+(\d+) measured", log_text).group(1))
    wall = float(re.search(r"time taken:\s+([\d.]+) s wall", log_text).group(1))
    return spectra / wall, spectra


@dataclass
class Outcome:
    """One run: its rate, its spectra and the CPU seconds each process took meanwhile."""

    rate: float
    spectra: int
    cpu_s: dict[str, float] = field(default_factory=dict)  # process -> CPU s
    client: SseClient | None = None
    confirmed: dict[int, float] = field(default_factory=dict)
    followed: bool = False

    def per_spectrum(self, who: str) -> float:
        return self.cpu_s.get(who, float("nan")) / self.spectra


def run_alone(plan: Path, out: Path) -> Outcome:
    """The run alone, in its own session as the service starts runs: with the kernel's
    autogroup scheduling (sched_autogroup_enabled) each session gets its own CPU share, so a
    run in the bench's session would compete with the bench's clients and other jobs. Its CPU
    seconds are the kernel's own count for the process (``wait4``), start-up included."""
    out.mkdir(parents=True, exist_ok=True)
    cmd = [sys.executable, "-m", "stm_andreev.cli", "run", str(plan), "--out", str(out),
           "--quiet", "--no-report"]
    with open(out / "stdout.txt", "wb") as stdout:
        process = subprocess.Popen(cmd, stdout=stdout, stderr=subprocess.STDOUT,
                                   start_new_session=True)
    _, status, usage = os.wait4(process.pid, 0)
    process.returncode = os.waitstatus_to_exitcode(status)
    text = (out / "stdout.txt").read_text(errors="replace")
    if process.returncode != 0:
        raise RuntimeError(f"the run alone exited {process.returncode}: {text[-2000:]}")
    rate, spectra = _rate(text)
    return Outcome(rate, spectra, {"run": usage.ru_utime + usage.ru_stime})


class RunCpu(threading.Thread):
    """The served run's CPU seconds: the service starts (and reaps) the run, so the bench
    samples ``/proc/PID/stat`` every 20 ms from the pid in the queue file until the process
    is gone (a zombie still shows its totals); at most the last 20 ms are missed."""

    def __init__(self, queue: Path) -> None:
        super().__init__(daemon=True)
        self.queue = queue
        self.cpu_s = 0.0
        self.pid = 0
        self.stop = threading.Event()

    def run(self) -> None:
        while not self.stop.is_set() and not self.pid:
            try:
                items = json.loads(self.queue.read_text())["items"]
                self.pid = next((i["pid"] for i in items if i.get("pid")), 0)
            except (OSError, ValueError, KeyError):
                pass
            time.sleep(0.02)
        while self.pid:
            try:
                self.cpu_s = max(self.cpu_s, _cpu_s(self.pid))
            except (OSError, IndexError):
                return
            time.sleep(0.02)


def run_served(plan_text: str, folder: Path, *, sse: bool = True, gui: bool = True,
               browser: bool = False, watch: bool = False) -> Outcome:
    """Serve, attach the GUI, the page in a browser and the SSE client (each optional), queue
    the plan, wait for the end. With ``watch`` a 5 ms SWMR watcher notes when each row is
    confirmed in the file (for the latency; it loads the machine, so never in the pairs)."""
    folder.mkdir(parents=True, exist_ok=True)
    served = Served(folder).start()
    gui_process = start_gui(served.queue, served.runs, folder / "gui.log") if gui else None
    page = PageBrowser(served.url) if browser else None
    client = SseClient(served) if sse else None
    if client is not None:
        client.start()
    run_cpu = RunCpu(served.queue)
    run_cpu.start()
    outcome = Outcome(float("nan"), 0, client=client)
    try:
        if gui_process is not None:
            _wait_for_gui(gui_process, served)
        before = {"service": _cpu_s(served.process.pid),
                  "SSE client": client.cpu_s if client is not None else 0.0}
        if gui_process is not None:
            before["GUI"] = _cpu_s(gui_process.pid)
        if page is not None:
            before["Chromium"] = page.cpu_s()
        served.post("/api/queue", {"plan_text": plan_text})
        if watch:
            status = served.wait_for(lambda s: (s["current"] or {}).get("run_file"),
                                     "the run file")
            _watch(Path(status["current"]["run_file"]), outcome.confirmed, served)
        # Polled once a second: the bench's own polling would load the service it measures.
        served.wait_for(lambda s: s["queue_counts"] == {"finished": 1}, "the run's end",
                        timeout_s=600, poll_s=1.0)
        after = {"service": _cpu_s(served.process.pid)}
        if client is not None:
            time.sleep(0.5)  # the last spectrum's event is on its way
            after["SSE client"] = client.cpu_s
        if gui_process is not None:
            after["GUI"] = _cpu_s(gui_process.pid)
        if page is not None:
            after["Chromium"] = page.cpu_s()
        run_cpu.join(5)
        outcome.cpu_s = {"run": run_cpu.cpu_s, **{k: after[k] - before[k] for k in after}}
        if gui_process is not None:
            time.sleep(1.5)  # the GUI polls every 0.5 s
            run_file = served.get("/api/queue")[0]["run_path"]
            outcome.followed = (gui_process.poll() is None
                                and run_file in open_files(gui_process.pid))
        outcome.rate, outcome.spectra = _rate(next(served.runs.glob("*/run.log")).read_text())
        if page is not None and client is not None:
            client.drawn = page.drawn()
    finally:
        run_cpu.stop.set()
        if client is not None:
            client.stop.set()
        if page is not None:
            page.close()
        if gui_process is not None:
            gui_process.terminate()
            gui_process.wait(30)
        served.stop()
    return outcome


def _wait_for_gui(process: subprocess.Popen, served: Served) -> None:
    """Until the GUI has started (Qt loaded, window built): its CPU use over the last second
    falls below a third of a core, so its start-up is not counted against the service."""
    deadline = time.monotonic() + 180
    last = _cpu_s(process.pid)
    while time.monotonic() < deadline:
        time.sleep(1.0)
        if process.poll() is not None:
            raise RuntimeError(f"the GUI exited {process.returncode}: "
                               f"{(served.tmp / 'gui.log').read_text(errors='replace')}")
        now = _cpu_s(process.pid)
        qt_loaded = "libQt5Widgets" in Path(f"/proc/{process.pid}/maps").read_text()
        if qt_loaded and now - last < 0.33:
            return
        last = now
    raise RuntimeError("the GUI did not settle within 180 s")


def _tree_cpu_s(root: int) -> float:
    """CPU seconds of ``root`` and all its descendants alive now (Linux /proc)."""
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                ppid = int((entry / "stat").read_text().rpartition(")")[2].split()[1])
            except (OSError, IndexError, ValueError):
                continue
            children.setdefault(ppid, []).append(int(entry.name))
    total, todo = 0.0, [root]
    while todo:
        pid = todo.pop()
        try:
            total += _cpu_s(pid)
        except OSError:
            continue
        todo.extend(children.get(pid, []))
    return total


def _cpu_s(pid: int) -> float:
    """User + system CPU seconds of process ``pid`` so far (Linux /proc)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _watch(path: Path, confirmed: dict[int, float], served: Served) -> None:
    while True:
        try:
            reader = RunReader(path, live=True)
            break
        except Exception:  # being laid out by the writer
            time.sleep(0.005)
    with reader:
        while True:
            n = reader.refresh()
            now = time.time()
            for row in range(len(confirmed), n):
                confirmed[row] = now
            if reader.status in ("finished", "aborted", "failed") and n == len(confirmed):
                return
            time.sleep(0.005)


PROCESSES = ("run", "service", "SSE client", "GUI", "Chromium")


def _med(outcomes: list[Outcome], who: str) -> float:
    values = [o.per_spectrum(who) for o in outcomes if who in o.cpu_s]
    return statistics.median(values) if values else float("nan")


def _cpu_line(outcome: Outcome) -> str:
    return ", ".join(f"{who} {1e3 * outcome.per_spectrum(who):.0f}" for who in PROCESSES
                     if who in outcome.cpu_s)


def throughput(n_runs: int, n_setpoints: int, folder: Path, *, gui: bool,
               browser: bool) -> None:
    """Pairs alone/served, alternating which goes first (ABBA...), so a drift in the
    machine's load hits both sides. Wall rates are printed beside the CPU seconds per
    spectrum of every process: CPU seconds barely move with the machine's load."""
    plan_text = sweep_plan("bench-service", n=n_setpoints, n_bias=N_BIAS)
    plan = folder / "bench-service.yaml"
    plan.write_text(plan_text)
    clients = " + ".join(["GUI"] * gui + ["browser"] * browser + ["SSE client"])
    alone: list[Outcome] = []
    served: list[Outcome] = []
    t0 = time.perf_counter()
    for k in range(n_runs):
        def serve(k: int = k) -> Outcome:
            return run_served(plan_text, folder / f"served-{k}", gui=gui, browser=browser)
        if k % 2 == 0:
            a = run_alone(plan, folder / f"alone-{k}")
            o = serve()
        else:
            o = serve()
            a = run_alone(plan, folder / f"alone-{k}")
        alone.append(a)
        served.append(o)
        followed = (f"; GUI followed the run file: {'yes' if o.followed else 'NO'}"
                    if gui else "")
        print(f"  pair {k + 1} ({'alone first' if k % 2 == 0 else 'served first'}): alone "
              f"{a.rate:.2f} spectra/s, served + {clients} {o.rate:.2f} spectra/s (ratio "
              f"{o.rate / a.rate:.3f}); CPU ms/spectrum: alone run "
              f"{1e3 * a.per_spectrum('run'):.0f} | served {_cpu_line(o)}; SSE events "
              f"{o.client.events if o.client else 0}{followed}; load average "
              f"{os.getloadavg()[0]:.1f}", flush=True)
    a_rate = statistics.median(o.rate for o in alone)
    s_rate = statistics.median(o.rate for o in served)
    ratios = [o.rate / a.rate for o, a in zip(served, alone, strict=True)]
    print(f"throughput ({n_setpoints} spectra x {N_BIAS} points, simulated station, "
          f"{n_runs} pairs, {time.perf_counter() - t0:.0f} s): alone median {a_rate:.2f} "
          f"spectra/s (range {min(o.rate for o in alone):.2f} to "
          f"{max(o.rate for o in alone):.2f}), served + {clients} median {s_rate:.2f} "
          f"spectra/s (range {min(o.rate for o in served):.2f} to "
          f"{max(o.rate for o in served):.2f}); RATIO OF MEDIANS {s_rate / a_rate:.3f} "
          f"(target >= 0.95); median of pair ratios {statistics.median(ratios):.3f} (pairs "
          f"{min(ratios):.2f} to {max(ratios):.2f}); {os.cpu_count()} CPUs")
    run_alone_cpu, run_served_cpu = _med(alone, "run"), _med(served, "run")
    clients_cpu = sum(_med(served, w) for w in PROCESSES[1:] if any(w in o.cpu_s
                                                                     for o in served))
    print("CPU ms per spectrum (medians): run alone " f"{1e3 * run_alone_cpu:.1f}; served: "
          + ", ".join(f"{w} {1e3 * _med(served, w):.1f}" for w in PROCESSES
                      if any(w in o.cpu_s for o in served))
          + f"; the clients together {1e3 * clients_cpu:.1f} = "
          f"{100 * clients_cpu / run_alone_cpu:.1f} % of the run's own CPU; run served/alone "
          f"CPU {run_served_cpu / run_alone_cpu:.3f}")


LADDER = (
    ("run alone", {}),
    ("+ service", {"sse": False, "gui": False, "browser": False}),
    ("+ SSE client", {"sse": True, "gui": False, "browser": False}),
    ("+ GUI", {"sse": True, "gui": True, "browser": False}),
    ("+ Chromium", {"sse": True, "gui": True, "browser": True}),
)


def ladder(n_runs: int, n_setpoints: int, folder: Path, *, browser: bool) -> None:
    """Where the CPU goes: the run alone, then served with one client more at each step;
    ``n_runs`` rounds, the steps' order rotated each round. Prints CPU ms per spectrum of
    every process (medians), the table in docs/service.md."""
    plan_text = sweep_plan("bench-ladder", n=n_setpoints, n_bias=N_BIAS)
    plan = folder / "bench-ladder.yaml"
    plan.write_text(plan_text)
    steps = [s for s in LADDER if browser or not s[1].get("browser")]
    got: dict[str, list[Outcome]] = {name: [] for name, _ in steps}
    t0 = time.perf_counter()
    for r in range(n_runs):
        for j in range(len(steps)):
            name, kw = steps[(j + r) % len(steps)]
            where = folder / f"ladder-{r}-{j}"
            o = run_alone(plan, where) if not kw else run_served(plan_text, where, **kw)
            got[name].append(o)
            print(f"  round {r + 1}, {name}: {o.rate:.2f} spectra/s; CPU ms/spectrum "
                  f"{_cpu_line(o)}; load average {os.getloadavg()[0]:.1f}", flush=True)
    print(f"CPU ms per spectrum, medians of {n_runs} ({n_setpoints} spectra x {N_BIAS} "
          f"points; {time.perf_counter() - t0:.0f} s):")
    print("| | " + " | ".join(PROCESSES) + " | clients total | spectra/s |")
    print("|---" * (len(PROCESSES) + 3) + "|")
    for name, _ in steps:
        outs = got[name]
        cells = [f"{1e3 * _med(outs, w):.1f}" if any(w in o.cpu_s for o in outs) else ""
                 for w in PROCESSES]
        total = sum(_med(outs, w) for w in PROCESSES[1:] if any(w in o.cpu_s for o in outs))
        print(f"| {name} | " + " | ".join(cells) + f" | {1e3 * total:.1f} | "
              f"{statistics.median(o.rate for o in outs):.2f} |")


def latency(n_setpoints: int, folder: Path, *, gui: bool, browser: bool) -> None:
    plan_text = sweep_plan("bench-latency", n=n_setpoints, n_bias=N_BIAS)
    o = run_served(plan_text, folder / "latency", gui=gui, browser=browser, watch=True)
    client, confirmed = o.client, o.confirmed
    attached = (" (GUI attached, followed the run: " + ("yes" if o.followed else "NO") + ")"
                if gui else "")
    _print_latency(f"stored spectrum -> SSE spectrum event at a client{attached}",
                   {r: client.spectrum_seen[r] - confirmed[r] for r in client.spectrum_seen
                    if r in confirmed}, len(confirmed), "rows sent as spectrum events")
    if browser:
        # count n on the page means row n - 1 is stored
        _print_latency("stored spectrum -> its count drawn on the page in Chromium",
                       {n: t - confirmed[n - 1] for n, t in client.drawn.items()
                        if n >= 1 and n - 1 in confirmed}, len(confirmed), "counts drawn")


def _print_latency(what: str, by_row: dict[int, float], n_rows: int, counted: str) -> None:
    lat = sorted(by_row.values())
    if not lat:
        print(f"latency {what}: nothing matched a confirmed row (not measured)")
        return
    p95 = lat[min(len(lat) - 1, int(0.95 * len(lat)))]
    print(f"latency {what} ({len(lat)} of {n_rows} {counted}): median "
          f"{statistics.median(lat):.3f} s, p95 {p95:.3f} s, max {lat[-1]:.3f} s (target < 1 s; "
          f"5 ms watcher resolution)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=7, help="pairs, or ladder rounds (7)")
    parser.add_argument("--setpoints", type=int, default=60)
    parser.add_argument("--only", choices=("throughput", "latency", "ladder"), default=None,
                        help="one part (default: throughput, then latency)")
    parser.add_argument("--no-gui", action="store_true", help="no GUI process attached")
    parser.add_argument("--no-browser", action="store_true",
                        help="no headless Chromium (used when Selenium and chromium are there)")
    args = parser.parse_args()
    browser = not args.no_browser and browser_available()
    if not args.no_browser and not browser:
        print("no Selenium/chromium/chromedriver: the page's browser is left out", flush=True)
    t0 = time.perf_counter()
    with tempfile.TemporaryDirectory() as tmp:
        if args.only == "ladder":
            ladder(args.runs, args.setpoints, Path(tmp), browser=browser)
        if args.only in (None, "throughput"):
            throughput(args.runs, args.setpoints, Path(tmp), gui=not args.no_gui,
                       browser=browser)
        if args.only in (None, "latency"):
            latency(args.setpoints, Path(tmp), gui=not args.no_gui, browser=browser)
    print(f"bench took {time.perf_counter() - t0:.0f} s wall")


if __name__ == "__main__":
    main()
