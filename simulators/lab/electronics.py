"""Bias electronics: the current preamplifier, the lock-in's output filter, noise, the lock-in.

Lock-in output filter: n = slope / 6 cascaded RC stages of time constant tau. With an input
that is constant between events, each stage has a closed form (deviations e_k = s_k - u obey
e_k(t) = exp(-t/tau) * sum_{j<=k} e_j(0) (t/tau)^(k-j) / (k-j)!), so the output is exact at
any reading time: right after a step it still shows the old value, after 5 tau (6 dB/oct) it is
within 0.7 % of the new one, and steeper slopes settle later.

The lock-in does not poll: the lab records *segments* (start time, input state) whenever its
state changes, and a reading evaluates only the segments still inside the filter's memory
(:data:`MEMORY_TIME_CONSTANTS` tau), each once. So a night of fridge polling costs nothing
here and the model is evaluated only for states the filter can still remember.

Noise (Gaussian, seeded): the lock-in input sees the preamp output, whose noise density is
gain * sqrt(2 e |I| + 4 k_B T_room / R_f) (shot noise plus the feedback resistor's Johnson
noise, R_f = gain) in quadrature with the lock-in's own 6 nV/sqrt(Hz); the output noise has
rms density * sqrt(ENBW), ENBW = 1/(4 tau), 1/(8 tau), 3/(32 tau), 5/(64 tau) for 6/12/18/24
dB/oct. It is a filtered process, not fresh per reading: an Ornstein-Uhlenbeck process with
correlation time 1/(4 ENBW) (exact for 6 dB/oct), so two readings at the same instant agree
and averaging readings taken faster than the filter does not beat the noise down.

Analog outputs (the CH1 and CH2 output BNCs, recorded by the STM controller's inputs): each
carries what :attr:`LockIn.output_sources` names, X, Y or R as value / sensitivity x 10 V,
theta as 10 V per 180 degrees (assumed, check the manual), anything else (noise, aux inputs
on a display) 0 V, all clipped at +-10.9 V (:data:`ANALOG_OUTPUT_LIMIT_V`). Overloads seen by
such a reading latch in the lab until the lock-in's emulator collects them
(:meth:`LockIn.take_latched_overloads`), as the instrument's status register latches them
while nobody queries it.
"""

from __future__ import annotations

import math
import threading
from collections.abc import Callable, Hashable
from dataclasses import dataclass

import numpy as np

from stm_andreev.clock import Clock
from stm_andreev.drivers.srs_tables import ANALOG_OUTPUT_FULL_SCALE_V, OUTPUT_SATURATION
from stm_andreev.physics import E_CHARGE_C

from .capture import CaptureBuffer
from .errors import LabValueError

PREAMP_GAINS_V_PER_A: tuple[float, ...] = (1e5, 1e6, 1e7, 1e8, 1e9)
PREAMP_SATURATION_V = 10.0
PREAMP_BANDWIDTH_HZ = 1000.0  # noise bandwidth of a current reading (Nanonis Current.Get)
ROOM_TEMPERATURE_K = 295.0
_K_B_J_PER_K = 1.380649e-23

LOCKIN_INPUT_NOISE_V_PER_RTHZ = 6e-9
LOCKIN_INPUT_RANGE_V_PEAK = 1.4
LOCKIN_DYNAMIC_RESERVE = 100.0  # filter overload when the unfiltered input exceeds this x FS
ENBW_PER_TAU: dict[int, float] = {6: 1 / 4, 12: 1 / 8, 18: 3 / 32, 24: 5 / 64}
MEMORY_TIME_CONSTANTS = 60.0  # e^-60 * poly: earlier inputs no longer matter
MAX_PENDING_INPUTS = 5000

OVERLOAD_INPUT, OVERLOAD_FILTER, OVERLOAD_OUTPUT = 1, 2, 4
#: Where the CH1/CH2 analog outputs clip (V): the displays' saturation, 1.09 x 10 V.
ANALOG_OUTPUT_LIMIT_V = OUTPUT_SATURATION * ANALOG_OUTPUT_FULL_SCALE_V
#: Theta on an analog output: +-180 degrees = +-10 V (assumed for both models).
THETA_OUTPUT_V_PER_DEG = ANALOG_OUTPUT_FULL_SCALE_V / 180.0
_SQRT_HALF = math.sqrt(0.5)  # rms of each quadrature of a unit-variance complex kick


