"""A map: tip-safe moves between the pixels of a ``grid`` step, topography and drift correction.

Between two pixels the tip must cross the film with the loop closed at a current low enough
that no bump of the surface brings it into contact: the setpoint is ramped down to the step's
``move_setpoint_A`` (at the station's ramp rate, z-controller on), the tip moves, waits
``move_settle_s`` and the loop's z there is the pixel's topography. The spectrum sequence
(:func:`.spectroscopy.take_spectrum`) then ramps to the spectrum setpoint as for every other
step. Every commanded position is checked against the piezo's scan range
(``limits.scan_range_m``) before it is sent.

Drift correction (``drift_every`` > 0): at the first pixel a run (or a resumed run) takes, and
then every ``drift_every`` pixels, the tip records a small topograph (a square patch of z
readings, moving as between pixels) centred on the fixed point ``drift_reference_m``. The
first patch ever recorded is the reference (kept in the run file, so a resumed run compares
with the same one); each later patch is matched to it by least squares over lateral shifts,
giving the lateral drift since the start, which is added to every commanded position from
then on. A patch is two-dimensional on purpose: a single line across a 2D surface changes its
cut when the drift has a component across it, and its shift along it comes out wrong. A
correction beyond ``drift_max_m`` pauses the run (the tip would be chasing something else).
"""

from __future__ import annotations

import logging
import math
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from .errors import InterlockError
from .spectroscopy import check_interlocks, ramp_setpoint

log = logging.getLogger(__name__)

#: A reference patch whose rms height is below this shows no feature to lock on to (m).
MIN_FEATURE_RMS_M = 5e-12
#: Fraction of each axis of the patch that must overlap the reference for a shift to count.
MIN_OVERLAP = 0.5
#: A match whose rms misfit exceeds this fraction of the reference patch's own relief
#: compares different stretches of surface (a correct one leaves the interpolation error and
#: the noise: ~10 % with a point spacing of a third of the surface's correlation length).
MAX_MISFIT_FRACTION = 0.3
#: Shift search step, as a fraction of the patch's point spacing (then refined by a parabola).
SHIFT_STEP_FRACTION = 0.1


class ScanRangeError(InterlockError):
    """A position outside the piezo's scan range was about to be sent: nothing moved."""

    kind = "scan_range"


class DriftLimitError(InterlockError):
    """The measured drift exceeds the step's ``drift_max_m``: the run pauses."""

    kind = "drift_limit"


@dataclass(frozen=True)
class GridMove:
    """How the tip travels between the pixels of one grid step (from the plan's step)."""

    step_index: int
    nx: int
    ny: int
    first_point: int
    move_setpoint_A: float
    move_speed_m_per_s: float
    move_settle_s: float
    drift_every: int = 0
    drift_reference_m: tuple[float, float] | None = None
    drift_patch_offsets_m: tuple[float, ...] = ()
    drift_max_m: float = math.inf


@dataclass(frozen=True)
class GridPixel:
    """Which pixel of which grid a point is."""

    move: GridMove
    ix: int
    iy: int

    @property
    def pixel(self) -> int:
        return self.iy * self.move.nx + self.ix


def grid_move(step, step_index: int, first_point: int) -> GridMove:
    """The :class:`GridMove` of a plan's grid step whose pixel 0 is point ``first_point``."""
    return GridMove(
        step_index=step_index, nx=step.nx, ny=step.ny, first_point=first_point,
        move_setpoint_A=step.move_setpoint_A, move_speed_m_per_s=step.move_speed_m_per_s,
        move_settle_s=step.move_settle_s, drift_every=step.drift_every,
        drift_reference_m=(None if step.drift_reference_m is None
                           else (float(step.drift_reference_m[0]),
                                 float(step.drift_reference_m[1]))),
        drift_patch_offsets_m=tuple(float(u) for u in step.drift_patch_offsets_m()),
        drift_max_m=step.drift_max_m,
    )


