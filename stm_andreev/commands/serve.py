"""``stm-andreev serve [--station FILE] [--bind 127.0.0.1:PORT] [--token-file F]``: the station
service.

Owns the run queue (the same file the GUI uses), starts queued plans one after another as
``stm-andreev run`` processes with or without a GUI, and serves an HTTP API and a web page for
watching and steering them. Stopping the service never stops the running plan; a restarted
service re-attaches to it. See docs/service.md.
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
from pathlib import Path

HELP = "the station service: queue, running plan, HTTP API and web page"
DEFAULT_BIND = "127.0.0.1:8719"

log = logging.getLogger(__name__)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--station", default="simulated",
                        help="station file or name in configs/ for plans queued without one "
                             "(default simulated)")
    parser.add_argument("--bind", default=DEFAULT_BIND, metavar="HOST:PORT",
                        help=f"address to serve on (default {DEFAULT_BIND}; any address but "
                             "loopback needs --token-file)")
    parser.add_argument("--token-file", default=None, metavar="F",
                        help="file holding the bearer token (default: a random token written "
                             "to ~/.stm-andreev/service.token, mode 0600)")
    parser.add_argument("--open-status", action="store_true",
                        help="let anyone who reaches the service read status, queue and "
                             "streams without the token (changes always need it)")
    parser.add_argument("--queue", metavar="JSON", default=None,
                        help="run queue file (default ~/.stm-andreev/queue.json, as the GUI)")
    parser.add_argument("--runs", metavar="DIR", default=None,
                        help="directory for queued runs (default: the station's output_dir)")
    parser.add_argument("--continue-on-failure", action="store_true",
                        help="start the next plan after a failed or aborted one (default: "
                             "hold the queue until the plan is skipped or retried)")
    parser.add_argument("--no-report", action="store_true",
                        help="runs skip the analysis report")


def parse_bind(text: str) -> tuple[str, int]:
    host, sep, port = text.rpartition(":")
    if not sep or not host:
        raise ValueError(f"--bind {text!r}: expected HOST:PORT, e.g. {DEFAULT_BIND}")
    try:
        number = int(port)
    except ValueError:
        raise ValueError(f"--bind {text!r}: port {port!r} is not a number") from None
    if not 0 <= number <= 65535:
        raise ValueError(f"--bind {text!r}: port {number} is out of range")
    return host.strip("[]"), number


def run(args: argparse.Namespace) -> int:
    from stm_andreev.config import ConfigError
    from stm_andreev.service.auth import AuthConfigError
    from stm_andreev.service.queue_store import QueueFileError
    from stm_andreev.service.supervisor import StationBusyError

    try:
        return _serve(args)
    except (ValueError, ConfigError, AuthConfigError, QueueFileError, StationBusyError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2


def _serve(args: argparse.Namespace) -> int:
    try:
        import uvicorn
    except ImportError:
        print("error: the service needs its extra: pip install 'stm-andreev[service]'",
              file=sys.stderr)
        return 2
    from stm_andreev.config import load_station
    from stm_andreev.service.api import create_app
    from stm_andreev.service.auth import auth_for_bind, is_loopback
    from stm_andreev.service.core import StationService
    from stm_andreev.service.launcher import RunLauncher
    from stm_andreev.service.queue_store import DEFAULT_QUEUE_PATH, RunQueue
    from stm_andreev.service.supervisor import Supervisor

    host, port = parse_bind(args.bind)
    auth, token_where = auth_for_bind(
        host, args.token_file, open_status=args.open_status,
        default_token_file=Path.home() / ".stm-andreev" / "service.token")
    station_cfg = load_station(args.station)  # a bad station is refused before serving
    station = str(Path(args.station).resolve()) if Path(args.station).exists() else args.station
    queue_path = args.queue or os.environ.get("STM_ANDREEV_QUEUE", DEFAULT_QUEUE_PATH)
    runs = Path(args.runs) if args.runs else Path(station_cfg.output_dir)
    supervisor = Supervisor(
        RunQueue(queue_path),
        RunLauncher(["--no-report"] if args.no_report else None),
        station=station, runs_dir=runs, continue_on_failure=args.continue_on_failure,
    )
    service = StationService(supervisor)
    app = create_app(service, auth, loopback_only=is_loopback(host))
    service.start()
    from stm_andreev.service.client import remove_discovery, write_discovery

    # The GUI finds the service through this file (the URL and where the token is kept).
    write_discovery(queue_path, f"http://{_url_host(host)}:{port}", token_where)
    print(f"serving on http://{args.bind}/ (API at /docs); queue {queue_path}; "
          f"runs in {runs}; token in {token_where}", file=sys.stderr, flush=True)
    try:
        # No access log: the event stream takes the token as a query parameter.
        uvicorn.run(app, host=host, port=port, access_log=False, log_level="warning")
    finally:
        remove_discovery(queue_path)
        service.stop()
    return 0


def _url_host(host: str) -> str:
    """How a local client reaches a service bound to ``host``."""
    if host in ("0.0.0.0", "::", ""):
        return "127.0.0.1"
    return f"[{host}]" if ":" in host else host
