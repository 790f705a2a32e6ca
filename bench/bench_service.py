"""Station service benchmarks (prints figures, asserts nothing).

1. Acquisition throughput of a dry run (simulated station, virtual clock, a setpoint sweep)
   started by ``stm-andreev serve`` with its clients attached - a real ``stm-andreev gui``
   process (offscreen Qt) following the service's queue and run file, the service's page in
   headless Chromium (Selenium; left out when not installed), and a browser-like client (an
   SSE stream read and parsed as the page does, plus the page's queue refresh on each status
   change) - versus the same ``stm-andreev run`` alone (target ratio >= 0.95). The rate
   is the run's own "spectra / wall s" line (process start-up is not in it). Pairs alternate
   their order (alone first, then served first, ...) so a drift in the machine's load hits both
   sides; the figure is the ratio of the medians, with every pair printed.
2. Latency from a stored spectrum to the page (target < 1 s), GUI attached. A watcher polls
   the run file's ledger every 5 ms (SWMR) and notes when each row is confirmed; the SSE client
   notes when that row's ``spectrum`` event arrives, and in Chromium a MutationObserver notes
   when the page draws each new spectrum count. The watcher runs only in this separate run, so it does not load the pairs.
   Only rows the stream sends are counted: the page shows the newest spectrum, so when two
   rows land within one 0.2 s poll the older is skipped (its summary still arrives).

    python bench/bench_service.py [--runs 7] [--setpoints 60] [--only throughput|latency]
        [--no-gui] [--no-browser]
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
    """Reads /api/stream like the page: parses every event, refreshes the queue on status."""

    def __init__(self, served: Served) -> None:
        super().__init__(daemon=True)
        self.served = served
        self.spectrum_seen: dict[int, float] = {}  # row -> wall time the event arrived
        self.events = 0
        self.stop = threading.Event()
        self.service_share = self.client_share = self.gui_share = float("nan")
        self.browser_share = float("nan")
        self.drawn: dict[int, float] = {}  # spectrum count -> wall time the page showed it

    def run(self) -> None:
        with httpx.Client(timeout=None) as client, client.stream(
                "GET", self.served.url + "/api/stream") as response:
            kind = ""
            for line in response.iter_lines():
                if self.stop.is_set():
                    return
                if line.startswith("event: "):
                    kind = line[7:]
                elif line.startswith("data: "):
                    data = json.loads(line[6:])
                    self.events += 1
                    if kind == "spectrum":
                        self.spectrum_seen.setdefault(data["row"], time.time())
                    elif kind == "status":
                        client.get(self.served.url + "/api/queue")


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


def _rate(log_text: str) -> float:
    spectra = int(re.search(r"spectra:\s+(\d+) measured", log_text).group(1))
    wall = float(re.search(r"time taken:\s+([\d.]+) s wall", log_text).group(1))
    return spectra / wall


def run_alone(plan: Path, out: Path) -> float:
    """The run alone, in its own session as the service starts runs: with the kernel's
    autogroup scheduling (sched_autogroup_enabled) each session gets its own CPU share, so a
    run in the bench's session would compete with the bench's clients and other jobs."""
    cmd = [sys.executable, "-m", "stm_andreev.cli", "run", str(plan), "--out", str(out),
           "--quiet", "--no-report"]
    return _rate(subprocess.run(cmd, capture_output=True, text=True, check=True,
                                start_new_session=True).stdout)


def run_served(plan_text: str, folder: Path, *, gui: bool = True, browser: bool = False,
               watch: bool = False):
    """Serve, attach the GUI, the page in a browser and the SSE client, queue the plan, wait
    for the end. Returns (rate, client, row -> wall time the row was confirmed in the file
    (only with ``watch``), whether the GUI had the run file open at the end)."""
    folder.mkdir(parents=True, exist_ok=True)
    served = Served(folder).start()
    gui_process = start_gui(served.queue, served.runs, folder / "gui.log") if gui else None
    page = PageBrowser(served.url) if browser else None
    client = SseClient(served)
    client.start()
    confirmed: dict[int, float] = {}
    followed = False
    try:
        if gui_process is not None:
            _wait_for_gui(gui_process, served)
        cpu0, own0, wall0 = _cpu_s(served.process.pid), time.process_time(), time.perf_counter()
        gui0 = _cpu_s(gui_process.pid) if gui_process is not None else 0.0
        page0 = page.cpu_s() if page is not None else 0.0
        served.post("/api/queue", {"plan_text": plan_text})
        if watch:
            status = served.wait_for(lambda s: (s["current"] or {}).get("run_file"),
                                     "the run file")
            _watch(Path(status["current"]["run_file"]), confirmed, served)
        # Polled once a second: the bench's own polling would load the service it measures.
        served.wait_for(lambda s: s["queue_counts"] == {"finished": 1}, "the run's end",
                        timeout_s=600, poll_s=1.0)
        wall = time.perf_counter() - wall0
        client.service_share = (_cpu_s(served.process.pid) - cpu0) / wall
        client.client_share = (time.process_time() - own0) / wall
        if page is not None:
            client.browser_share = (page.cpu_s() - page0) / wall
        if gui_process is not None:
            client.gui_share = (_cpu_s(gui_process.pid) - gui0) / wall
            time.sleep(1.5)  # the GUI polls every 0.5 s
            run_file = served.get("/api/queue")[0]["run_path"]
            followed = gui_process.poll() is None and run_file in open_files(gui_process.pid)
        run_log = next(served.runs.glob("*/run.log")).read_text()
        time.sleep(0.5)  # the last spectrum's event is on its way
        if page is not None:
            client.drawn = page.drawn()
    finally:
        client.stop.set()
        if page is not None:
            page.close()
        if gui_process is not None:
            gui_process.terminate()
            gui_process.wait(30)
        served.stop()
    return _rate(run_log), client, confirmed, followed


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


def throughput(n_runs: int, n_setpoints: int, folder: Path, *, gui: bool,
               browser: bool) -> None:
    plan_text = sweep_plan("bench-service", n=n_setpoints, n_bias=N_BIAS)
    plan = folder / "bench-service.yaml"
    plan.write_text(plan_text)
    clients = " + ".join(["GUI"] * gui + ["browser"] * browser + ["SSE client"])
    alone, served, shares, gui_shares, browser_shares, ratios = [], [], [], [], [], []
    for k in range(n_runs):
        if k % 2 == 0:  # alternate the order within a pair
            a = run_alone(plan, folder / f"alone-{k}")
            rate, client, _, followed = run_served(plan_text, folder / f"served-{k}", gui=gui,
                                                    browser=browser)
        else:
            rate, client, _, followed = run_served(plan_text, folder / f"served-{k}", gui=gui,
                                                    browser=browser)
            a = run_alone(plan, folder / f"alone-{k}")
        alone.append(a)
        served.append(rate)
        ratios.append(rate / a)
        shares.append(client.service_share)
        gui_shares.append(client.gui_share)
        gui_note = (f", the GUI {100 * client.gui_share:.1f} % (followed the run file: "
                    f"{'yes' if followed else 'NO'})") if gui else ""
        gui_note += f", Chromium {100 * client.browser_share:.1f} %" if browser else ""
        browser_shares.append(client.browser_share)
        print(f"  pair {k + 1} ({'alone first' if k % 2 == 0 else 'served first'}): alone "
              f"{a:.2f} spectra/s, served + {clients} {rate:.2f} spectra/s (ratio "
              f"{rate / a:.3f}; SSE client got {client.events} events; CPU: service "
              f"{100 * client.service_share:.1f} % of a core{gui_note}; load average "
              f"{os.getloadavg()[0]:.1f})", flush=True)
    a, s = statistics.median(alone), statistics.median(served)
    print(f"throughput ({n_setpoints} spectra x {N_BIAS} points, simulated station, "
          f"{n_runs} pairs): alone median {a:.2f} spectra/s (range {min(alone):.2f} to "
          f"{max(alone):.2f}), served + {clients} median {s:.2f} spectra/s (range "
          f"{min(served):.2f} to {max(served):.2f}); RATIO OF MEDIANS {s / a:.3f} (target >= "
          f"0.95); median of pair ratios {statistics.median(ratios):.3f} (pairs "
          f"{min(ratios):.2f} to {max(ratios):.2f}); service CPU median "
          f"{100 * statistics.median(shares):.1f} % of a core"
          + (f", GUI CPU median {100 * statistics.median(gui_shares):.1f} %" if gui else "")
          + (f", Chromium CPU median {100 * statistics.median(browser_shares):.1f} %"
             if browser else "")
          + f"; {os.cpu_count()} CPUs")


def latency(n_setpoints: int, folder: Path, *, gui: bool, browser: bool) -> None:
    plan_text = sweep_plan("bench-latency", n=n_setpoints, n_bias=N_BIAS)
    _, client, confirmed, followed = run_served(plan_text, folder / "latency", gui=gui,
                                                browser=browser, watch=True)
    attached = (" (GUI attached, followed the run: " + ("yes" if followed else "NO") + ")"
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
    parser.add_argument("--runs", type=int, default=7, help="pairs (default 7)")
    parser.add_argument("--setpoints", type=int, default=60)
    parser.add_argument("--only", choices=("throughput", "latency"), default=None)
    parser.add_argument("--no-gui", action="store_true", help="no GUI process attached")
    parser.add_argument("--no-browser", action="store_true",
                        help="no headless Chromium (used when Selenium and chromium are there)")
    args = parser.parse_args()
    browser = not args.no_browser and browser_available()
    if not args.no_browser and not browser:
        print("no Selenium/chromium/chromedriver: the page's browser is left out", flush=True)
    with tempfile.TemporaryDirectory() as tmp:
        if args.only in (None, "throughput"):
            throughput(args.runs, args.setpoints, Path(tmp), gui=not args.no_gui,
                       browser=browser)
        if args.only in (None, "latency"):
            latency(args.setpoints, Path(tmp), gui=not args.no_gui, browser=browser)


if __name__ == "__main__":
    main()