def check_in_scan_range(station, x_m: float, y_m: float, what: str) -> None:
    """Raise :class:`ScanRangeError` unless (x, y) lies in ``limits.scan_range_m``."""
    scan = station.limits.scan_range_m
    if scan is None:
        raise ScanRangeError(f"{what}: the station file gives no limits.scan_range_m; a grid "
                             "does not move the tip without it")
    (x0, x1), (y0, y1) = scan
    if not (x0 <= x_m <= x1 and y0 <= y_m <= y1):
        raise ScanRangeError(
            f"{what}: ({x_m:.4g}, {y_m:.4g}) m lies outside limits.scan_range_m "
            f"[[{x0:g}, {x1:g}], [{y0:g}, {y1:g}]]; the tip was not moved")


def move_tip_safely(station, x_m: float, y_m: float, move: GridMove, V_sp_V: float,
                    check: Callable[[], None] | None = None, what: str = "grid move") -> float:
    """Ramp to the move setpoint with the loop closed, move to (x, y), settle, return z (m)."""
    check_in_scan_range(station, x_m, y_m, what)
    fb = station.feedback
    fb.set_bias(V_sp_V)
    ramp_setpoint(station, move.move_setpoint_A, check=lambda: check_interlocks(station))
    x0, y0 = fb.get_tip_position()
    distance = math.hypot(x_m - x0, y_m - y0)
    if distance > 0:
        started = station.clock.now()
        fb.set_tip_position(x_m, y_m)
        # A controller that waits for the tip already took the time; the simulated move is
        # instantaneous, and the tip is given the time it takes at the planned speed.
        left = distance / move.move_speed_m_per_s - (station.clock.now() - started)
        if left > 0:
            station.clock.sleep(left)
    station.clock.sleep(move.move_settle_s)
    check_interlocks(station)
    if check is not None:
        check()
    return float(fb.get_z())


def patch_shift_m(reference: np.ndarray, patch: np.ndarray, offsets_m: np.ndarray
                  ) -> tuple[float, float, float]:
    """Lateral shift (sx, sy) in m with ``patch(u, v) ~ reference(u - sx, v - sy) + c``, and the
    rms misfit over the overlap (m). Patches are [n_y, n_x] on the same square grid
    ``offsets_m`` along each axis.

    Least squares over shifts on a grid a tenth of the point spacing (the reference
    interpolated bilinearly, each patch less its mean over the overlap), searched while at
    least :data:`MIN_OVERLAP` of each axis overlaps, then a parabola through the best
    neighbours along each axis.
    """
    from scipy.ndimage import map_coordinates

    u = np.asarray(offsets_m, dtype=float)
    n = u.size
    spacing = u[1] - u[0]
    reach = (1 - MIN_OVERLAP) * (u[-1] - u[0])
    steps = np.arange(-reach, reach + spacing * SHIFT_STEP_FRACTION / 2,
                      spacing * SHIFT_STEP_FRACTION)
    vv, uu = np.meshgrid(u, u, indexing="ij")

    def cost(sx: float, sy: float) -> float:
        iu = (uu - sx - u[0]) / spacing  # fractional index into the reference, x
        iv = (vv - sy - u[0]) / spacing
        inside = (iu >= 0) & (iu <= n - 1) & (iv >= 0) & (iv <= n - 1)
        a = patch[inside]
        b = map_coordinates(reference, [iv[inside], iu[inside]], order=1)
        d = (a - a.mean()) - (b - b.mean())
        return float(np.mean(d * d))

    costs = np.array([[cost(sx, sy) for sx in steps] for sy in steps])
    ky, kx = np.unravel_index(int(np.argmin(costs)), costs.shape)
    best = [float(steps[kx]), float(steps[ky])]
    step = steps[1] - steps[0]
    for axis, k, line in ((0, kx, costs[ky, :]), (1, ky, costs[:, kx])):
        if 0 < k < steps.size - 1:
            c0, c1, c2 = line[k - 1], line[k], line[k + 1]
            curvature = c0 - 2 * c1 + c2
            if curvature > 0:
                best[axis] += 0.5 * step * (c0 - c2) / curvature
    return best[0], best[1], math.sqrt(max(cost(best[0], best[1]), 0.0))


