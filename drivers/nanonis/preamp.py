"""The Nanonis controller's current amplifier as a :class:`~stm_andreev.drivers.preamp.CurrentPreamp`.

A station whose ``preamp`` role is the STM controller hands procedures this adapter, so the
gain policy (:func:`stm_andreev.drivers.preamp.gain_for_current`) drives ``Current.GainSet``
exactly as it drives a standalone SR570.
"""

from __future__ import annotations

from .client import NanonisController


class NanonisPreamp:
    """Current-amplifier view of a :class:`NanonisController` (gains in V/A)."""

    def __init__(self, controller: NanonisController) -> None:
        self.controller = controller

    @property
    def gains(self) -> tuple[float, ...]:
        """Get the gains the controller offers, in V/A (e.g. 1e5 ... 1e9)."""
        return tuple(self.controller.current_gains()[0])

    @property
    def gain(self) -> float:
        """Get the active gain in V/A (read from the controller)."""
        return self.controller.get_current_gain()

    def set_gain(self, gain_V_per_A: float) -> None:
        """Set the gain in V/A; one of :attr:`gains`, else :class:`NanonisValueError`."""
        self.controller.set_current_gain(gain_V_per_A)
