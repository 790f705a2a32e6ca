"""VirtualLab: the simulated world every instrument emulator reads and writes.

One object holds the sample and its gap map, the tip (position, height, channels), the bias,
the Z controller, the current preamplifier, the lock-in's physics and the fridge, and advances
them with an injected clock. State evolves lazily: every public getter first calls
:meth:`VirtualLab.advance`, which integrates the fridge and the feedback from the last update
to ``clock.now()`` (closed forms and bounded substeps; a 12-hour jump costs milliseconds) and
records the lock-in's new input. Everything random is seeded, so the same seed and the same
clock history give the same numbers.

Physics comes from :mod:`stm_andreev.physics` only (the analysis fits use the same functions).
Model evaluations are cached per rounded state (see :mod:`.spectra`); ``model_evaluations``
counts the full-spectrum evaluations.

Default state at construction: base temperature with the heater off, tip at (0, 0) in
tunnelling at -3 mV bias and 1 nA setpoint with the feedback on and settled, preamp gain
1e8 V/A, lock-in at its power-on defaults (1 V rms sine out, i.e. 1 mV at the junction with
the default divider: a station sets its own modulation).
"""

from __future__ import annotations

import logging
import math
import threading
from collections.abc import Hashable
from dataclasses import dataclass

import numpy as np

from stm_andreev.clock import Clock
from stm_andreev.physics import G0_S, SampleParameters, get_sample

from .drift import LATERAL_STEP_M, VERTICAL_STEP_M, Surface, ThermalDrift
from .electronics import (
    LOCKIN_INPUT_NOISE_V_PER_RTHZ,
    LOCKIN_INPUT_RANGE_V_PEAK,
    PREAMP_BANDWIDTH_HZ,
    PREAMP_GAINS_V_PER_A,
    PREAMP_SATURATION_V,
    LockIn,
    LockInInput,
    OUNoise,
    current_noise_density_A,
)
from .errors import LabValueError
from .fridge import Fridge
from .gapmap import GapMap, LocalGaps
from .junction import Junction
from .spectra import BIAS_GRID_V, BarrierKey, BarrierTable, LRUCache, Spectrum, SpectrumKey

log = logging.getLogger(__name__)
_BARRIER_T_STEP = 0.02  # relative temperature step of the feedback table cache

MAX_BIAS_V = 10.0
MAX_TIP_OFFSET_M = 1e-4
FILM_SQUARES = 1.0  # Hall-bar section between the voltage probes, in squares
DEFAULT_BIAS_V = -3e-3
DEFAULT_SETPOINT_A = 1e-9
DEFAULT_GAIN_INDEX = 3


@dataclass(frozen=True)
class _LockInSnapshot:
    """Everything the lock-in's input depends on, rounded as the spectrum cache rounds it."""

    bias_V: float
    key: SpectrumKey
    G_N_S: float
    gain_V_per_A: float
    vmod_rms_V: float


