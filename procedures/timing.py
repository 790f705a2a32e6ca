"""Waiting on the station clock: every wait has a timeout and never busy-waits."""

from __future__ import annotations

from collections.abc import Callable

from stm_andreev.clock import Clock

from .errors import SettleTimeout


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
    :class:`SettleTimeout` naming ``what`` after ``timeout_s``.
    """
    start = clock.now()
    stable_since: float | None = None
    previous = read()
    while True:
        if check is not None:
            check()
        clock.sleep(poll_s)
        value = read()
        reference = previous if target is None else target
        now = clock.now()
        if abs(value - reference) <= tolerance:
            stable_since = now if stable_since is None else stable_since
            if now - stable_since >= dwell_s:
                return value
        else:
            stable_since = None
        if now - start > timeout_s:
            ref = "drift" if target is None else f"target {target:g}"
            raise SettleTimeout(
                f"{what} did not settle within {timeout_s:g} s (last {value:g}, {ref}, "
                f"tolerance {tolerance:g})"
            )
        previous = value
