"""Tunnelling or contact: which regime a junction is in.

Tunnelling when G_N << G0 (G_N < 0.1 G0: with 5 channels that is a transmission of 2 %,
Z ~ 7), or, when the conductance has no absolute scale, when a BTK fit gives Z > 3 (the
Andreev contribution then falls as 1/Z^4 and is invisible).
"""

from __future__ import annotations

from stm_andreev.physics import G0_S

from .results import Regime

TUNNELLING_MAX_G_N_G0 = 0.1
TUNNELLING_MIN_Z = 3.0


def classify_regime(*, G_N_S: float | None = None, Z: float | None = None) -> Regime:
    """"tunnelling" or "contact" from the normal-state conductance (S) if known, else from a
    fitted barrier Z. Raises ValueError if neither is given."""
    if G_N_S is not None:
        return "tunnelling" if G_N_S < TUNNELLING_MAX_G_N_G0 * G0_S else "contact"
    if Z is not None:
        return "tunnelling" if Z > TUNNELLING_MIN_Z else "contact"
    raise ValueError("classify_regime needs G_N_S or Z")
