"""Tunnelling or contact: which regime a junction is in.

Tunnelling when G_N << G0 (G_N < 0.1 G0: with 5 channels that is a transmission of 2 %,
Z ~ 7), or when a BTK fit gives Z > 3 (the Andreev contribution then falls as 1/Z^4 and
is invisible).
"""

from __future__ import annotations

from stm_andreev.physics import G0_S

from .results import Regime

TUNNELLING_MAX_G_N_G0 = 0.1
TUNNELLING_MIN_Z = 3.0


def classify_regime(*, G_N_S: float | None = None, Z: float | None = None) -> Regime:
    """"tunnelling" if G_N_S (S) < 0.1 G0 or a fitted barrier Z > 3, else "contact".

    Either may be missing (a normalised input has no G_N_S); raises ValueError if both are.
    The Z test matters because few-channel junctions are in tunnelling well above 0.1 G0:
    the paper's Fig. S2 is a tunnelling spectrum at 0.42 G0.
    """
    if G_N_S is None and Z is None:
        raise ValueError("classify_regime needs G_N_S or Z")
    if G_N_S is not None and G_N_S < TUNNELLING_MAX_G_N_G0 * G0_S:
        return "tunnelling"
    if Z is not None and Z > TUNNELLING_MIN_Z:
        return "tunnelling"
    return "contact"