class DriftTracker:
    """The lateral correction of one grid step, kept up to date by reference patches."""

    def __init__(self, move: GridMove, reference: np.ndarray | None = None,
                 correction_m: tuple[float, float] = (0.0, 0.0)) -> None:
        self.move = move
        self.reference = reference  # [n, n] z patch around the reference point, m
        self.correction_m = correction_m
        self._since = None  # pixels since the last re-reference (None: none this session)
        self._flat = False  # the reference patch showed nothing to track: no more tries

    @property
    def enabled(self) -> bool:
        return self.move.drift_every > 0 and self.move.drift_reference_m is not None

    def due(self) -> bool:
        """Whether the next pixel needs a re-reference first."""
        return (self.enabled and not self._flat
                and (self._since is None or self._since >= self.move.drift_every))

    def pixel_taken(self) -> None:
        if self._since is not None:
            self._since += 1

    def patch(self, station, V_sp_V: float, check: Callable[[], None] | None) -> np.ndarray:
        """Record the reference patch at the present correction, [n_y, n_x] z (m)."""
        rx, ry = self.move.drift_reference_m
        cx, cy = self.correction_m
        offsets = np.asarray(self.move.drift_patch_offsets_m)
        out = np.empty((offsets.size, offsets.size))
        for j, v in enumerate(offsets):
            for i, u in enumerate(offsets):
                out[j, i] = move_tip_safely(station, rx + cx + u, ry + cy + v, self.move,
                                            V_sp_V, check, "drift reference patch")
        return out

    def _match(self, patch: np.ndarray) -> tuple[float, float, float] | None:
        """(shift x, shift y, misfit as a fraction of the reference's relief), or None when
        the match cannot be trusted: the best shift sits at the search's edge, or the misfit
        exceeds :data:`MAX_MISFIT_FRACTION` (another stretch of surface)."""
        offsets = np.asarray(self.move.drift_patch_offsets_m)
        reach = (1 - MIN_OVERLAP) * (offsets[-1] - offsets[0])
        sx, sy, misfit = patch_shift_m(self.reference, patch, offsets)
        fraction = misfit / max(float(np.std(self.reference)), 1e-30)
        log.debug("drift match: shift (%.3g, %.3g) m, misfit %.2f", sx, sy, fraction)
        if fraction > MAX_MISFIT_FRACTION or max(abs(sx), abs(sy)) > 0.95 * reach:
            return None
        return sx, sy, fraction

    def rereference(self, station, V_sp_V: float, check: Callable[[], None] | None = None
                    ) -> tuple[str, np.ndarray | None]:
        """Take the reference patch; returns (what happened, the new reference or None).

        The first patch ever taken becomes the reference (returned so the caller stores it);
        later ones update :attr:`correction_m`. At the first re-reference of a session (a
        resume: the drift while the run was down is unknown) a patch that does not match
        around the last correction is taken again around the uncorrected point. A match that
        cannot be trusted leaves the correction as it was (said in the message). Raises
        :class:`DriftLimitError` when a trusted correction exceeds ``drift_max_m``.
        """
        first_of_session = self._since is None
        self._since = 0
        patch = self.patch(station, V_sp_V, check)
        if self.reference is None:
            rms = float(np.std(patch))
            if rms < MIN_FEATURE_RMS_M:
                self._flat = True  # never again this session: nothing to lock on to
                return (f"drift reference patch at {self.move.drift_reference_m} m is flat "
                        f"({rms * 1e12:.2g} pm rms): no feature to track, the grid runs "
                        "without drift correction", None)
            self.reference = patch
            return (f"drift reference recorded ({patch.shape[0]} x {patch.shape[1]} points, "
                    f"{rms * 1e12:.3g} pm rms)", patch)
        start = base = self.correction_m
        match = self._match(patch)
        if match is None and first_of_session and start != (0.0, 0.0):
            base = self.correction_m = (0.0, 0.0)
            patch = self.patch(station, V_sp_V, check)
            match = self._match(patch)
        self.correction_m = start  # until a new one is accepted
        if match is None:
            return (f"drift reference not found near the correction ({start[0] * 1e9:+.3f}, "
                    f"{start[1] * 1e9:+.3f}) nm (the patch does not match the reference); the "
                    "correction is kept", None)
        sx, sy, fraction = match
        cx, cy = base[0] + sx, base[1] + sy
        if math.hypot(cx, cy) > self.move.drift_max_m:
            raise DriftLimitError(
                f"measured drift ({cx * 1e9:.3g}, {cy * 1e9:.3g}) nm exceeds drift_max_m "
                f"{self.move.drift_max_m * 1e9:.3g} nm; paused (check the reference point)")
        self.correction_m = (cx, cy)
        dz = float(np.mean(patch) - np.mean(self.reference))
        return (f"drift re-referenced: shift ({(cx - start[0]) * 1e9:+.3f}, "
                f"{(cy - start[1]) * 1e9:+.3f}) nm, correction now ({cx * 1e9:+.3f}, "
                f"{cy * 1e9:+.3f}) nm, z {dz * 1e9:+.3f} nm since the reference; misfit "
                f"{fraction:.0%} of the reference's relief", None)


