"""pyvisa-py's I/O timeouts measured on the monotonic clock, not the wall clock.

pyvisa-py (0.7) times its reads with ``time.time()``: ``finish = time.time() + timeout``, then
``time.time() >= finish`` after each empty ``select``. A step of the computer's wall clock
(NTP correcting it, someone setting it, a virtual machine resumed) during a read then moves the
deadline: a step back by an hour while an instrument is silent holds the read, and the run, for
an hour; a step forward ends a read early (a link error and a re-take). A timeout of real I/O
is a duration. Every use of ``time.time()`` in the modules below is such a deadline (checked
against pyvisa-py 0.7.x), so they are given a view of the ``time`` module whose ``time()`` is
``time.monotonic()``; their sleeps and everything else are the real ones.
"""

from __future__ import annotations

import importlib
import logging
import time
import types

log = logging.getLogger(__name__)

#: pyvisa-py modules that compute read/lock deadlines from time.time().
MODULES = ("pyvisa_py.tcpip", "pyvisa_py.sessions", "pyvisa_py.protocols.rpc")


class _MonotonicTime(types.ModuleType):
    """``time``, except that ``time()`` is monotonic (its origin is arbitrary: differences only)."""

    def __getattr__(self, name: str):
        return getattr(time, name)

    @staticmethod
    def time() -> float:
        return time.monotonic()


_VIEW = _MonotonicTime("time")


def use_monotonic_timeouts() -> list[str]:
    """Point the deadline arithmetic of pyvisa-py at the monotonic clock (idempotent); the
    modules changed. A module missing (pyvisa-py not installed) or without ``time`` is left."""
    changed = []
    for name in MODULES:
        try:
            module = importlib.import_module(name)
        except ImportError:
            continue
        if getattr(module, "time", None) is time:
            module.time = _VIEW
            changed.append(name)
    if changed:
        log.debug("pyvisa-py read timeouts on the monotonic clock: %s", ", ".join(changed))
    return changed