def current_noise_density_A(current_A: float, gain_V_per_A: float) -> float:
    """Preamp input current noise in A/sqrt(Hz): shot noise plus feedback-resistor Johnson noise."""
    johnson = 4.0 * _K_B_J_PER_K * ROOM_TEMPERATURE_K / gain_V_per_A
    return math.sqrt(2.0 * E_CHARGE_C * abs(current_A) + johnson)


class OUNoise:
    """Unit-variance complex Ornstein-Uhlenbeck process sampled at arbitrary times (exact)."""

    def __init__(self, rng: np.random.Generator, t0_s: float) -> None:
        self._rng = rng
        self._t = t0_s
        self._state = complex(*rng.normal(0.0, math.sqrt(0.5), size=2))

    def sample(self, t_s: float, correlation_time_s: float) -> complex:
        """Value at time t_s (unit variance: E|n|^2 = 1, each quadrature 1/2)."""
        dt = t_s - self._t
        if dt > 0:
            rho = math.exp(-dt / correlation_time_s)
            # tolist(): unpacking the array itself makes two numpy scalars first (same values)
            kick = complex(*self._rng.normal(0.0, _SQRT_HALF, size=2).tolist())
            self._state = rho * self._state + math.sqrt(1.0 - rho * rho) * kick
            self._t = t_s
        return self._state


def enbw_Hz(time_constant_s: float, slope_db: int) -> float:
    """Equivalent noise bandwidth (Hz) of the lock-in output filter."""
    return ENBW_PER_TAU[slope_db] / time_constant_s


class RCCascade:
    """n identical first-order low-pass stages on a complex signal (X + iY), exact stepping."""

    def __init__(self, n_stages: int, value: complex = 0j) -> None:
        self.stages = [complex(value)] * n_stages

    @property
    def output(self) -> complex:
        return self.stages[-1]

    def reset(self, value: complex) -> None:
        self.stages = [complex(value)] * len(self.stages)

    def set_order(self, n_stages: int) -> None:
        """Change the stage count; new stages start at the present output (no jump)."""
        out = self.output
        self.stages = (self.stages + [out] * n_stages)[:n_stages]

    def evolve(self, u: complex, dt_s: float, tau_s: float) -> None:
        """Advance by dt_s with the input held at u (exact)."""
        if dt_s <= 0:
            return
        x = dt_s / tau_s
        decay = math.exp(-x)
        if decay == 0.0:
            self.reset(u)
            return
        e = [s - u for s in self.stages]
        new = []
        for k in range(len(e)):
            acc = 0j
            term = 1.0
            for j in range(k, -1, -1):  # e_j weighted x^(k-j)/(k-j)!
                acc += e[j] * term
                term *= x / (k - j + 1)
            new.append(u + decay * acc)
        self.stages = new


@dataclass(frozen=True)
class LockInSettings:
    """Front-panel settings of the SRS lock-in as the lab models them (SI units)."""

    amplitude_Vrms: float = 1.0  # SR830 power-on default: 1 V rms sine out
    frequency_Hz: float = 1000.0
    phase_deg: float = 0.0
    harmonic: int = 1
    time_constant_s: float = 0.1
    filter_slope_db: int = 12
    sensitivity_V: float = 1.0
    # What the CH1 and CH2 analog outputs carry: X and Y after power-on on both models.
    output_sources: tuple[str, str] = ("X", "Y")


@dataclass(frozen=True)
class LockInInput:
    """What the lab hands the lock-in for one input state (volts at the lock-in input)."""

    signal_V: float  # true in-phase harmonic signal, V rms (before the reference phase)
    noise_V_per_rthz: float  # input noise density
    input_overload: bool  # preamp saturated or the input range exceeded


SnapshotFn = Callable[[], Hashable]
InputFn = Callable[[Hashable, int], LockInInput]