@dataclass
class PixelPlace:
    """Where a pixel's spectrum was taken: commanded lab-frame position and topography."""

    pos_x_m: float
    pos_y_m: float
    z_m: float


class GridSession:
    """The grid state of one engine run: a drift tracker per grid step, restored from the run
    file on resume (its stored reference patch and the last pixel's correction)."""

    def __init__(self, stored: dict | None = None) -> None:
        self._trackers: dict[int, DriftTracker] = {}
        self._stored = stored or {}

    def tracker(self, move: GridMove, nominal: Callable[[int], tuple[float, float]]
                ) -> DriftTracker:
        tracker = self._trackers.get(move.step_index)
        if tracker is None:
            reference, correction = None, (0.0, 0.0)
            stored = self._stored
            if stored:
                reference = stored.get("reference")
                last = stored.get("last_pixel")
                if last is not None:
                    x, y = nominal(last)
                    correction = (stored["pos_x_m"] - x, stored["pos_y_m"] - y)
            tracker = DriftTracker(move, reference, correction)
            self._trackers[move.step_index] = tracker
        return tracker

    def prepare(self, station, pixel: GridPixel, position_m: tuple[float, float],
                V_sp_V: float, nominal: Callable[[int], tuple[float, float]],
                event: Callable[[str, str], None], store_reference: Callable[[np.ndarray], None],
                check: Callable[[], None] | None = None) -> PixelPlace:
        """Re-reference if due, then move to the pixel (drift-corrected) and read its z."""
        tracker = self.tracker(pixel.move, nominal)
        if tracker.due():
            message, new_reference = tracker.rereference(station, V_sp_V, check)
            event("drift", message)
            if new_reference is not None:
                store_reference(new_reference)
        x = position_m[0] + tracker.correction_m[0]
        y = position_m[1] + tracker.correction_m[1]
        z = move_tip_safely(station, x, y, pixel.move, V_sp_V, check,
                            f"pixel ({pixel.iy}, {pixel.ix})")
        return PixelPlace(x, y, z)

    def pixel_taken(self, pixel: GridPixel) -> None:
        tracker = self._trackers.get(pixel.move.step_index)
        if tracker is not None:
            tracker.pixel_taken()


def grid_geometry(plan):
    """The run file's grid layout for ``plan`` (its one grid step), or None without one.

    Pixel (0, 0) is the grid's first point as :func:`.plan.plan_points` numbers the plan's
    spectrum steps (cooldown steps take no points).
    """
    from stm_andreev.config.plan import GridStep, SpectrumParams
    from stm_andreev.storage.grid_layout import GridGeometry

    first = 0
    for step in plan.steps:
        if isinstance(step, GridStep):
            u, v = step.pixel_offsets_m()
            return GridGeometry(
                nx=step.nx, ny=step.ny, centre_m=(float(step.centre_m[0]), float(step.centre_m[1])),
                size_m=(float(step.size_m[0]), float(step.size_m[1])),
                rotation_deg=float(step.rotation_deg), bias_V=step.bias_V(), x_m=u, y_m=v,
                first_point=first,
                drift_patch_points=step.drift_patch_points if step.drift_every > 0 else 0)
        if isinstance(step, SpectrumParams):
            first += step.n_spectra
    return None
