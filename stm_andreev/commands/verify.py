"""``stm-andreev verify RUNFILE...``: check run files in bounded time; say which spectra are intact.

Each file is checked in a child process killed after ``--timeout`` seconds (a damaged HDF5
file can block the library), read-only. One line per file; with ``--list`` also the intact
point indices. Exit status 0 when every file is intact, 1 when one is damaged or
unreadable, 2 for bad options.
"""

from __future__ import annotations

import argparse
import json
from dataclasses import asdict

HELP = "check run files (structure, checksums, ledger) and say which spectra are intact"
# storage.verify's default, spelt out so that `--help` does not import HDF5 (a test checks it).
VERIFY_TIMEOUT_S = 30.0


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("files", nargs="+", metavar="RUNFILE", help="run files to check")
    parser.add_argument("--timeout", type=float, default=VERIFY_TIMEOUT_S,
                        help=f"seconds per file, plus 0.05 s per MB, counted once the "
                             f"checking process has started, before the file is declared "
                             f"unreadable (default {VERIFY_TIMEOUT_S:g})")
    parser.add_argument("--list", action="store_true", help="also list the intact points")
    parser.add_argument("--json", action="store_true", help="one JSON verdict per line")


def run(args: argparse.Namespace) -> int:
    from stm_andreev.storage.verify import verify_run_file

    if not args.timeout > 0:
        print(f"error: --timeout must be > 0, got {args.timeout:g}")
        return 2
    failed = 0
    for path in args.files:
        verdict = verify_run_file(path, timeout_s=args.timeout)
        failed += not verdict.ok
        if args.json:
            print(json.dumps(asdict(verdict)), flush=True)
            continue
        print(verdict.describe(), flush=True)
        if args.list and verdict.n_confirmed:
            print(f"  intact points: {' '.join(str(p) for p in verdict.intact) or 'none'}")
    return 1 if failed else 0
