"""The dilution fridge: stages, mixing-chamber heat balance, Lake Shore heater and PID, cooldown.

Mixing chamber (MC) heat balance::

    C(T) dT/dt = P_heater + P_leak + P_spike - P_cool(T)
    P_cool(T) = a (T^2 - T_f^2) / sqrt(1 + (T/T_s)^2)          (W)
    C(T)      = c1 T + c3 T^3                                   (J/K)

P_cool grows as T^2 at low temperature (dilution) and only linearly above T_s ~ 1 K (it
saturates); T_f sets the exchanger-limited base (about 49 mK with the 1 uW leak). Each substep
relaxes T exponentially toward the linearised equilibrium, which is stable for any step, and
the step is bounded so the linearisation holds. The sample stage (the film) follows the MC
through a first-order lag. Upper stages (50K, 4K plates, still, cold plate) are fixed at base
or follow closed-form cooldown curves.

The Lake Shore 372 sample heater drives a 120 ohm resistor with the current ranges of
:data:`HEATER_RANGES_A`; the output is a percentage of the range current, so the power is
(pct/100 * I_range)^2 * 120 ohm. Closed-loop PID (output mode 5), in this simulator's reading
of the Lake Shore convention::

    output_pct = P * (e + (1/I) * integral(e dt) + D * de/dt),   e = setpoint - T  (K)

with P in percent per kelvin (0-1000), I the integral time in s (0-10000, 0 disables it) and
D in s (0-2500); de/dt is taken on the measurement so setpoint steps do not kick. The integral
is frozen while the output is pinned at 0 or 100 % (anti-windup). Output mode 3 ("zone") runs
the same PID with range and gains from :data:`RECOMMENDED_HEATER_SETTINGS`.

Advancing is lazy: :meth:`Fridge.advance_to` integrates from the last update to the requested
time in bounded substeps and jumps straight to the end once everything is stationary, so a
12-hour jump at a held temperature costs a few hundred substeps at most.
"""

from __future__ import annotations

import logging
import math
import threading
from collections.abc import Callable
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass

from stm_andreev.clock import Clock

from .errors import LabValueError
from .thermometry import (
    CHANNEL_SENSORS,
    FILM_SENSOR,
    MIXING_CHAMBER,
    RUOX_CURVES,
    sensor_name,
)

log = logging.getLogger(__name__)

#: Lake Shore 372 sample-heater ranges (RANGE 0,r): index -> full-scale current in A (0 = off).
HEATER_RANGES_A: tuple[float, ...] = (
    0.0, 31.6e-6, 100e-6, 316e-6, 1e-3, 3.16e-3, 10e-3, 31.6e-3, 100e-3,
)
HEATER_RESISTANCE_OHM = 120.0

#: Output modes: 0 off, 1 monitor out, 2 open loop (manual), 3 zone, 4 still, 5 closed loop,
#: 6 warm up. Only 2, 3 and 5 drive the sample heater here; the others leave it off.
OUTPUT_MODES = (0, 1, 2, 3, 4, 5, 6)
MODE_OFF, MODE_OPEN_LOOP, MODE_ZONE, MODE_CLOSED_LOOP = 0, 2, 3, 5

PID_LIMITS = ((0.0, 1000.0), (0.0, 10000.0), (0.0, 2500.0))  # P, I (s), D (s): Lake Shore 372

BASE_TEMPERATURES_K: dict[str, float] = {
    "50K plate": 42.0,
    "4K plate": 3.1,
    "still": 0.8,
    "cold plate": 0.1,
}


@dataclass(frozen=True)
class HeaterBand:
    """Recommended Lake Shore settings for setpoints up to ``max_K``."""

    max_K: float
    heater_range: int
    P: float
    I_s: float
    D_s: float = 0.0


#: Recommended sample-heater range and PID per setpoint band (the station and zone mode use
#: this). Each range carries the cooling power at the top of its band with margin; P and I
#: were tuned on this model, controlling on the mixing chamber: within 1 mK in 3-10 min below
#: 1.5 K, 10-20 min up to 4.5 K (a jump from base to 4 K overshoots by ~1 K).
RECOMMENDED_HEATER_SETTINGS: tuple[HeaterBand, ...] = (
    HeaterBand(max_K=0.08, heater_range=3, P=1000.0, I_s=25.0),
    HeaterBand(max_K=0.20, heater_range=4, P=400.0, I_s=30.0),
    HeaterBand(max_K=0.60, heater_range=5, P=150.0, I_s=40.0),
    HeaterBand(max_K=1.50, heater_range=6, P=60.0, I_s=60.0),
    HeaterBand(max_K=4.50, heater_range=7, P=8.0, I_s=80.0),
)