class LockIn:
    """The SR830/SR860's physics seen by the emulators: settings, filtered X/Y, overloads.

    ``snapshot()`` returns a cheap hashable description of the lab's present input state;
    ``evaluate(snapshot, harmonic)`` turns one into a :class:`LockInInput` (possibly costly,
    it is called only for snapshots the filter still remembers). ``sync`` brings the whole lab
    up to the clock. All public methods take the lab's lock.
    """

    def __init__(
        self,
        clock: Clock,
        lock: threading.RLock,
        sync: Callable[[], None],
        snapshot: SnapshotFn,
        evaluate: InputFn,
        rng: np.random.Generator,
        divider: float = 1e-3,
    ) -> None:
        if not 0 < divider <= 1:
            raise LabValueError(f"modulation divider {divider} is outside (0, 1]")
        self._clock = clock
        self._lock = lock
        self._sync = sync
        self._snapshot = snapshot
        self._evaluate = evaluate
        self._rng = rng
        self.divider = float(divider)
        self._s = LockInSettings()
        self._filter = RCCascade(self._s.filter_slope_db // 6)
        self._filter_t = clock.now()
        # Pending inputs: (start time, lab snapshot, phase, harmonic). The last one is current.
        self._segments: list[tuple[float, Hashable, float, int]] = []
        self._fresh = True  # the filter has no history yet: start at the first input
        self._noise = OUNoise(rng, clock.now())
        self._capture: CaptureBuffer | None = None  # the SR860's capture buffer, when armed
        self._latched = 0  # overload bits seen through the analog outputs, not yet collected

    # ------------------------------------------------------------- segments and filter
    def _key(self) -> tuple[Hashable, float, int]:
        return self._snapshot(), self._s.phase_deg, self._s.harmonic

    def mark(self) -> None:
        """Record the lab's input state now (the lab calls this after every change)."""
        if self._capture is not None and self._capture.running:
            # A capture samples every instant: run the filter up to now before _forget_old
            # could drop inputs whose samples are not taken yet.
            self._flush()
        now = self._clock.now()
        snap, phase, harm = self._key()
        if self._segments and self._segments[-1][1:] == (snap, phase, harm):
            return
        if self._segments and self._segments[-1][0] >= now:
            self._segments[-1] = (now, snap, phase, harm)  # superseded at the same instant
        else:
            self._segments.append((now, snap, phase, harm))
        self._forget_old(now)

    def _forget_old(self, now: float) -> None:
        horizon = now - MEMORY_TIME_CONSTANTS * self._s.time_constant_s
        # Once a later segment started before the horizon, everything before it is forgotten.
        # The cap only matters for very long time constants left unread for hours: the oldest
        # inputs are then dropped (the filter restarts from the oldest one kept).
        while len(self._segments) >= 2 and (
            self._segments[1][0] <= horizon or len(self._segments) > MAX_PENDING_INPUTS
        ):
            self._segments.pop(0)
            self._fresh = True

    def _complex_input(self, seg: tuple[float, Hashable, float, int]) -> complex:
        _, snap, phase, harm = seg
        s = self._evaluate(snap, harm).signal_V
        # SRS convention: X = R cos(theta_sig - theta_ref), Y = R sin(theta_sig - theta_ref).
        return s * complex(math.cos(math.radians(-phase)), math.sin(math.radians(-phase)))

    def _flush(self) -> None:
        """Run the filter through every pending segment up to now."""
        now = self._clock.now()
        if self._filter_t == now and len(self._segments) == 1 and not self._fresh:
            # Already flushed at this instant (the usual case within one query: overload bits
            # then X/Y) and no new input since: the loop below would do nothing.
            return
        self._forget_old(now)
        tau = self._s.time_constant_s
        if not self._segments:
            self._filter_t = now
            return
        if self._fresh:
            first = self._segments[0]
            self._filter.reset(self._complex_input(first))
            self._filter_t = first[0]
            self._fresh = False
        for i, seg in enumerate(self._segments):
            end = self._segments[i + 1][0] if i + 1 < len(self._segments) else now
            start = max(seg[0], self._filter_t)
            if end > start:
                self._evolve(seg, start, end, tau)
                self._filter_t = end
        self._segments = [(now, *self._segments[-1][1:])]
        self._filter_t = now

    def _evolve(self, seg: tuple[float, Hashable, float, int], start: float, end: float,
                tau: float) -> None:
        """Run the filter over [start, end] on one input, stopping at capture sample times."""
        u = self._complex_input(seg)
        buffer = self._capture
        if buffer is None or not buffer.running:
            self._filter.evolve(u, end - start, tau)
            return
        enbw = self.enbw_Hz()
        sigma = self._evaluate(seg[1], seg[3]).noise_V_per_rthz * math.sqrt(2.0 * enbw)
        t = start
        for sample_t in buffer.times_in(start, end):
            self._filter.evolve(u, sample_t - t, tau)
            t = sample_t
            # the same filtered noise a reading at this instant gets (see read_xy_V)
            noise = self._noise.sample(sample_t, 1.0 / (4.0 * enbw)) * sigma
            buffer.record(sample_t, self._filter.output + noise)
        self._filter.evolve(u, end - t, tau)

    # ------------------------------------------------------------- capture buffer
    def start_capture(self, buffer: CaptureBuffer) -> None:
        """Arm ``buffer``: from now on the filter output is sampled into it."""
        with self._lock:
            self._sync()
            self._flush()
            self._capture = buffer

    def stop_capture(self) -> None:
        """Stop the running capture (its samples stay in its buffer)."""
        with self._lock:
            self._sync()
            self._flush()
            if self._capture is not None:
                self._capture.stop()
            self._capture = None

    def capture_status(self) -> CaptureBuffer | None:
        """The armed capture with every sample due by now taken (None if none is armed)."""
        with self._lock:
            self._sync()
            self._flush()
            return self._capture

    # ------------------------------------------------------------- settings
    def _change(self, **changes: object) -> None:
        with self._lock:
            self._sync()
            self._flush()
            self._s = LockInSettings(**{**self._s.__dict__, **changes})
            self._filter.set_order(self._s.filter_slope_db // 6)
            self.mark()

    @property
    def settings(self) -> LockInSettings:
        """Get all settings at once (immutable)."""
        return self._s

    @property
    def amplitude_Vrms(self) -> float:
        """Control the sine-out amplitude in V rms (0-5 V); the junction gets it x divider."""
        return self._s.amplitude_Vrms

    @amplitude_Vrms.setter
    def amplitude_Vrms(self, value: float) -> None:
        self._change(amplitude_Vrms=_in_range("sine amplitude V rms", value, 0.0, 5.0))

    @property
    def modulation_Vrms(self) -> float:
        """Control the modulation at the junction in V rms (= amplitude x divider)."""
        return self._s.amplitude_Vrms * self.divider

    @modulation_Vrms.setter
    def modulation_Vrms(self, value: float) -> None:
        self.amplitude_Vrms = float(value) / self.divider

    @property
    def frequency_Hz(self) -> float:
        """Control the reference frequency in Hz (1 mHz-500 kHz)."""
        return self._s.frequency_Hz

    @frequency_Hz.setter
    def frequency_Hz(self, value: float) -> None:
        self._change(frequency_Hz=_in_range("frequency Hz", value, 1e-3, 5e5))

    @property
    def phase_deg(self) -> float:
        """Control the reference phase in degrees (wrapped to -180..180)."""
        return self._s.phase_deg

    @phase_deg.setter
    def phase_deg(self, value: float) -> None:
        value = _in_range("phase deg", value, -1e6, 1e6)
        self._change(phase_deg=(value + 180.0) % 360.0 - 180.0)

    @property
    def harmonic(self) -> int:
        """Control the detection harmonic (1-99); 1 measures dI/dV, 2 measures d2I/dV2."""
        return self._s.harmonic

    @harmonic.setter
    def harmonic(self, value: int) -> None:
        if int(value) != value or not 1 <= int(value) <= 99:
            raise LabValueError(f"harmonic {value!r} is not an integer 1..99")
        self._change(harmonic=int(value))

    @property
    def time_constant_s(self) -> float:
        """Control the output filter time constant in s (1 us-30 ks)."""
        return self._s.time_constant_s

    @time_constant_s.setter
    def time_constant_s(self, value: float) -> None:
        self._change(time_constant_s=_in_range("time constant s", value, 1e-6, 3e4))

    @property
    def filter_slope_db(self) -> int:
        """Control the filter slope in dB/oct: 6, 12, 18 or 24."""
        return self._s.filter_slope_db

    @filter_slope_db.setter
    def filter_slope_db(self, value: int) -> None:
        if value not in ENBW_PER_TAU:
            raise LabValueError(f"filter slope {value!r} dB/oct is not one of 6, 12, 18, 24")
        self._change(filter_slope_db=int(value))

    @property
    def sensitivity_V(self) -> float:
        """Control the full-scale sensitivity in V rms (1 nV-1 V)."""
        return self._s.sensitivity_V

    @sensitivity_V.setter
    def sensitivity_V(self, value: float) -> None:
        self._change(sensitivity_V=_in_range("sensitivity V", value, 1e-9, 1.0))

    @property
    def output_sources(self) -> tuple[str, str]:
        """Control what the CH1 and CH2 analog outputs carry: "X", "Y", "R", "THETA", or any
        other display quantity (which reads 0 V here: noise and aux inputs are not emulated)."""
        return self._s.output_sources

    @output_sources.setter
    def output_sources(self, value: tuple[str, str]) -> None:
        sources = tuple(str(v).upper() for v in value)
        if len(sources) != 2:
            raise LabValueError(f"output sources {value!r}: one for CH1 and one for CH2")
        self._change(output_sources=sources)

    def reset_settings(self) -> None:
        """Instrument restart: every setting back to the power-on default, no capture."""
        with self._lock:
            self._sync()
            self._flush()
            self._capture = None
            self._latched = 0
            self._s = LockInSettings()
            self._filter.set_order(self._s.filter_slope_db // 6)
            self.mark()

    # ------------------------------------------------------------- measurements
    def enbw_Hz(self) -> float:
        """Get the output filter's equivalent noise bandwidth (Hz)."""
        return enbw_Hz(self._s.time_constant_s, self._s.filter_slope_db)

    def read_xy_V(self) -> tuple[float, float]:
        """Measure (X, Y) in V rms at the lock-in input, filtered, with noise, at clock.now()."""
        with self._lock:
            self._sync()
            self._flush()
            snap, _, harm = self._key()
            return self._xy(self._evaluate(snap, harm))

    def overload_bits(self) -> int:
        """Get the overload state now: bit0 input, bit1 filter (reserve), bit2 output."""
        with self._lock:
            self._sync()
            self._flush()
            snap, _, harm = self._key()
            return self._bits(self._evaluate(snap, harm))

    def read(self) -> tuple[float, float, int]:
        """Measure X, Y (as :meth:`read_xy_V`) and the overload bits at one instant.

        One sync and one flush for both: an emulator that latches the overloads on every
        query and then reads the outputs would otherwise advance the lab twice (on a running
        clock the second read finds the clock moved on and repeats the whole advance).
        """
        with self._lock:
            self._sync()
            self._flush()
            snap, _, harm = self._key()
            inp = self._evaluate(snap, harm)
            bits = self._bits(inp)  # from the noiseless filter output, as overload_bits
            x, y = self._xy(inp)
            return x, y, bits

    def analog_outputs_V(self) -> tuple[float, float]:
        """Measure the CH1 and CH2 output voltages from one reading at clock.now() (V, clipped
        at +-:data:`ANALOG_OUTPUT_LIMIT_V`); its overload bits latch for the emulator."""
        with self._lock:
            x, y, bits = self.read()
            self._latched |= bits
            scale = ANALOG_OUTPUT_FULL_SCALE_V / self._s.sensitivity_V
            values = {
                "X": x * scale,
                "Y": y * scale,
                "R": math.hypot(x, y) * scale,
                "THETA": math.degrees(math.atan2(y, x)) * THETA_OUTPUT_V_PER_DEG,
            }
            limit = ANALOG_OUTPUT_LIMIT_V
            ch1, ch2 = (max(-limit, min(limit, values.get(source, 0.0)))
                        for source in self._s.output_sources)
            return ch1, ch2

    def take_latched_overloads(self) -> int:
        """Get and clear the overload bits (as :meth:`overload_bits`) that readings of the
        analog outputs saw since the last call."""
        with self._lock:
            bits, self._latched = self._latched, 0
            return bits

    def _xy(self, inp: LockInInput) -> tuple[float, float]:
        out = self._filter.output
        enbw = self.enbw_Hz()
        # Each quadrature has rms density * sqrt(ENBW); the OU process has 1/2 per quadrature.
        sigma = inp.noise_V_per_rthz * math.sqrt(2.0 * enbw)
        n = self._noise.sample(self._clock.now(), 1.0 / (4.0 * enbw)) * sigma
        return out.real + n.real, out.imag + n.imag

    def _bits(self, inp: LockInInput) -> int:
        fs = self._s.sensitivity_V
        bits = 0
        if inp.input_overload:
            bits |= OVERLOAD_INPUT
        if abs(inp.signal_V) > LOCKIN_DYNAMIC_RESERVE * fs:
            bits |= OVERLOAD_FILTER
        out = self._filter.output
        if max(abs(out.real), abs(out.imag)) > fs:
            bits |= OVERLOAD_OUTPUT
        return bits

def _in_range(name: str, value: float, lo: float, hi: float) -> float:
    value = float(value)
    if not lo <= value <= hi:
        raise LabValueError(f"{name} = {value} is outside {lo}..{hi}")
    return value
