"""The STM junction and its Z controller: tip height, channels, transmission, feedback, crash.

Geometry: N channels of transmission tau(z) = 1 / (1 + exp(2 kappa (z - z0))), BTK barrier
Z = exp(kappa (z - z0)), G_N = N tau G0 (see :mod:`stm_andreev.physics.junction`).

The channel count is the sample's ``n_channels`` (140 in InO-1..3: docs/physics.md); 1 nA
at -3 mV then sits at tau ~ 3e-5 and 1 uA at tau ~ 0.032 (Z ~ 5.5) on InO-2's 650 ueV spot.

Z controller (Nanonis current feedback on a logarithmic error)::

    dz/dt = clip(I_gain * ln(|I_meas(z)| / I_sp), -v_max, +v_max),   z clamped to the limits

I_gain is the controller's integral gain in m/s (Nanonis "I"; P and the time constant are
stored for the protocol, I = P / T when I is given as 0). I_meas is the preamp output, so a
setpoint above the preamp's saturation current drives the tip into the sample - as on the
real instrument. The error is nearly linear in z (ln I ~ -2 kappa z), so the motion is
integrated in closed form: a constant-speed approach while |I_gain * error| > v_max, then an
exponential relaxation onto the fixed point z* (where I(z*) = I_sp) with rate
I_gain * |d error / dz| at z*. Any time span costs O(1).

Crash: reaching tau > :data:`CRASH_TRANSMISSION` (about 1.9 Angstrom below z0) is a tip
crash: the tip reshapes (z0 jumps; the channel count changes only if the sample's
``tip_change_channel_fraction`` > 0, by that rms fraction; seeded), the controller
switches off and withdraws to the upper limit, the status reads 5 (safe-tip event) until the
feedback is switched on again, and the event is logged.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
from scipy.optimize import brentq

from stm_andreev.physics import DEFAULT_CHANNELS

from .errors import FeedbackError, LabValueError

log = logging.getLogger(__name__)

KAPPA_PER_M = 1.0e10  # decay constant of the tunnel barrier (work function ~4 eV)
CRASH_TRANSMISSION = 0.98
MAX_Z_SPEED_M_PER_S = 100e-9
DEFAULT_Z_LIMITS_M = (-200e-9, 200e-9)
DEFAULT_HOME_Z_M = 10e-9
DEFAULT_FEEDBACK_GAINS = (5e-12, 1e-3, 5e-9)  # P (m), time constant (s), I (m/s): ~10 ms loop
TIP_CHANGE_Z0_RMS_M = 1.5e-10

# Feedback status codes (Nanonis ZCtrl.StatusGet)
STATUS_OFF, STATUS_ON, STATUS_HOLD, STATUS_SWITCHING_OFF, STATUS_SAFE_TIP, STATUS_WITHDRAWING = (
    1, 2, 3, 4, 5, 6,
)

LogError = Callable[[float], float]
"""ln(|I_meas(z)| / I_sp) as a function of tip height z (m); decreasing in z, may be -inf."""

# Root tolerance in z: 1e-20 m moves the tunnelling current by ~2e-10 of itself (kappa ~
# 1e10 / m), far below the lab's noise; bisection to this depth took ~80 err() calls, Brent's
# method takes ~10.
Z_ROOT_TOLERANCE_M = 1e-20


def _root(f: Callable[[float], float], a: float, b: float) -> float:
    """Where the decreasing-in-sign ``f`` (positive at ``a``, negative at ``b``) crosses 0.

    Like a bisection that keeps ``a`` while f > 0: it ends at ``b`` if f > 0 everywhere and
    at ``a`` if f <= 0 everywhere. Infinite ends (zero bias makes ln I = -inf) are bisected
    inwards until both ends are finite, as Brent's method needs.
    """
    fa, fb = f(a), f(b)
    if fb > 0.0:
        return b
    if fa <= 0.0:
        return a
    for _ in range(200):
        if math.isfinite(fa) and math.isfinite(fb):
            return brentq(f, a, b, xtol=Z_ROOT_TOLERANCE_M, rtol=4 * np.finfo(float).eps)
        mid = 0.5 * (a + b)
        fm = f(mid)
        if fm > 0.0:
            a, fa = mid, fm
        else:
            b, fb = mid, fm
        if abs(b - a) <= Z_ROOT_TOLERANCE_M:
            break
    return 0.5 * (a + b)


@dataclass
class Tip:
    """The tip's shape as the junction sees it: contact height z0 (m) and channel count."""

    z0_m: float = 0.0
    n_channels: int = DEFAULT_CHANNELS


