"""The feedback controller's second link, used only to stop a running controller-run sweep.

The Nanonis answers ``BiasSpectr.Start`` only when the sweep ends and serves each port
serially, so a Stop has to go out on another of its ports (docs/protocols.md section 1). The link
is opened on first use: a run that never sweeps on the controller (lock-in mode, a cooldown)
then does not hold a port another program of the lab may want. Without the link everything
still works, only an abort during a controller-run sweep waits for the sweep's end; the
station says so once, in the log.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any, Protocol

from stm_andreev.drivers.interfaces import SweepStopper

log = logging.getLogger(__name__)


class Opener(Protocol):
    """What the link needs of a :class:`~stm_andreev.station.Connection`."""

    def open(self) -> Any: ...

    def describe(self) -> str: ...


def stop_ports(ports: Sequence[int], main_port: int | None) -> list[int]:
    """The controller ports a stop link may use, in the order to try them: the ones after the
    main link's port in the configured list, then the ones before it (wrapping round).
    ``main_port`` None (an in-process controller has no address) takes the first as main."""
    ports = list(ports)
    k = ports.index(main_port) if main_port in ports else 0
    return ports[k + 1 :] + ports[:k]


class SweepStopLink:
    """A lazily opened second link to instrument ``name``, tried on each candidate in turn.

    :meth:`get` returns the connected :class:`SweepStopper`, or None if no candidate opens
    (logged once as a warning; not retried, so a run does not stall on it sweep after sweep).
    """

    def __init__(self, name: str, candidates: Sequence[Opener]) -> None:
        self.name = name
        self._candidates = list(candidates)
        self._stopper: Any = None
        self._tried = False

    def get(self) -> SweepStopper | None:
        if not self._tried:
            self._tried = True
            self._stopper = self._open()
        return self._stopper

    def _open(self) -> Any:
        failures = []
        for candidate in self._candidates:
            stopper = None
            try:
                stopper = candidate.open()
                # A port another client holds may accept the connection and then hang up:
                # only an answered command shows the link can carry a Stop.
                stopper.bias_spectroscopy_running()
            except Exception as exc:  # noqa: BLE001 - every failure only means "no stop link"
                failures.append(str(exc))
                if stopper is not None:
                    stopper.close()
                continue
            log.info("sweep stop link: %s", candidate.describe())
            return stopper
        why = "; ".join(failures) or "no second controller port configured (options.ports)"
        log.warning(
            "instruments.%s: no second link to stop a controller-run sweep (%s); an abort "
            "during such a sweep takes effect when the sweep ends",
            self.name,
            why,
        )
        return None

    def close(self) -> None:
        """Close the link if it was opened (a later :meth:`get` returns None)."""
        self._tried = True
        stopper, self._stopper = self._stopper, None
        if stopper is not None:
            stopper.close()
