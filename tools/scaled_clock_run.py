"""Run a plan over TCP against the simulators on a scaled clock and count what went wrong.

    python tools/scaled_clock_run.py                        # default plan at speed-ups 100, 1000
    python tools/scaled_clock_run.py --plan quick --speedup 1000 --stall-ms 40 --every-ms 150

The simulators are served from this process on free loopback ports (``configs/simulated-tcp.yaml``
with its addresses replaced), and ``stm-andreev run`` runs in a child process, exactly as a
user runs the two in two terminals. ``--stall-ms`` stops the child with SIGSTOP for that long
every ``--every-ms`` (a loaded machine's scheduling stalls; at speed-up 1000 a 40 ms stall is
40 s of station time). Prints one row per speed-up: status, spectra, wall time, station time,
and the events that mean lost time (link errors, settle timeouts, pauses). Exit status 0 when
every run finished with none of them.
"""

from __future__ import annotations

import argparse
import os
import signal
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import yaml

from stm_andreev.config import load_station
from stm_andreev.config.yaml_file import parse_yaml
from stm_andreev.simulators.transports.station import SimulatedStationServers
from stm_andreev.storage import RunReader

#: Event kinds that cost a re-take or stop the run.
BAD_KINDS = ("link_error", "link_lost", "settle_timeout", "pause", "error")


def _stall(pid: int, stall_s: float, every_s: float, stop: threading.Event) -> None:
    while not stop.wait(every_s):
        try:
            os.kill(pid, signal.SIGSTOP)
            time.sleep(stall_s)
        except ProcessLookupError:
            return
        finally:
            try:
                os.kill(pid, signal.SIGCONT)
            except ProcessLookupError:
                pass


def _abort_when_paused(child: subprocess.Popen, runs: Path, timeout_s: float) -> None:
    """Wait for ``child``; a paused run waits for an operator, so abort it (the pause is the
    finding, already in the run file's events)."""
    deadline = time.monotonic() + timeout_s
    while child.poll() is None and time.monotonic() < deadline:
        time.sleep(1.0)
        for path in runs.glob("*.h5"):
            try:
                with RunReader(path) as reader:
                    paused = reader.status == "paused"
            except Exception:  # being created, or busy: look again
                continue
            if paused:
                with open(f"{path}.control", "a", encoding="utf-8") as control:
                    control.write("abort\n")


def run_once(plan: str, speedup: float, out: Path, *, stall_ms: float = 0.0,
             every_ms: float = 150.0, timeout_s: float = 3600.0) -> dict:
    """One run of ``plan`` over TCP at ``speedup``; what its run file says."""
    base = load_station("simulated-tcp")
    with SimulatedStationServers.from_station(base, speedup=speedup, free_ports=True) as servers:
        data = servers.point_station_at(parse_yaml(base.source_text, "simulated-tcp.yaml").data)
        data["simulation"]["speedup"] = speedup
        station = out / f"station-x{speedup:g}.yaml"
        station.write_text(yaml.safe_dump(data, sort_keys=False), encoding="utf-8")
        runs = out / f"runs-x{speedup:g}"
        start = time.perf_counter()
        child = subprocess.Popen(
            [sys.executable, "-m", "stm_andreev.cli", "run", plan, "--station", str(station),
             "--out", str(runs), "--no-report", "--quiet"],
            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
        )
        stop = threading.Event()
        staller = None
        if stall_ms > 0:
            staller = threading.Thread(target=_stall, daemon=True,
                                       args=(child.pid, stall_ms / 1e3, every_ms / 1e3, stop))
            staller.start()
        try:
            _abort_when_paused(child, runs, timeout_s)
            output, _ = child.communicate(timeout=timeout_s)
        except subprocess.TimeoutExpired:
            child.kill()
            output, _ = child.communicate()
        finally:
            stop.set()
            if staller is not None:
                staller.join()
        wall = time.perf_counter() - start
    files = sorted(runs.glob("*.h5"))
    if not files:
        return {"speedup": speedup, "status": f"no run file (exit {child.returncode})",
                "output": output, "wall_s": wall, "spectra": 0, "planned": 0,
                "station_s": 0.0, "bad": {}}
    with RunReader(files[-1]) as reader:
        events = reader.events()
        bad = {k: sum(e.kind == k for e in events) for k in BAD_KINDS}
        return {
            "speedup": speedup, "status": reader.status, "spectra": len(reader.ledger),
            "planned": reader.metadata["n_planned"], "wall_s": wall,
            "station_s": (events[-1].time_s - events[0].time_s) if events else 0.0,
            "bad": {k: n for k, n in bad.items() if n},
            "messages": [f"{e.kind}: {e.message}" for e in events if e.kind in BAD_KINDS][:5],
            "exit": child.returncode,
        }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--plan", default="paper-inO2")
    parser.add_argument("--speedup", type=float, nargs="+", default=[100.0, 1000.0])
    parser.add_argument("--stall-ms", type=float, default=0.0)
    parser.add_argument("--every-ms", type=float, default=150.0)
    args = parser.parse_args(argv)
    ok = True
    with tempfile.TemporaryDirectory(prefix="scaled-clock-") as tmp:
        print(f"plan {args.plan} over TCP; stalls "
              + (f"{args.stall_ms:g} ms every {args.every_ms:g} ms" if args.stall_ms else "none"))
        print("| speed-up | status | spectra | wall s | station h | link errors | settle "
              "timeouts | pauses |")
        print("| ---: | --- | ---: | ---: | ---: | ---: | ---: | ---: |")
        for speedup in args.speedup:
            r = run_once(args.plan, speedup, Path(tmp), stall_ms=args.stall_ms,
                         every_ms=args.every_ms)
            bad = r["bad"]
            print(f"| {speedup:g} | {r['status']} | {r['spectra']}/{r['planned']} | "
                  f"{r['wall_s']:.1f} | {r['station_s'] / 3600:.2f} | "
                  f"{bad.get('link_error', 0)} | {bad.get('settle_timeout', 0)} | "
                  f"{bad.get('pause', 0)} |", flush=True)
            for message in r.get("messages", []):
                print(f"    {message}")
            ok &= r["status"] == "finished" and not bad
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
