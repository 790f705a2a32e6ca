"""The ``stm-andreev`` command line: one sub-command per module in :mod:`stm_andreev.commands`.

Each command module defines ``HELP`` (one line), ``add_arguments(parser)`` and ``run(args) -> int``.
Command modules import nothing heavy at module level (numpy, scipy, matplotlib, h5py, Qt,
pydantic...): their ``run`` imports what it needs, so ``--help`` and argument errors answer
at once and ``stm-andreev run`` never pays for Qt (tests/commands/test_cli_startup.py checks).
"""

from __future__ import annotations

import argparse
import importlib
import logging
import sys

# command name -> module under stm_andreev.commands
COMMANDS: dict[str, str] = {
    "run": "run",
    "simulate": "simulate",
    "check-config": "check_config",
    "analyze": "analyze",
    "verify": "verify",
    "gui": "gui",
    "cooldown": "cooldown",
    "serve": "serve",
}


def _load(module: str):
    return importlib.import_module(f"stm_andreev.commands.{module}")


def build_parser(available: dict[str, object]) -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="stm-andreev",
        description="Dilution-fridge STM tunnelling and Andreev spectroscopy.",
    )
    parser.add_argument("-v", "--verbose", action="count", default=0, help="more logging")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name, module in available.items():
        p = sub.add_parser(name, help=getattr(module, "HELP", ""))
        module.add_arguments(p)
        p.set_defaults(_module=module)
    return parser


def main(argv: list[str] | None = None) -> int:
    """Run one command; Ctrl-C outside a run's own handling ends it with one line, status 130."""
    try:
        return _main(argv)
    except KeyboardInterrupt:
        # Reached when Ctrl-C comes outside a run's own abort handling (imports, station
        # start-up, the report afterwards): a traceback there only hides what happened.
        print("stm-andreev: interrupted (Ctrl-C)", file=sys.stderr)
        return 130


def _main(argv: list[str] | None) -> int:
    # pymeasure warns on import that its optional ZMQ listener is missing; we never use it.
    logging.getLogger("pymeasure.experiment").setLevel(logging.ERROR)
    available = {name: _load(module_name) for name, module_name in COMMANDS.items()}
    parser = build_parser(available)
    args = parser.parse_args(argv)
    logging.basicConfig(
        level=logging.WARNING - 10 * min(args.verbose, 2),
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    if not getattr(args, "command", None):
        # Bare `stm-andreev` runs the main job: the simulated overnight dry run.
        if "run" in available:
            return _main(["run", *(argv or [])])
        parser.print_help()
        return 2
    return int(args._module.run(args) or 0)


if __name__ == "__main__":
    sys.exit(main())
