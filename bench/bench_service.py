"""Station service benchmarks (prints figures, asserts nothing).

1. Acquisition throughput of a dry run (simulated station, virtual clock, a setpoint sweep)
   started by ``stm-andreev serve`` with a browser-like client attached (an SSE stream read and
   parsed as the page does, plus the page's queue refresh on each status change) versus the
   same ``stm-andreev run`` alone (target ratio >= 0.95). Pairs alternate alone / served so
   both share the machine's load; the rate is the run's own "spectra / wall s" line.
2. Latency from a stored spectrum to its SSE event at the client (target < 1 s). A watcher
   polls the run file's ledger every 5 ms (SWMR) and notes when each row is confirmed; the
   client notes when that row's ``spectrum`` event arrives. The watcher runs only in this
   separate run, so it does not load the throughput pairs. Only rows the stream sends are
   counted: the page shows the newest spectrum, so when two rows land within one 0.2 s poll
   the older is skipped (its summary still arrives, in ``new_rows``).

    python bench/bench_service.py [--runs 3] [--setpoints 60] [--only throughput|latency]
"""

from __future__ import annotations

import argparse
import json
import os
import re
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
from tests.service.serving import Served, sweep_plan  # noqa: E402

N_BIAS = 301


class SseClient(threading.Thread):
    """Reads /api/stream like the page: parses every event, refreshes the queue on status."""

    def __init__(self, served: Served) -> None:
        super().__init__(daemon=True)
        self.served = served
        self.spectrum_seen: dict[int, float] = {}  # row -> wall time the event arrived
        self.events = 0
        self.stop = threading.Event()
        self.service_share = self.client_share = float("nan")

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


def _rate(log_text: str) -> float:
    spectra = int(re.search(r"spectra:\s+(\d+) measured", log_text).group(1))
    wall = float(re.search(r"time taken:\s+([\d.]+) s wall", log_text).group(1))
    return spectra / wall


def run_alone(plan: Path, out: Path) -> float:
    cmd = [sys.executable, "-m", "stm_andreev.cli", "run", str(plan), "--out", str(out),
           "--quiet", "--no-report"]
    return _rate(subprocess.run(cmd, capture_output=True, text=True, check=True).stdout)


def run_served(plan_text: str, folder: Path, *, watch: bool = False):
    """Serve, attach the client, queue the plan, wait for the end. Returns (rate, client,
    row -> wall time the row was confirmed in the file (only with ``watch``))."""
    folder.mkdir(parents=True, exist_ok=True)
    served = Served(folder).start()
    client = SseClient(served)
    client.start()
    confirmed: dict[int, float] = {}
    cpu0, own0, wall0 = _cpu_s(served.process.pid), time.process_time(), time.perf_counter()
    try:
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
        run_log = next(served.runs.glob("*/run.log")).read_text()
        time.sleep(0.5)  # the last spectrum's event is on its way
    finally:
        client.stop.set()
        served.stop()
    return _rate(run_log), client, confirmed


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


def throughput(n_runs: int, n_setpoints: int, folder: Path) -> None:
    plan_text = sweep_plan("bench-service", n=n_setpoints, n_bias=N_BIAS)
    plan = folder / "bench-service.yaml"
    plan.write_text(plan_text)
    alone, served, shares = [], [], []
    for k in range(n_runs):
        alone.append(run_alone(plan, folder / f"alone-{k}"))
        rate, client, _ = run_served(plan_text, folder / f"served-{k}")
        served.append(rate)
        shares.append(client.service_share)
        print(f"  pair {k + 1}: alone {alone[-1]:.2f} spectra/s, served + SSE client "
              f"{rate:.2f} spectra/s (ratio {rate / alone[-1]:.3f}; client got "
              f"{client.events} events; service used {100 * client.service_share:.1f} % of a "
              f"core, the client {100 * client.client_share:.1f} %)", flush=True)
    a, s = statistics.median(alone), statistics.median(served)
    print(f"throughput ({n_setpoints} spectra x {N_BIAS} points, simulated station, "
          f"{n_runs} pairs): alone {a:.2f} spectra/s, served + client {s:.2f} spectra/s, "
          f"ratio of medians {s / a:.3f} (target >= 0.95); service CPU median "
          f"{100 * statistics.median(shares):.1f} % of a core; machine load average "
          f"{os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs")


def latency(n_setpoints: int, folder: Path) -> None:
    plan_text = sweep_plan("bench-latency", n=n_setpoints, n_bias=N_BIAS)
    _, client, confirmed = run_served(plan_text, folder / "latency", watch=True)
    lat = sorted(client.spectrum_seen[r] - confirmed[r] for r in client.spectrum_seen
                 if r in confirmed)
    if not lat:
        print("latency: no spectrum event matched a confirmed row (not measured)")
        return
    p95 = lat[min(len(lat) - 1, int(0.95 * len(lat)))]
    print(f"latency stored spectrum -> SSE event at the client ({len(lat)} of "
          f"{len(confirmed)} rows sent as spectrum events): median {statistics.median(lat):.3f} "
          f"s, p95 {p95:.3f} s, max {lat[-1]:.3f} s (target < 1 s; 5 ms watcher resolution)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--setpoints", type=int, default=60)
    parser.add_argument("--only", choices=("throughput", "latency"), default=None)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        if args.only in (None, "throughput"):
            throughput(args.runs, args.setpoints, Path(tmp))
        if args.only in (None, "latency"):
            latency(args.setpoints, Path(tmp))


if __name__ == "__main__":
    main()
