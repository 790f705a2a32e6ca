"""The lock-in output filter: n identical RC stages (n = slope / 6 dB per octave).

Pure functions of the time constant tau (s) and the slope, shared by the drivers (settle waits,
noise estimates) and available to the simulators.

Step response of n stages (x = t / tau):

    s_n(x) = 1 - exp(-x) * sum_{k=0}^{n-1} x^k / k!  =  P(n, x)

the regularised lower incomplete gamma function, so the remaining error after a step is
Q(n, x) and the time to settle within ``fraction`` is tau * Q^{-1}(n, fraction), solved exactly
with ``scipy.special.gammainccinv`` (for 1e-3: 6.91 tau at 6, 9.23 at 12, 11.23 at 18 and
13.06 tau at 24 dB/oct).

Equivalent noise bandwidth of n stages (one-sided, Hz):

    ENBW = (1 / (2 pi tau)) * integral_0^inf dx / (1 + x^2)^n
         = Gamma(n - 1/2) / (4 sqrt(pi) Gamma(n) tau)     (1/(4 tau) at n = 1, 5/(64 tau) at n = 4)
"""

from __future__ import annotations

import math

import numpy as np
from scipy.special import gammainc, gammainccinv

from stm_andreev.drivers.srs_tables import FILTER_SLOPES_DB

#: Fraction of a step the output must settle within before a point is read: the
#: procedures wait this long, and the plan estimate predicts the same waits.
SETTLE_FRACTION = 1e-3


def filter_stages(slope_db: int) -> int:
    """Number of RC stages for a slope of 6, 12, 18 or 24 dB/octave."""
    if slope_db not in FILTER_SLOPES_DB:
        raise ValueError(f"filter slope must be one of {FILTER_SLOPES_DB} dB/oct, got {slope_db!r}")
    return slope_db // 6


def step_response(t_s: np.ndarray | float, tau_s: float, slope_db: int) -> np.ndarray | float:
    """Fraction (0..1) of a step reached at time ``t_s`` (s, >= 0) after the step."""
    if tau_s <= 0:
        raise ValueError(f"time constant must be positive, got {tau_s} s")
    x = np.maximum(np.asarray(t_s, dtype=float), 0.0) / tau_s
    result = gammainc(filter_stages(slope_db), x)
    return float(result) if np.ndim(result) == 0 else result


def settle_time_s(tau_s: float, slope_db: int, fraction: float = SETTLE_FRACTION) -> float:
    """Wait (s) after a step until the output is within ``fraction`` (0 < fraction < 1) of it."""
    if not 0.0 < fraction < 1.0:
        raise ValueError(f"settling fraction must be in (0, 1), got {fraction}")
    if tau_s <= 0:
        raise ValueError(f"time constant must be positive, got {tau_s} s")
    return float(tau_s * gammainccinv(filter_stages(slope_db), fraction))


def enbw_Hz(tau_s: float, slope_db: int) -> float:
    """Equivalent noise bandwidth (Hz) of the output filter for time constant ``tau_s`` (s)."""
    if tau_s <= 0:
        raise ValueError(f"time constant must be positive, got {tau_s} s")
    n = filter_stages(slope_db)
    return math.gamma(n - 0.5) / (4.0 * math.sqrt(math.pi) * math.gamma(n) * tau_s)
