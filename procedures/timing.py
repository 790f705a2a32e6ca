"""Waiting on the station clock: every wait has a timeout and never busy-waits."""

from __future__ import annotations

import math
from collections.abc import Callable

from stm_andreev.clock import Clock

from .errors import SettleTimeout

#: Readings a wait takes beyond those its dwell needs before it may declare a timeout. The
#: timeout is station time, as the physics it waits for; but the loop's own instrument reads
#: cost station time too, and under a scaled clock they cost a lot: at speed-up 1000 one read
#: over TCP is ~1 s of station time, and a 40 ms scheduling stall of a loaded machine is 40 s,
#: more than the tip-height timeout of 30 s. Measured: the default plan over TCP at speed-up
#: 1000 paused on "tip height z did not settle within 30 s" after two readings 43 s apart,
#: the tip long settled. A verdict "did not settle" therefore needs enough looks to have
#: seen it settle. On a wall clock or a virtual clock a timeout is thousands of polls, so
#: this changes nothing there.
EXTRA_LOOKS = 2


def looks_needed(dwell_s: float, poll_s: float) -> int:
    """Readings a wait takes at least before it may time out: the first; one after it that a
    stall may have made unstable (it compares with a reading from before the stall); the
    ``ceil(dwell / poll) + 1`` stable ones that span the dwell at the nominal poll interval,
    one more for the rounding of summed poll intervals; and :data:`EXTRA_LOOKS`."""
    return 1 + 1 + math.ceil(dwell_s / poll_s) + 1 + 1 + EXTRA_LOOKS


def wait_until_stable(
    clock: Clock,
    read: Callable[[], float],
    *,
    target: float | None,
    tolerance: float,
    dwell_s: float,
    timeout_s: float,
    poll_s: float,
    what: str,
    check: Callable[[], None] | None = None,
) -> float:
    """Poll ``read`` until it stays within ``tolerance`` for ``dwell_s``; return the last value.

    With ``target`` None the reference is the previous reading (a drift criterion, for the tip
    height). ``check`` runs at each poll (interlocks, pause requests). Raises
    :class:`SettleTimeout` naming ``what`` once ``timeout_s`` of station time have passed and
    at least :func:`looks_needed` readings were taken (see :data:`EXTRA_LOOKS`).
    """
    start = clock.now()
    stable_since: float | None = None
    previous = read()
    looks = 1
    min_looks = looks_needed(dwell_s, poll_s)
    while True:
        if check is not None:
            check()
        clock.sleep(poll_s)
        value = read()
        looks += 1
        reference = previous if target is None else target
        now = clock.now()
        if abs(value - reference) <= tolerance:
            stable_since = now if stable_since is None else stable_since
            if now - stable_since >= dwell_s:
                return value
        else:
            stable_since = None
        if now - start > timeout_s and looks >= min_looks:
            ref = "drift" if target is None else f"target {target:g}"
            raise SettleTimeout(
                f"{what} did not settle within {timeout_s:g} s (last {value:g}, {ref}, "
                f"tolerance {tolerance:g}; {looks} readings over {now - start:.3g} s)"
            )
        previous = value