def recommended_heater_settings(setpoint_K: float) -> HeaterBand:
    """The :class:`HeaterBand` to use for a setpoint (K, 0.05-4.5 K supported)."""
    if not 0.0 < setpoint_K <= RECOMMENDED_HEATER_SETTINGS[-1].max_K:
        raise LabValueError(
            f"no recommended heater settings for setpoint {setpoint_K} K "
            f"(supported: 0-{RECOMMENDED_HEATER_SETTINGS[-1].max_K} K)"
        )
    return next(b for b in RECOMMENDED_HEATER_SETTINGS if setpoint_K <= b.max_K)


@dataclass(frozen=True)
class MixingChamberModel:
    """Thermal constants of the mixing chamber and sample stage (see the module docstring)."""

    cooling_W_per_K2: float = 2.5e-3
    saturation_K: float = 1.0
    floor_K: float = 0.045
    leak_W: float = 1.0e-6
    heat_capacity_J_per_K2: float = 0.1
    heat_capacity_J_per_K4: float = 0.002
    sample_lag_s: float = 30.0
    max_temperature_K: float = 350.0

    def cooling_power_W(self, T_K: float) -> float:
        """Cooling power in W at MC temperature T_K (negative below the floor: it warms)."""
        s = math.sqrt(1.0 + (T_K / self.saturation_K) ** 2)
        return self.cooling_W_per_K2 * (T_K**2 - self.floor_K**2) / s

    def cooling_slope_W_per_K(self, T_K: float) -> float:
        """d P_cool / dT in W/K (positive)."""
        u = 1.0 + (T_K / self.saturation_K) ** 2
        a = self.cooling_W_per_K2
        return a * (
            2.0 * T_K / math.sqrt(u)
            - (T_K**2 - self.floor_K**2) * T_K / self.saturation_K**2 / u**1.5
        )

    def heat_capacity_J_per_K(self, T_K: float) -> float:
        """Heat capacity of the MC plus sample stage in J/K."""
        return self.heat_capacity_J_per_K2 * T_K + self.heat_capacity_J_per_K4 * T_K**3

    def base_temperature_K(self, power_W: float = 0.0) -> float:
        """Equilibrium MC temperature in K with extra power ``power_W`` on top of the leak."""
        total = power_W + self.leak_W
        lo, hi = self.floor_K, self.max_temperature_K
        for _ in range(100):  # bisection: P_cool is monotonic above the floor
            mid = 0.5 * (lo + hi)
            if self.cooling_power_W(mid) < total:
                lo = mid
            else:
                hi = mid
        return 0.5 * (lo + hi)