class Junction:
    """Tip height and Z controller (no locking: the VirtualLab holds its lock around calls)."""

    def __init__(
        self,
        rng: np.random.Generator,
        *,
        n_channels: int = DEFAULT_CHANNELS,
        kappa_per_m: float = KAPPA_PER_M,
        channel_change_fraction: float = 0.0,
    ) -> None:
        if int(n_channels) != n_channels or not 1 <= n_channels <= 1000:
            raise LabValueError(f"n_channels = {n_channels} is outside 1..1000")
        if not 0.0 <= channel_change_fraction <= 1.0:
            raise LabValueError(
                f"channel_change_fraction = {channel_change_fraction} is outside 0..1")
        self._rng = rng
        self.channel_change_fraction = float(channel_change_fraction)
        self.kappa_per_m = kappa_per_m
        self.tip = Tip(0.0, int(n_channels))
        self.z_limits_m = DEFAULT_Z_LIMITS_M
        self.home_z_m = DEFAULT_HOME_Z_M
        self.feedback_on = False
        self.status = STATUS_OFF
        self.setpoint_A = 1e-9
        self.gains = DEFAULT_FEEDBACK_GAINS
        self.z_m = DEFAULT_HOME_Z_M
        self.safe_tip_events: list[tuple[float, str]] = []
        # Height of the sample surface under the tip (topography and vertical drift, m): the
        # contact height is the tip's z0 plus this.
        self.surface_m = 0.0
        self._last_fixed_point: tuple[LogError, float, float] | None = None

    # ------------------------------------------------------------- geometry
    @property
    def contact_m(self) -> float:
        """Height at which the tip touches the sample: tip shape plus surface height (m)."""
        return self.tip.z0_m + self.surface_m

    def log_transmission(self, z_m: float) -> float:
        """ln tau(z), stable far from contact."""
        x = 2.0 * self.kappa_per_m * (z_m - self.contact_m)
        # -ln(1 + e^x) without overflow (math is ~10x faster than numpy on scalars).
        return -(x + math.log1p(math.exp(-x))) if x > 0 else -math.log1p(math.exp(x))

    def transmission(self, z_m: float | None = None) -> float:
        """tau at height z_m (default: the present height)."""
        return math.exp(self.log_transmission(self.z_m if z_m is None else z_m))

    def log_barrier(self, z_m: float | None = None) -> float:
        """ln Z = kappa (z - z0)."""
        return self.kappa_per_m * ((self.z_m if z_m is None else z_m) - self.contact_m)

    @property
    def crash_height_m(self) -> float:
        """Height below which tau exceeds :data:`CRASH_TRANSMISSION` (m)."""
        x = math.log(1.0 / CRASH_TRANSMISSION - 1.0) / (2.0 * self.kappa_per_m)
        return self.contact_m + x

    @property
    def integral_gain_m_per_s(self) -> float:
        P, T, I = self.gains
        return I if I > 0 else (P / T if T > 0 else 0.0)

    # ------------------------------------------------------------- settings
    def set_gains(self, gains: tuple[float, float, float]) -> None:
        P, T, I = (float(g) for g in gains)
        if min(P, T, I) < 0 or not all(map(math.isfinite, (P, T, I))):
            raise LabValueError(f"feedback gains (P, T, I) = {gains} must be finite and >= 0")
        if I == 0 and (P == 0 or T == 0):
            raise LabValueError(f"feedback gains {gains} give no integral action")
        self.gains = (P, T, I)

    def set_setpoint(self, current_A: float) -> None:
        current_A = float(current_A)
        if not 1e-13 <= abs(current_A) <= 1e-4:
            raise LabValueError(f"setpoint current {current_A} A is outside 0.1 pA..100 uA")
        self.setpoint_A = current_A

    def set_feedback(self, on: bool) -> None:
        self.feedback_on = bool(on)
        self.status = STATUS_ON if self.feedback_on else STATUS_OFF

    def set_z(self, z_m: float, now_s: float) -> None:
        if self.feedback_on:
            raise FeedbackError("cannot set the tip height while the Z controller is on")
        lo, hi = self.z_limits_m
        z_m = float(z_m)
        if not lo <= z_m <= hi:
            raise LabValueError(f"tip height {z_m} m is outside the z limits {lo}..{hi} m")
        self.z_m = z_m
        if self.status == STATUS_SAFE_TIP:
            self.status = STATUS_OFF
        if z_m < self.crash_height_m:
            self.crash(now_s, f"tip set to z = {z_m:.4g} m below the contact")

    def set_limits(self, low_m: float, high_m: float) -> None:
        low_m, high_m = float(low_m), float(high_m)
        if not low_m < high_m:
            raise LabValueError(f"z limits need low < high, got low={low_m}, high={high_m}")
        self.z_limits_m = (low_m, high_m)
        self.z_m = min(max(self.z_m, low_m), high_m)

    def withdraw(self) -> None:
        self.feedback_on = False
        self.z_m = self.z_limits_m[1]
        self.status = STATUS_OFF

    def home(self) -> None:
        self.feedback_on = False
        lo, hi = self.z_limits_m
        self.z_m = min(max(self.home_z_m, lo), hi)
        self.status = STATUS_OFF

    # ------------------------------------------------------------- crash and tip changes
    def reshape_tip(self) -> str:
        """Random tip change (seeded): z0 jumps; the channel count changes by a log-normal
        factor of rms ``channel_change_fraction`` (0: never). Returns a note."""
        dz = float(self._rng.normal(0.0, TIP_CHANGE_Z0_RMS_M))
        old = (self.tip.z0_m, self.tip.n_channels)
        self.tip.z0_m += dz
        if self.channel_change_fraction > 0.0:
            factor = math.exp(float(self._rng.normal(0.0, self.channel_change_fraction)))
            self.tip.n_channels = max(1, int(round(self.tip.n_channels * factor)))
        return (
            f"tip changed: z0 {old[0]:.3e} -> {self.tip.z0_m:.3e} m, "
            f"channels {old[1]} -> {self.tip.n_channels}"
        )

    def crash(self, now_s: float, cause: str) -> None:
        note = self.reshape_tip()
        self.feedback_on = False
        self.z_m = self.z_limits_m[1]
        self.status = STATUS_SAFE_TIP
        text = f"tip crash ({cause}); {note}; withdrawn to {self.z_m:.3g} m"
        self.safe_tip_events.append((now_s, text))
        log.warning("t = %.3f s: %s", now_s, text)

    def check_contact(self, now_s: float, cause: str) -> None:
        """Crash if the tip is already too close (after a tip change or a direct move)."""
        if self.z_m < self.crash_height_m:
            self.crash(now_s, cause)

    # ------------------------------------------------------------- feedback dynamics
    def fixed_point_m(self, err: LogError) -> float:
        """z* where err(z*) = 0, searched from 5 Angstrom into contact to 10 um away.

        Remembered for the last ``err`` object: the lab hands out the same function while
        the bias, setpoint, gain, temperature and tip are unchanged, and with the loop
        closed the lab advances at every instrument command.
        """
        last = self._last_fixed_point
        if last is not None and last[0] is err and last[1] == self.contact_m:
            return last[2]
        z_star = self._search_fixed_point(err)
        self._last_fixed_point = (err, self.contact_m, z_star)
        return z_star

    def _search_fixed_point(self, err: LogError) -> float:
        lo = self.contact_m - 5e-10
        hi = self.contact_m + 1e-5
        if err(lo) <= 0.0:
            return lo
        if err(hi) >= 0.0:
            return hi
        return _root(err, lo, hi)

    def _speed_boundary(self, z: float, z_star: float, err: LogError, K: float) -> float:
        """Point between z and z* where |K err| falls to v_max (end of the constant-speed leg)."""
        # |err| falls monotonically from z to z*, where it is 0 (< v_max / K).
        return _root(lambda m: abs(K * err(m)) - MAX_Z_SPEED_M_PER_S, z, z_star)

    def advance(self, t0_s: float, dt_s: float, err: LogError) -> None:
        """Run the Z controller for dt_s seconds starting at t0_s (closed form, any dt)."""
        if not self.feedback_on or dt_s <= 0.0:
            return
        K = self.integral_gain_m_per_s
        z = self.z_m
        z_star = self.fixed_point_m(err)
        e0 = err(z)
        # Constant-speed leg.
        t = 0.0
        if abs(K * e0) > MAX_Z_SPEED_M_PER_S:
            z_b = self._speed_boundary(z, z_star, err, K)
            t_b = abs(z_b - z) / MAX_Z_SPEED_M_PER_S
            direction = math.copysign(1.0, z_star - z)
            if self._stops_before(z_b, direction) or t_b >= dt_s:
                self._finish_linear(z, direction, t0_s, dt_s, z_b)
                return
            t, z = t_b, z_b
        # Exponential leg onto z*, at the secant rate: exact initial speed K err(z), and the
        # tangent rate at z* once close (err is nearly linear in z in tunnelling).
        if abs(z - z_star) > 1e-14:
            slope = abs(err(z) - err(z_star)) / abs(z - z_star)
        else:
            h = 1e-14
            slope = abs(err(z_star + h) - err(z_star - h)) / (2.0 * h)
        rate = K * slope
        z_end = z_star + (z - z_star) * math.exp(-rate * (dt_s - t)) if rate > 0 else z
        self._apply_path(z, z_end, z_star, t0_s + t, rate)

    def _stops_before(self, z_b: float, direction: float) -> bool:
        """Whether a limit or the crash height lies on the constant-speed leg (z -> z_b)."""
        lo, hi = self.z_limits_m
        barrier = max(lo, self.crash_height_m) if direction < 0 else hi
        return (z_b - barrier) * direction > 0

    def _finish_linear(
        self, z: float, direction: float, t0_s: float, dt_s: float, z_b: float
    ) -> None:
        """Constant-speed motion for dt_s, stopped by a limit or ended by a crash."""
        lo, hi = self.z_limits_m
        z_end = z + direction * MAX_Z_SPEED_M_PER_S * dt_s
        if (z_end - z_b) * direction > 0:
            z_end = z_b
        if direction < 0:
            zc = self.crash_height_m
            if z_end < zc and zc >= lo:
                t_hit = (z - zc) / MAX_Z_SPEED_M_PER_S
                self.z_m = zc
                self.crash(t0_s + t_hit, "feedback drove the tip into contact")
                return
            self.z_m = max(z_end, lo)
        else:
            self.z_m = min(z_end, hi)

    def _apply_path(self, z: float, z_end: float, z_star: float, t_s: float, rate: float) -> None:
        """Exponential leg from z toward z*, to z_end unless a limit or a crash intervenes."""
        lo, hi = self.z_limits_m
        zc = self.crash_height_m
        if z_end < zc and zc >= lo:
            # Time at which the exponential passes zc: zc = z* + (z - z*) exp(-rate t).
            frac = (zc - z_star) / (z - z_star) if z != z_star else 1.0
            t_hit = -math.log(frac) / rate if 0 < frac < 1 and rate > 0 else 0.0
            self.z_m = zc
            self.crash(t_s + t_hit, "feedback drove the tip into contact")
            return
        self.z_m = min(max(z_end, lo), hi)
