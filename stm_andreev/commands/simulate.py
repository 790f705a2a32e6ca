"""``stm-andreev simulate``: serve the simulated station on loopback TCP until stopped.

    stm-andreev simulate configs/simulated-tcp.yaml       # ports, sample, faults from the file
    stm-andreev simulate --speedup 100 --seed 3           # SR830, Lake Shore 372, Nanonis on
                                                          # 5025, 7777, 6501-6504
    stm-andreev simulate --free-ports --sr860             # any free ports, plus an SR860

Prints one line per instrument (name, driver, address) and runs until Ctrl-C or SIGTERM, then
closes every connection and exits 0. ``--duration`` stops it by itself (scripts, CI).
"""

from __future__ import annotations

import argparse
import logging
import signal
import sys
import threading
from typing import TextIO

HELP = "serve the simulated instruments on loopback TCP (for pyvisa and the vendors' clients)"

log = logging.getLogger(__name__)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("station", nargs="?", default=None,
                        help="station file (or name in configs/) whose simulated instruments "
                             "to serve; without it: SR830, Lake Shore 372 and Nanonis")
    parser.add_argument("--speedup", type=float, default=None,
                        help="lab clock speed relative to wall time (default: the station "
                             "file's, else 1)")
    parser.add_argument("--seed", type=int, default=None,
                        help="random seed of the lab and the emulators (default: the station "
                             "file's, else 0)")
    parser.add_argument("--host", default=None,
                        help="interface to bind (default 127.0.0.1; anything else exposes the "
                             "simulator to the network)")
    parser.add_argument("--sample", default="InO-2",
                        help="sample preset without a station file (InO-1 .. InO-4)")
    parser.add_argument("--sr860", action="store_true",
                        help="also serve an SR860 (without a station file)")
    parser.add_argument("--free-ports", action="store_true",
                        help="use free ports instead of the station file's or the defaults "
                             "5025/7777/6501-6504")
    parser.add_argument("--duration", type=float, default=None, metavar="SECONDS",
                        help="stop after this many wall-clock seconds (default: run until "
                             "Ctrl-C or SIGTERM)")


def build_station(args: argparse.Namespace):
    """The (not yet started) servers the arguments describe."""
    from stm_andreev.simulators.transports.station import (
        SimulatedStationServers,
        default_instruments,
    )

    if args.station is not None:
        from stm_andreev.config import load_station

        return SimulatedStationServers.from_station(
            load_station(args.station), host=args.host, speedup=args.speedup, seed=args.seed,
            free_ports=args.free_ports,
        )
    return SimulatedStationServers.build(
        sample=args.sample,
        speedup=1.0 if args.speedup is None else args.speedup,
        seed=0 if args.seed is None else args.seed,
        host=args.host or "127.0.0.1",
        instruments=default_instruments(sr860=args.sr860, ephemeral=args.free_ports),
    )


def serve(args: argparse.Namespace, stop: threading.Event, out: TextIO = sys.stdout) -> int:
    """Start the servers, print their addresses to ``out``, wait for ``stop``, shut down.

    Returns the exit code: 0 after a clean stop, 1 if the station cannot be built or a port
    cannot be bound, 2 for an invalid station file.
    """
    from stm_andreev.config.errors import ConfigError
    from stm_andreev.simulators.faults import FaultConfigError
    from stm_andreev.simulators.transports.errors import ServerError

    if args.speedup is not None and not 0 < args.speedup <= 1e6:
        print(f"error: --speedup must be in (0, 1e6], got {args.speedup}", file=sys.stderr)
        return 2
    try:
        station = build_station(args)
    except (ConfigError, FaultConfigError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except (ServerError, KeyError, ValueError) as exc:
        # KeyError's str() quotes its message; show the message itself
        message = exc.args[0] if isinstance(exc, KeyError) and exc.args else exc
        print(f"error: {message}", file=sys.stderr)
        return 1
    try:
        station.start()
    except ServerError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    try:
        sample = getattr(station.lab, "sample", None)
        print(f"simulated station ({getattr(sample, 'name', sample) or 'lab'}, "
              f"speed-up {station.clock.speedup:g}x):", file=out)
        print(station.describe(), file=out)
        print("serving; Ctrl-C or SIGTERM to stop", file=out, flush=True)
        stop.wait(args.duration)
    finally:
        station.close()
    print("stopped", file=out, flush=True)
    return 0


def run(args: argparse.Namespace) -> int:
    stop = threading.Event()
    previous = {}
    if threading.current_thread() is threading.main_thread():
        for signum in (signal.SIGINT, signal.SIGTERM):
            previous[signum] = signal.signal(signum, lambda *_: stop.set())
    try:
        return serve(args, stop)
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)