@dataclass(frozen=True)
class CooldownProfile:
    """Closed-form cooldown from ``from_K``: pulse-tube precool, then condensation and dilution.

    Until the 4K plate reaches ``condense_K`` every cold stage follows it; afterwards the still
    and cold plate relax to base and the MC runs its heat balance with the circulation's
    cooling power ramped in over ``circulation_ramp_s``. About 7 h from 300 K to base.
    """

    start_s: float
    from_K: float
    tau_50K_s: float = 9000.0
    tau_4K_s: float = 4300.0
    condense_K: float = 4.2
    tau_still_s: float = 1200.0
    tau_cold_plate_s: float = 1800.0
    circulation_ramp_s: float = 5400.0
    #: Thermal link MC -> still (W/K) while circulation builds up, scaled by (1 - fraction):
    #: the MC cannot run away below the still before the mixture circulates fully.
    still_link_W_per_K: float = 5e-3

    @property
    def condense_time_s(self) -> float:
        """Absolute time at which the 4K plate reaches ``condense_K`` (circulation starts)."""
        base = BASE_TEMPERATURES_K["4K plate"]
        if self.from_K <= self.condense_K:
            return self.start_s
        return self.start_s + self.tau_4K_s * math.log(
            (self.from_K - base) / (self.condense_K - base)
        )

    def _relax(self, stage: str, t_s: float, start_K: float, t0_s: float, tau_s: float) -> float:
        base = BASE_TEMPERATURES_K[stage]
        return base + (start_K - base) * math.exp(-max(t_s - t0_s, 0.0) / tau_s)

    def stage_K(self, stage: str, t_s: float) -> float:
        """Temperature of an upper stage (not the MC or film) at absolute time t_s."""
        if stage == "50K plate":
            return self._relax(stage, t_s, max(self.from_K, 42.0), self.start_s, self.tau_50K_s)
        four_k_start = max(self.from_K, BASE_TEMPERATURES_K["4K plate"])
        four_k = self._relax("4K plate", t_s, four_k_start, self.start_s, self.tau_4K_s)
        if stage == "4K plate":
            return four_k
        tc = self.condense_time_s
        if t_s < tc:
            return four_k
        tau = self.tau_still_s if stage == "still" else self.tau_cold_plate_s
        return self._relax(stage, t_s, min(self.from_K, self.condense_K), tc, tau)

    def circulation_fraction(self, t_s: float) -> float:
        """Fraction (0-1) of the full dilution cooling power available at time t_s."""
        tc = self.condense_time_s
        if t_s < tc:
            return 0.0
        return min(1.0, (t_s - tc) / self.circulation_ramp_s)

    def link_W_per_K(self, t_s: float) -> float:
        """Conductance of the MC-still link at t_s (W/K; 0 once circulation is complete)."""
        return self.still_link_W_per_K * (1.0 - self.circulation_fraction(t_s))

    def finished(self, t_s: float) -> bool:
        """True once circulation is complete and the cold stages are within 1 % of base.

        The 50K plate is left out: it keeps drifting down for a day, as on a real fridge.
        """
        return all(
            abs(self.stage_K(s, t_s) - b) <= 1e-2 * b
            for s, b in BASE_TEMPERATURES_K.items()
            if s != "50K plate"
        ) and self.circulation_fraction(t_s) >= 1.0


def _check_range(name: str, value: float, lo: float, hi: float) -> float:
    value = float(value)
    if not lo <= value <= hi or math.isnan(value):
        raise LabValueError(f"{name} = {value} is outside {lo}..{hi}")
    return value