class VirtualLab:
    """The simulated STM, sample, electronics and fridge (see the module docstring).

    Units: SI throughout (V, A, m, K, s, S; energies in eV). Every public method is
    thread-safe through :attr:`lock` (an RLock emulators may hold around compound operations).
    """

    def __init__(
        self,
        sample: str | SampleParameters = "InO-2",
        *,
        clock: Clock,
        seed: int = 0,
        tip_xy_m: tuple[float, float] = (0.0, 0.0),
        n_channels: int | None = None,
        modulation_divider: float = 1e-3,
        surface: Surface | None = None,
        drift: ThermalDrift | None = None,
    ) -> None:
        self.sample = get_sample(sample) if isinstance(sample, str) else sample
        self.clock = clock
        self.lock = threading.RLock()
        self.seed = int(seed)
        rng_tip, rng_current, rng_lockin = (
            np.random.default_rng(s) for s in np.random.SeedSequence(self.seed).spawn(3)
        )
        self._current_noise = OUNoise(rng_current, clock.now())
        self.gap_map = GapMap(self.sample, self.seed)
        # The contact's channel count is the sample's (a station-file key) unless overridden.
        self._junction = Junction(
            rng_tip,
            n_channels=self.sample.n_channels if n_channels is None else n_channels,
            channel_change_fraction=self.sample.tip_change_channel_fraction,
        )
        self._tip_xy = self._check_xy(*tip_xy_m)
        self.surface = surface if surface is not None else Surface()
        self.drift = drift if drift is not None else ThermalDrift(start_s=clock.now())
        self._drift_applied = self.drift.offset_m(clock.now())
        self._sample_xy = self._tip_xy
        self._local: LocalGaps = self.gap_map.gaps_at(*self._tip_xy)
        self._bias_V = DEFAULT_BIAS_V
        self._gain_index = DEFAULT_GAIN_INDEX
        self._t = clock.now()
        self.model_evaluations = 0
        self._spectra: LRUCache[SpectrumKey, Spectrum] = LRUCache(64)
        self._barriers: LRUCache[BarrierKey, BarrierTable] = LRUCache(32)
        self._gaps_cache: tuple[tuple, tuple[float, float, float, float]] | None = None
        self._barrier_gaps: tuple | None = None
        self._lockin_inputs: LRUCache[tuple, LockInInput] = LRUCache(64)
        # Last lock-in snapshot and the raw state it was built from (see _lockin_snapshot), and
        # the last (snapshot, harmonic) -> input lookup (see _lockin_input).
        self._snapshot_cache: tuple[tuple, _LockInSnapshot] | None = None
        # (raw state without the bias, spectrum key, G_N, gain, modulation): see _lockin_snapshot
        self._snapshot_parts: tuple | None = None
        self._last_input: tuple[_LockInSnapshot, int, LockInInput] | None = None
        # (barrier table, inputs, err) of the last feedback error function (_log_error_fn)
        self._error_fn_memo: tuple | None = None
        self.fridge = Fridge(
            clock,
            film_resistance_ohm=self._film_resistance_ohm,
            lock=self.lock,
            sync=self.advance,
        )
        self.lockin = LockIn(
            clock,
            self.lock,
            self.advance,
            self._lockin_snapshot,
            self._lockin_input,
            rng_lockin,
            divider=modulation_divider,
        )
        j = self._junction
        self._place_sample()
        j.set_setpoint(DEFAULT_SETPOINT_A)
        j.set_feedback(True)
        j.z_m = min(max(j.fixed_point_m(self._log_error_fn()), j.z_limits_m[0]), j.z_limits_m[1])
        self.lockin.mark()

    # ================================================================ time
    def advance(self) -> None:
        """Bring every part of the lab up to ``clock.now()``."""
        with self.lock:
            now = self.clock.now()
            if now <= self._t:
                return
            self.fridge.advance_to(now)
            if self._junction.feedback_on:
                self._junction.advance(self._t, now - self._t, self._log_error_fn())
            self._t = now
            if self.drift.active:
                self._follow_drift(now)
            self.lockin.mark()

    def _follow_drift(self, now: float) -> None:
        """Re-place the sample under the tip once the drift has moved it a visible step: the
        gaps after a lateral step, the surface height (the loop's contact) after a vertical
        one, whichever the topography or the vertical drift brings first."""
        d = self.drift.offset_m(now)
        a = self._drift_applied
        x, y = self._tip_xy
        if math.hypot(d[0] - a[0], d[1] - a[1]) >= LATERAL_STEP_M:
            self._drift_applied = d
            self._place_sample()
            self._changed()
            return
        height = self.surface.height_m(x - d[0], y - d[1]) + d[2]
        if abs(height - self._junction.surface_m) >= VERTICAL_STEP_M:
            self._junction.surface_m = height
            self._changed()

    def _place_sample(self) -> None:
        """The sample point under the tip (commanded position minus the lateral drift), its
        gaps, and the surface height the junction sees (topography plus vertical drift)."""
        dx, dy, dz = self._drift_applied
        x, y = self._tip_xy
        self._sample_xy = (x - dx, y - dy)
        self._local = self.gap_map.gaps_at(*self._sample_xy)
        self._junction.surface_m = self.surface.height_m(*self._sample_xy) + dz

    @property
    def sample_xy_m(self) -> tuple[float, float]:
        """Get the sample point under the tip (x, y) in m: the tip position less the drift."""
        with self.lock:
            self.advance()
            return self._sample_xy

    def _changed(self) -> None:
        self._snapshot_cache = None  # belt and braces: the raw key below covers it already
        self.lockin.mark()

    # ================================================================ model state
    def _film_resistance_ohm(self, T_K: float) -> float:
        return float(self.sample.sheet_resistance_ohm(T_K)) * FILM_SQUARES

    def _gaps(self) -> tuple[float, float, float, float, float]:
        """(T_K, E_g, Delta_c, Gamma, Gamma_c) at the tip now (film temperature), eV."""
        T = self.fridge.stage_temperature_K("film")
        key = (round(T, 4), self._sample_xy)
        if self._gaps_cache is None or self._gaps_cache[0] != key:
            eg, dc = self._local.at_temperature(self.sample, key[0])
            gamma = self.sample.gamma_at_eV(key[0])
            self._gaps_cache = (key, (eg, dc, gamma, self.sample.gamma_c_at_eV(key[0])))
        eg, dc, gamma, gamma_c = self._gaps_cache[1]
        return key[0], eg, dc, gamma, gamma_c

    def _spectrum_key(self) -> SpectrumKey:
        T, eg, dc, gamma, gamma_c = self._gaps()
        Z = math.exp(min(self._junction.log_barrier(), math.log(1e3)))
        return SpectrumKey.make(T, eg, dc, Z, gamma, gamma_c)

    def _spectrum(self, key: SpectrumKey) -> Spectrum:
        return self._spectra.get(
            key, lambda: Spectrum(key, self._count, self.lockin.modulation_Vrms)
        )

    def _count(self) -> None:
        self.model_evaluations += 1

    def _normal_conductance_S(self) -> float:
        j = self._junction
        return j.tip.n_channels * j.transmission() * G0_S

    def _gain(self) -> float:
        return PREAMP_GAINS_V_PER_A[self._gain_index]

    def _true_current_A(self) -> float:
        """Noiseless DC current at the present bias (A)."""
        j = self._junction
        if j.feedback_on and self._bias_V != 0.0:
            # The loop's own table answers at the bias without a full spectrum per height,
            # which matters while the tip is moving and every height is a new model state.
            ln_I = (
                math.log(j.tip.n_channels * G0_S)
                + j.log_transmission(j.z_m)
                + self._barrier_table().ln_current_norm(j.log_barrier())
            )
            return math.copysign(math.exp(ln_I), self._bias_V)
        spec = self._spectrum(self._spectrum_key())
        return self._normal_conductance_S() * float(spec.current_norm_at(np.array(self._bias_V)))

    def _barrier_table(self) -> BarrierTable:
        # The feedback's I(Z) table barely moves with a 2 % change of T (the tip height it
        # implies shifts by well under a picometre): it is built at T on a 2 % grid, with the
        # gaps of that T, so thermometer polls while the fridge moves do not each cost a model
        # evaluation.
        T = self.fridge.stage_temperature_K("film")
        T_key = round(
            math.exp(round(math.log(max(T, 1e-6)) / _BARRIER_T_STEP) * _BARRIER_T_STEP), 6
        )
        spot = (T_key, self._sample_xy)
        if self._barrier_gaps is None or self._barrier_gaps[0] != spot:
            eg, dc = self._local.at_temperature(self.sample, T_key)
            params = (
                round(eg, 8),
                round(dc, 8),
                round(self.sample.gamma_at_eV(T_key), 8),
                round(self.sample.gamma_c_at_eV(T_key), 8),
            )
            self._barrier_gaps = (spot, params)
        key = BarrierKey(T_key, *self._barrier_gaps[1], self._bias_V)
        return self._barriers.get(key, lambda: BarrierTable(key, self._count))

    def _log_error_fn(self):
        """ln(|I_meas(z)| / |I_sp|) at the present bias, temperature and tip position.

        The same function object is returned while everything it depends on is unchanged,
        so the junction can reuse its fixed point across advances (see
        :meth:`Junction.fixed_point_m`).
        """
        table = self._barrier_table()
        j = self._junction
        key = (j.tip.n_channels, j.contact_m, j.kappa_per_m, self._gain(), j.setpoint_A,
               self._bias_V)
        memo = self._error_fn_memo
        if memo is not None and memo[0] is table and memo[1] == key:
            return memo[2]
        ln_NG0 = math.log(j.tip.n_channels * G0_S)
        ln_clip = math.log(PREAMP_SATURATION_V / self._gain())
        ln_sp = math.log(abs(j.setpoint_A))
        if self._bias_V == 0.0:
            def err(z_m: float) -> float:
                return -math.inf
        else:
            def err(z_m: float) -> float:
                ln_I = (ln_NG0 + j.log_transmission(z_m)
                        + table.ln_current_norm(j.log_barrier(z_m)))
                return min(ln_I, ln_clip) - ln_sp

        self._error_fn_memo = (table, key, err)
        return err

    # ================================================================ junction and STM
    @property
    def bias_V(self) -> float:
        """Control the sample bias in V (|V| <= 10)."""
        with self.lock:
            self.advance()
            return self._bias_V

    @bias_V.setter
    def bias_V(self, value: float) -> None:
        value = float(value)
        if not abs(value) <= MAX_BIAS_V:
            raise LabValueError(f"bias {value} V is outside -{MAX_BIAS_V}..{MAX_BIAS_V} V")
        with self.lock:
            self.advance()
            self._bias_V = value
            self._changed()

    def measured_current_A(self) -> float:
        """Measure the tunnel current in A as the preamp reports it (noisy, clipped at +-10 V)."""
        with self.lock:
            self.advance()
            I = self._true_current_A()
            gain = self._gain()
            # Band-limited noise: correlated over 1/(4 B), real part of a unit complex OU process.
            sigma = current_noise_density_A(I, gain) * math.sqrt(2.0 * PREAMP_BANDWIDTH_HZ)
            n = self._current_noise.sample(self.clock.now(), 1.0 / (4.0 * PREAMP_BANDWIDTH_HZ))
            noisy = I + sigma * n.real
            clip = PREAMP_SATURATION_V / gain
            return min(max(noisy, -clip), clip)

    @property
    def preamp_gains_V_per_A(self) -> tuple[float, ...]:
        """Get the preamp's gains in V/A, indexed by :attr:`preamp_gain_index`."""
        return PREAMP_GAINS_V_PER_A

    @property
    def preamp_gain_index(self) -> int:
        """Control the preamp gain index 0-4 (1e5 ... 1e9 V/A)."""
        return self._gain_index

    @preamp_gain_index.setter
    def preamp_gain_index(self, value: int) -> None:
        if int(value) != value or not 0 <= int(value) < len(PREAMP_GAINS_V_PER_A):
            raise LabValueError(
                f"preamp gain index {value!r} is not an integer 0..{len(PREAMP_GAINS_V_PER_A) - 1}"
            )
        with self.lock:
            self.advance()
            self._gain_index = int(value)
            self._changed()

    def preamp_saturated(self) -> bool:
        """Get whether the preamp output is at its +-10 V rail."""
        with self.lock:
            self.advance()
            return abs(self._true_current_A() * self._gain()) >= PREAMP_SATURATION_V

    @property
    def feedback_on(self) -> bool:
        """Control the Z controller (True = regulating the current on the setpoint)."""
        with self.lock:
            self.advance()
            return self._junction.feedback_on

    @feedback_on.setter
    def feedback_on(self, on: bool) -> None:
        with self.lock:
            self.advance()
            self._junction.set_feedback(on)
            self._changed()

    @property
    def setpoint_A(self) -> float:
        """Control the current setpoint in A (0.1 pA-100 uA in magnitude)."""
        return self._junction.setpoint_A

    @setpoint_A.setter
    def setpoint_A(self, value: float) -> None:
        with self.lock:
            self.advance()
            self._junction.set_setpoint(value)
            self._changed()

    @property
    def z_m(self) -> float:
        """Control the tip height in m; setting it with the feedback on raises LabError."""
        with self.lock:
            self.advance()
            return self._junction.z_m

    @z_m.setter
    def z_m(self, value: float) -> None:
        with self.lock:
            self.advance()
            self._junction.set_z(value, self.clock.now())
            self._changed()

    @property
    def z_limits_m(self) -> tuple[float, float]:
        """Get the Z controller's (low, high) limits in m."""
        return self._junction.z_limits_m

    def set_z_limits(self, low_m: float, high_m: float) -> None:
        """Set the z limits in m (low < high); the tip is clamped into them."""
        with self.lock:
            self.advance()
            self._junction.set_limits(low_m, high_m)
            self._junction.check_contact(self.clock.now(), "z limits moved the tip into contact")
            self._changed()

    @property
    def feedback_gains(self) -> tuple[float, float, float]:
        """Control the Z controller gains (P in m, time constant in s, I in m/s)."""
        return self._junction.gains

    @feedback_gains.setter
    def feedback_gains(self, value: tuple[float, float, float]) -> None:
        with self.lock:
            self.advance()
            self._junction.set_gains(value)

    def withdraw(self) -> None:
        """Switch the feedback off and retract the tip to the upper z limit."""
        with self.lock:
            self.advance()
            self._junction.withdraw()
            self._changed()

    def home(self) -> None:
        """Switch the feedback off and move the tip to its home height (10 nm)."""
        with self.lock:
            self.advance()
            self._junction.home()
            self._junction.check_contact(self.clock.now(), "home position is in contact")
            self._changed()

    def feedback_status(self) -> int:
        """Get the Nanonis status: 1 off, 2 on, 3 hold, 4 switching off, 5 safe tip, 6 withdrawing."""
        with self.lock:
            self.advance()
            return self._junction.status

    @property
    def tip_xy_m(self) -> tuple[float, float]:
        """Get the tip's lateral position (x, y) in m."""
        return self._tip_xy

    @staticmethod
    def _check_xy(x_m: float, y_m: float) -> tuple[float, float]:
        x_m, y_m = float(x_m), float(y_m)
        if not (abs(x_m) <= MAX_TIP_OFFSET_M and abs(y_m) <= MAX_TIP_OFFSET_M):
            raise LabValueError(f"tip position ({x_m}, {y_m}) m is outside +-{MAX_TIP_OFFSET_M} m")
        return x_m, y_m

    def move_tip(self, x_m: float, y_m: float) -> None:
        """Move the tip laterally to (x_m, y_m) (instantaneous; the local gaps change)."""
        xy = self._check_xy(x_m, y_m)
        with self.lock:
            self.advance()
            self._tip_xy = xy
            self._place_sample()
            self._changed()

    @property
    def safe_tip_events(self) -> list[tuple[float, str]]:
        """Get the logged safe-tip events (time s, description): crashes and tip changes."""
        with self.lock:
            self.advance()
            return list(self._junction.safe_tip_events)

    def tip_change(self) -> None:
        """Fault: the tip reshapes (z0 and possibly the channel count jump, seeded); logged."""
        with self.lock:
            self.advance()
            now = self.clock.now()
            note = self._junction.reshape_tip()
            self._junction.safe_tip_events.append((now, note))
            log.warning("t = %.3f s: %s", now, note)
            self._junction.check_contact(now, "tip change put the tip into contact")
            self._changed()

    def junction_state(self) -> dict[str, float]:
        """Get the true junction parameters (for tests and the dry-run report).

        Keys: Eg_eV, Dc_eV, Z, gamma_eV, gamma_c_eV (Andreev-channel broadening), G_N_S, T_K,
        tau, z_m, z0_m, n_channels.
        """
        with self.lock:
            self.advance()
            T, eg, dc, gamma, gamma_c = self._gaps()
            j = self._junction
            return {
                "Eg_eV": eg,
                "Dc_eV": dc,
                "gamma_c_eV": gamma_c,
                "Z": math.exp(j.log_barrier()) if j.log_barrier() < 700 else math.inf,
                "gamma_eV": gamma,
                "G_N_S": self._normal_conductance_S(),
                "T_K": T,
                "tau": j.transmission(),
                "z_m": j.z_m,
                "z0_m": j.tip.z0_m,
                "surface_m": j.surface_m,
                "n_channels": float(j.tip.n_channels),
            }

    def true_dIdV_S(self, V_V: float | np.ndarray) -> float | np.ndarray:
        """Model dI/dV in S at biases V_V with thermal and the present lock-in smearing."""
        with self.lock:
            self.advance()
            spec = self._spectrum(self._spectrum_key())
            g = spec.conductance_norm(np.asarray(V_V, dtype=float), self.lockin.modulation_Vrms)
            out = self._normal_conductance_S() * g
            return float(out) if np.ndim(out) == 0 else out

    # ================================================================ lock-in plumbing
    def _lockin_raw_state(self) -> tuple:
        """Every unrounded input of :meth:`_lockin_snapshot` (plain attribute reads, cheap), bias first.

        The snapshot is a pure function of these (the local gaps follow from the tip position,
        Z and G_N from the height, the tip's z0 and its channel count), so an equal raw state
        gives an equal snapshot whatever changed it (a setter, the clock, a fridge jump).
        """
        j = self._junction
        return (
            self._bias_V,
            self._gain_index,
            self._sample_xy,
            self.fridge.stage_temperature_K("film"),
            j.z_m,
            j.contact_m,
            j.tip.n_channels,
            j.kappa_per_m,
            self.lockin.modulation_Vrms,
        )

    def _lockin_snapshot(self) -> Hashable:
        # One SNAP? asks for the snapshot several times (mark, X/Y, overload bits) in the same
        # state: building it (gaps, barrier, rounding of the spectrum key) is most of the cost
        # of a query, so the last one is reused while the raw state is unchanged. Reusing the
        # same object also lets _lockin_input recognise it by identity.
        raw = self._lockin_raw_state()
        cached = self._snapshot_cache
        if cached is not None and cached[0] == raw:
            return cached[1]
        # A bias sweep changes only the bias (raw[0]): the rest of the snapshot (spectrum key,
        # G_N, gain, modulation) is a function of raw[1:] and is kept across the sweep.
        parts = self._snapshot_parts
        if parts is None or parts[0] != raw[1:]:
            parts = (raw[1:], self._spectrum_key(), self._normal_conductance_S(), self._gain(),
                     round(self.lockin.modulation_Vrms, 9))
            self._snapshot_parts = parts
        snap = _LockInSnapshot(
            bias_V=self._bias_V,
            key=parts[1],
            G_N_S=parts[2],
            gain_V_per_A=parts[3],
            vmod_rms_V=parts[4],
        )
        self._snapshot_cache = (raw, snap)
        return snap

    def _lockin_input(self, snap: Hashable, harmonic: int) -> LockInInput:
        last = self._last_input
        if last is not None and last[0] is snap and last[1] == harmonic:
            return last[2]  # the same snapshot object again: skip hashing it for the LRU
        if not isinstance(snap, _LockInSnapshot):
            raise TypeError(f"not a lock-in snapshot of this lab: {snap!r}")
        # One lock-in query replays the same few input states several times (X/Y, overload
        # bits, filter segments): compute each state's input once.
        inp = self._lockin_inputs.get(
            (snap, harmonic), lambda: self._compute_lockin_input(snap, harmonic)
        )
        self._last_input = (snap, harmonic, inp)
        return inp

    def _compute_lockin_input(self, snap: _LockInSnapshot, harmonic: int) -> LockInInput:
        spec = self._spectrum(snap.key)
        V = snap.bias_V
        # A new input state per bias point of a sweep: scalar interpolation without numpy's
        # per-call overhead (the same values, see spectra.interp_scalar).
        I = snap.G_N_S * spec.current_norm_scalar(V)
        gain = snap.gain_V_per_A
        saturated = abs(I * gain) >= PREAMP_SATURATION_V
        g = spec.g_lockin(snap.vmod_rms_V)
        if saturated or snap.vmod_rms_V == 0.0:
            signal = 0.0
        elif harmonic == 1:
            signal = gain * snap.G_N_S * spec.g_lockin_scalar(V, snap.vmod_rms_V) * snap.vmod_rms_V
        elif harmonic == 2:
            # Second harmonic of I(V0 + sqrt(2) Vrms cos wt): G' Vrms^2 / (2 sqrt 2), in rms;
            # G' is taken on the first-harmonic-smeared G (a small-modulation approximation).
            dg = float(np.interp(np.array(V), BIAS_GRID_V, np.gradient(g, BIAS_GRID_V)))
            signal = gain * snap.G_N_S * dg * snap.vmod_rms_V**2 / (2.0 * math.sqrt(2.0))
        else:
            signal = 0.0
        i_clip = min(abs(I), PREAMP_SATURATION_V / gain)
        preamp = gain * current_noise_density_A(i_clip, gain)
        noise = math.hypot(preamp, LOCKIN_INPUT_NOISE_V_PER_RTHZ)
        over = saturated or math.sqrt(2.0) * abs(signal) > LOCKIN_INPUT_RANGE_V_PEAK
        return LockInInput(signal_V=signal, noise_V_per_rthz=noise, input_overload=over)