class Fridge:
    """Simulated dilution fridge with a Lake Shore 372 sample heater (public API thread-safe).

    Temperatures in K, powers in W, times in s. Every getter first brings the state up to the
    clock (through ``sync``, which the :class:`VirtualLab` points at its own ``advance``).
    """

    def __init__(
        self,
        clock: Clock,
        *,
        film_resistance_ohm: Callable[[float], float],
        model: MixingChamberModel | None = None,
        lock: threading.RLock | None = None,
        sync: Callable[[], None] | None = None,
    ) -> None:
        self.clock = clock
        self.model = model or MixingChamberModel()
        self._film_resistance = film_resistance_ohm
        self._lock: AbstractContextManager = lock if lock is not None else nullcontext()
        self._sync = sync if sync is not None else (lambda: self.advance_to(self.clock.now()))
        self._t = clock.now()
        base = self.model.base_temperature_K()
        self._T_mc = base
        self._T_film = base
        # The last cooldown's closed-form curves keep driving the upper stages after it ends.
        self._profile: CooldownProfile | None = None
        self._cooling_down = False
        self._spikes: list[tuple[float, float]] = []  # (end time s, extra power W)
        self._range = 0
        self._setpoint_K = 0.065
        self._ramp_setpoint_K = 0.065
        band = recommended_heater_settings(self._setpoint_K)
        self._pid = (band.P, band.I_s, band.D_s)  # the heater stays off until a range is set
        self._mode = MODE_CLOSED_LOOP
        self._control_channel: int | str = 6
        self._ramp_on = False
        self._ramp_rate_K_per_min = 0.1
        self._manual_pct = 0.0
        self._integral_Ks = 0.0
        self._output_pct = 0.0
        self._prev_control_K: float | None = None
        # _rest_key() of a state proven to be a fixed point of the integration, or None
        self._rest: tuple | None = None

    # ----------------------------------------------------------------- integration
    def advance_to(self, t_s: float) -> None:
        """Integrate the thermal state up to absolute time ``t_s`` (no-op if in the past)."""
        while self._t < t_s:
            if self._rest is not None and self._rest == self._rest_key():
                # A proven fixed point (see _settles_at_rest) and nothing changed since.
                self._t = t_s
                return
            profile = self._profile
            circ = 1.0 if profile is None else profile.circulation_fraction(self._t)
            # The step length and the step itself need the same MC rates (same T, same time):
            # computed once per step, as are the circulation and the boundary.
            rates = self._rates(circ) if circ != 0.0 else None
            full_step = self._max_step(rates)
            if self._settles_at_rest(circ, rates, full_step):
                self._rest = self._rest_key()
                self._t = t_s
                return
            boundary = self._next_boundary() if self._spikes or profile is not None else math.inf
            dt = min(t_s - self._t, full_step, boundary - self._t)
            dt = max(dt, 1e-9)
            before = (self._T_mc, self._T_film, self._output_pct)
            self._step(dt, circ, rates)
            self._t += dt
            # Only a full-length step can show that nothing moves any more: a step cut short
            # by a boundary (a spike's end) changes too little to judge, and jumping to t_s
            # from there would freeze the mixing chamber at the spike temperature.
            if dt >= full_step and self._stationary(before):
                self._t = t_s
                break

    def _rest_key(self) -> tuple:
        """Everything a step at rest depends on (see :meth:`_settles_at_rest`)."""
        return (self._T_mc, self._T_film, self._output_pct, self._prev_control_K, self._mode,
                self._range, self._manual_pct, self._ramp_on, self._setpoint_K,
                self._ramp_setpoint_K, self._cooling_down, self._profile, self.model,
                len(self._spikes))

    def _settles_at_rest(self, circ: float, rates: tuple | None, full_step: float) -> bool:
        """Whether a step of any length up to ``full_step`` would leave the state bit for bit.

        With no PID (heater off or open loop), no ramp, spike or cooldown in progress and full
        circulation, a step depends only on the state and its length, and the MC moves by
        net / slope * (1 - exp(-dt slope / C)), monotonic in dt: if twice the full step's move
        rounds away, so does every shorter step's, and the film (at the MC temperature) and the
        heater output stay put too. The state is then frozen until something in
        :meth:`_rest_key` changes, and advancing costs one comparison (a running clock makes
        every instrument command advance the lab by a few microseconds).
        """
        if (circ != 1.0 or rates is None or self._spikes or self._cooling_down
                or self._ramp_setpoint_K != self._setpoint_K or self._T_film != self._T_mc):
            return False
        if self._mode == MODE_OPEN_LOOP:
            held = self._manual_pct if self._range > 0 else 0.0
            if self._output_pct != held:
                return False
        elif self._heater_driven() or self._output_pct != 0.0 or self._prev_control_K is not None:
            return False
        m = self.model
        T = self._T_mc
        C, slope, cool, link = rates
        net = self._power_in_W() - cool
        if link is not None:
            net += link
        move = net / slope * (1.0 - math.exp(-full_step * slope / C))
        low, high = m.floor_K * 1.0001, m.max_temperature_K
        return all(min(max(T + d, low), high) == T for d in (move, 2.0 * move))

    def _next_boundary(self) -> float:
        times = [end for end, _ in self._spikes]
        if self._profile is not None:
            tc = self._profile.condense_time_s
            if tc > self._t:
                times.append(tc)
        return min(times, default=math.inf)

    def _circulation(self) -> float:
        return 1.0 if self._profile is None else self._profile.circulation_fraction(self._t)

    def _rates(self, circ: float) -> tuple[float, float, float, float | None]:
        """(C in J/K, d(cooling)/dT in W/K, cooling in W, still-link power in W or None) now.

        The net heating power on the MC is ``power_in - cooling (+ link)``, in that order.
        """
        m = self.model
        T = self._T_mc
        C = m.heat_capacity_J_per_K(T)
        slope = m.cooling_slope_W_per_K(T) * circ
        cool = m.cooling_power_W(T) * circ
        link = None
        profile = self._profile
        if profile is not None and circ < 1.0:
            g = profile.link_W_per_K(self._t)
            slope += g
            link = g * (profile.stage_K("still", self._t) - T)
        return C, max(slope, 1e-12), cool, link

    def _max_step(self, rates: tuple | None) -> float:
        if rates is None:  # no circulation: the MC follows the 4K plate's closed form
            return 60.0
        T = self._T_mc
        C, slope, cool, link = rates
        net = self._power_in_W() - cool
        if link is not None:
            net += link
        net = abs(net)
        dt = min(0.1 * C / slope, 0.05 * T * C / max(net, 1e-15), 10.0)
        _, I_s, _ = self._active_pid()
        if I_s > 0 and self._heater_driven():
            dt = min(dt, 0.05 * I_s)
        return max(dt, 1e-3)

    def _stationary(self, before: tuple[float, float, float]) -> bool:
        if self._circulation() < 1.0 or self._spikes or self.ramping_unlocked():
            return False
        return (
            abs(self._T_mc - before[0]) < 1e-11
            and abs(self._T_film - before[1]) < 1e-11
            and abs(self._output_pct - before[2]) < 1e-9
        )

    def _active_pid(self) -> tuple[float, float, float]:
        if self._mode == MODE_ZONE:
            band = recommended_heater_settings(min(max(self._ramp_setpoint_K, 1e-3), 4.5))
            return band.P, band.I_s, band.D_s
        return self._pid

    def _active_range(self) -> int:
        if self._mode == MODE_ZONE:
            band = recommended_heater_settings(min(max(self._ramp_setpoint_K, 1e-3), 4.5))
            return band.heater_range
        return self._range

    def _heater_driven(self) -> bool:
        return self._mode in (MODE_CLOSED_LOOP, MODE_ZONE) and self._active_range() > 0

    def _control_temperature_K(self) -> float:
        ch = self._control_channel
        if ch == "A":
            return self._T_mc
        return self._stage_K(CHANNEL_SENSORS[int(ch)])

    def _power_in_W(self) -> float:
        current = self._output_pct / 100.0 * HEATER_RANGES_A[self._active_range()]
        spikes = sum(p for _, p in self._spikes)
        return current**2 * HEATER_RESISTANCE_OHM + self.model.leak_W + spikes

    def _update_heater(self, dt: float) -> None:
        if self._ramp_on and self._ramp_setpoint_K != self._setpoint_K:
            step = self._ramp_rate_K_per_min / 60.0 * dt
            diff = self._setpoint_K - self._ramp_setpoint_K
            if abs(diff) <= step:
                self._ramp_setpoint_K = self._setpoint_K
            else:
                self._ramp_setpoint_K += math.copysign(step, diff)
        if self._mode == MODE_OPEN_LOOP:
            self._output_pct = self._manual_pct if self._range > 0 else 0.0
            return
        if not self._heater_driven():
            self._output_pct = 0.0
            self._prev_control_K = None
            return
        P, I_s, D_s = self._active_pid()
        T = self._control_temperature_K()
        e = self._ramp_setpoint_K - T
        dTdt = 0.0 if self._prev_control_K is None else (T - self._prev_control_K) / dt
        self._prev_control_K = T
        integral_term = self._integral_Ks / I_s if I_s > 0 else 0.0
        raw = P * (e + integral_term - D_s * dTdt)
        out = min(max(raw, 0.0), 100.0)
        # Anti-windup: integrate only while the output is not pinned against the error's push.
        if I_s > 0 and not ((raw >= 100.0 and e > 0) or (raw <= 0.0 and e < 0)):
            self._integral_Ks += e * dt
        self._output_pct = out

    def _step(self, dt: float, circ: float, rates: tuple | None) -> None:
        """One substep of length dt; ``circ`` and ``rates`` as computed at its start."""
        m = self.model
        self._update_heater(dt)
        t_end = self._t + dt
        if self._spikes:
            self._spikes = [(end, p) for end, p in self._spikes if end > self._t + 1e-12]
        if rates is None and self._profile is not None:
            self._T_mc = self._profile.stage_K("4K plate", t_end)
        else:
            T = self._T_mc
            # The heater update changed the power in, not T or the time: the rates still hold.
            C, slope, cool, link = rates if rates is not None else self._rates(circ)
            net = self._power_in_W() - cool
            if link is not None:
                net += link
            self._T_mc = T + net / slope * (1.0 - math.exp(-dt * slope / C))
            self._T_mc = min(max(self._T_mc, m.floor_K * 1.0001), m.max_temperature_K)
        w = math.exp(-dt / m.sample_lag_s)
        self._T_film = self._T_mc + (self._T_film - self._T_mc) * w
        if self._cooling_down and self._profile is not None and self._profile.finished(t_end):
            log.info("cooldown finished at t = %.0f s, MC at %.4f K", t_end, self._T_mc)
            self._cooling_down = False

    def ramping_unlocked(self) -> bool:
        return self._ramp_on and self._ramp_setpoint_K != self._setpoint_K

    def stage_temperature_K(self, stage: str) -> float:
        """Temperature of a stage without advancing (the caller holds the lock and advanced)."""
        return self._stage_K(stage)

    def _stage_K(self, stage: str) -> float:
        if stage == MIXING_CHAMBER:
            return self._T_mc
        if stage == FILM_SENSOR:
            return self._T_film
        if self._profile is not None:
            return self._profile.stage_K(stage, self._t)
        return BASE_TEMPERATURES_K[stage]

    # ----------------------------------------------------------------- public API
    @property
    def channels(self) -> dict[int, str]:
        """Lake Shore channel -> sensor name (a copy)."""
        return dict(CHANNEL_SENSORS)

    def temperature_K(self, sensor: str | int) -> float:
        """True temperature in K of a stage, by name or Lake Shore channel ("film" = sample)."""
        name = sensor_name(sensor)
        with self._lock:
            self._sync()
            return self._stage_K(name)

    def sensor_resistance_ohm(self, sensor: str | int) -> float:
        """Resistance in ohm: the RuOx chip through its curve, or the film's R(T) for "film"."""
        name = sensor_name(sensor)
        with self._lock:
            self._sync()
            T = self._stage_K(name)
        if name == FILM_SENSOR:
            return float(self._film_resistance(T))
        return RUOX_CURVES[name].resistance_ohm(T)

    def calibration_temperature_K(self, sensor: str | int, R_ohm: float) -> float | None:
        """Temperature in K that the sensor's curve gives for R_ohm; None for the film."""
        name = sensor_name(sensor)
        if name == FILM_SENSOR:
            return None
        return RUOX_CURVES[name].temperature_K(float(R_ohm))

    def _setting(self, name: str, value: object) -> None:
        with self._lock:
            self._sync()
            setattr(self, name, value)

    @property
    def heater_range(self) -> int:
        """Control the sample-heater range index 0-8 (0 off; see :data:`HEATER_RANGES_A`)."""
        return self._range

    @heater_range.setter
    def heater_range(self, value: int) -> None:
        if int(value) != value or not 0 <= int(value) < len(HEATER_RANGES_A):
            raise LabValueError(f"heater range {value!r} is not an integer 0..8")
        self._setting("_range", int(value))

    @property
    def setpoint_K(self) -> float:
        """Control the target setpoint in K (0-300 K); with the ramp on, approached at its rate."""
        return self._setpoint_K

    @setpoint_K.setter
    def setpoint_K(self, value: float) -> None:
        value = _check_range("setpoint_K", value, 0.0, 300.0)
        with self._lock:
            self._sync()
            if not self._ramp_on:
                self._ramp_setpoint_K = value
            self._setpoint_K = value

    @property
    def effective_setpoint_K(self) -> float:
        """Get the setpoint the PID uses now (the ramp's present value), K."""
        with self._lock:
            self._sync()
            return self._ramp_setpoint_K

    def ramping(self) -> bool:
        """Get whether the setpoint ramp is still moving (RAMPST?)."""
        with self._lock:
            self._sync()
            return self.ramping_unlocked()

    @property
    def pid(self) -> tuple[float, float, float]:
        """Control the PID (P %/K 0-1000, I s 0-10000, D s 0-2500)."""
        return self._pid

    @pid.setter
    def pid(self, value: tuple[float, float, float]) -> None:
        P, I_s, D_s = (
            _check_range(n, v, lo, hi)
            for n, v, (lo, hi) in zip(("P", "I", "D"), value, PID_LIMITS, strict=True)
        )
        with self._lock:
            self._sync()
            # Keep the integral's contribution continuous when the integral time changes.
            old_I = self._pid[1]
            if old_I > 0 and I_s > 0:
                self._integral_Ks *= I_s / old_I
            self._pid = (P, I_s, D_s)

    @property
    def output_mode(self) -> int:
        """Control the output mode: 0 off, 2 open loop, 3 zone, 5 closed loop (others: off)."""
        return self._mode

    @output_mode.setter
    def output_mode(self, value: int) -> None:
        if value not in OUTPUT_MODES:
            raise LabValueError(f"output mode {value!r} is not one of {OUTPUT_MODES}")
        self._setting("_mode", int(value))

    @property
    def control_channel(self) -> int | str:
        """Control the PID input: a channel of :data:`CHANNEL_SENSORS` or "A" (MC control input)."""
        return self._control_channel

    @control_channel.setter
    def control_channel(self, value: int | str) -> None:
        if value != "A" and value not in CHANNEL_SENSORS:
            raise LabValueError(
                f"control channel {value!r} is not 'A' or one of {sorted(CHANNEL_SENSORS)}"
            )
        self._setting("_control_channel", value)

    @property
    def ramp(self) -> tuple[bool, float]:
        """Control the setpoint ramp: (on, rate in K/min, 0.001-100)."""
        return self._ramp_on, self._ramp_rate_K_per_min

    @ramp.setter
    def ramp(self, value: tuple[bool, float]) -> None:
        on, rate = value
        rate = _check_range("ramp rate K/min", rate, 0.001, 100.0)
        with self._lock:
            self._sync()
            if not self._ramp_on:
                self._ramp_setpoint_K = self._setpoint_K
            self._ramp_on, self._ramp_rate_K_per_min = bool(on), rate
            if not self._ramp_on:
                self._ramp_setpoint_K = self._setpoint_K

    @property
    def manual_output_pct(self) -> float:
        """Control the open-loop output in % of the range current (0-100)."""
        return self._manual_pct

    @manual_output_pct.setter
    def manual_output_pct(self, value: float) -> None:
        self._setting("_manual_pct", _check_range("manual output %", value, 0.0, 100.0))

    def heater_output_pct(self) -> float:
        """Measure the sample-heater output in % of the range current."""
        with self._lock:
            self._sync()
            return self._output_pct

    def heater_power_W(self) -> float:
        """Measure the power dissipated in the sample heater, W."""
        with self._lock:
            self._sync()
            current = self._output_pct / 100.0 * HEATER_RANGES_A[self._active_range()]
            return current**2 * HEATER_RESISTANCE_OHM

    def spike(self, delta_K: float, duration_s: float) -> None:
        """Fault: the MC jumps by ``delta_K`` (K > 0) and is held warm for ``duration_s`` (s)."""
        delta_K = _check_range("spike delta_K", delta_K, 0.0, 10.0)
        duration_s = _check_range("spike duration_s", duration_s, 0.0, 1e5)
        with self._lock:
            self._sync()
            m = self.model
            T = self._T_mc
            extra = m.cooling_power_W(T + delta_K) - m.cooling_power_W(T)
            self._T_mc = T + delta_K
            self._spikes.append((self._t + duration_s, extra))
            log.info("spike: MC %.4f K -> %.4f K for %.0f s", T, T + delta_K, duration_s)

    def start_cooldown(self, from_K: float = 300.0) -> None:
        """Warm every stage to ``from_K`` (1-350 K) and start a cooldown to base (~7 h from 300 K)."""
        from_K = _check_range("cooldown from_K", from_K, 1.0, 350.0)
        with self._lock:
            self._sync()
            self._profile = CooldownProfile(start_s=self._t, from_K=from_K)
            self._cooling_down = True
            self._T_mc = self._T_film = from_K
            self._integral_Ks = 0.0
            self._spikes.clear()
            log.info("cooldown started from %.1f K", from_K)

    def cooldown_active(self) -> bool:
        """Get whether a cooldown is still under way."""
        with self._lock:
            self._sync()
            if self._cooling_down and self._profile is not None and self._profile.finished(self._t):
                self._cooling_down = False
            return self._cooling_down
