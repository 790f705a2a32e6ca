"""Current-preamplifier gain policy and the matching lock-in settings, per setpoint decade.

The tunnel current I goes through a transimpedance preamp of gain g (V/A) into the lock-in.
Two rules keep a spectroscopy run linear from 1 nA (tunnelling) to 1 uA (contact):

* :func:`gain_for_current`: the highest gain whose output |I| * g stays below
  ``headroom`` x the saturation voltage (10 V), so the feedback current and the sweep
  (|I(V)| <= ~|I_sp| for |V| <= |V_sp|) never clip. 1 nA -> 1e9 V/A, 1 uA -> 1e6 V/A.
* :func:`lockin_settings_for`: the lock-in full scale holding the largest expected first
  harmonic X = g * G * V_mod with G up to ``peak_ratio`` x G_N (coherence peaks ~2.5 G_N in
  tunnelling, Andreev excess ~2 G_N in contact; G_N ~ I_sp / V_sp), and the shortest
  time constant reaching ``target_snr`` against shot noise 2 e I plus the Johnson noise
  4 k_B T / R_f of the feedback resistor R_f = g.

A standalone preamp satisfies :class:`CurrentPreamp`; :class:`SR570Preamp` wraps pymeasure's
listen-only SR570. The Nanonis controller's internal preamp is set via ``Current.GainSet`` by
the Nanonis driver.
"""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass
from typing import Protocol, runtime_checkable

from pymeasure.instruments.srs import SR570

from stm_andreev.drivers.interfaces import FeedbackController
from stm_andreev.drivers.lockin import choose_sensitivity
from stm_andreev.drivers.lockin_filter import enbw_Hz
from stm_andreev.drivers.srs_tables import MODELS, TableValueError, table_index

log = logging.getLogger(__name__)

#: Default transimpedance gains (V/A) of the STM preamp, one per decade.
DEFAULT_GAINS_V_PER_A: tuple[float, ...] = (1e5, 1e6, 1e7, 1e8, 1e9)
#: Preamp output saturation (V).
DEFAULT_MAX_OUTPUT_V = 10.0
#: Fraction of the saturation voltage the setpoint current may use.
DEFAULT_HEADROOM = 0.5
#: Largest G / G_N expected in a spectrum: coherence peaks (~2.5) exceed the Andreev excess (~2).
COHERENCE_PEAK_RATIO = 2.5
ANDREEV_EXCESS_RATIO = 2.0

_E_CHARGE_C = 1.602176634e-19
_K_B_J_PER_K = 1.380649e-23


class PreampRangeError(ValueError):
    """No gain of the preamp keeps the current below saturation, or the gain is not offered."""


@runtime_checkable
class CurrentPreamp(Protocol):
    """A current preamplifier with a settable transimpedance gain (V/A)."""

    @property
    def gain(self) -> float:
        """Get the transimpedance gain in V/A."""
        ...

    def set_gain(self, gain_V_per_A: float) -> None:
        """Set the transimpedance gain in V/A (one of the offered gains, else raise)."""
        ...


def gain_for_current(
    I_A: float,
    gains: tuple[float, ...] = DEFAULT_GAINS_V_PER_A,
    max_output_V: float = DEFAULT_MAX_OUTPUT_V,
    headroom: float = DEFAULT_HEADROOM,
) -> float:
    """Highest gain (V/A) of ``gains`` with |I_A| * gain <= headroom * max_output_V.

    ``I_A`` current in A (sign ignored); ``headroom`` in (0, 1]. Raises
    :class:`PreampRangeError` when even the lowest gain would saturate.
    """
    if not gains:
        raise ValueError("no preamp gains given")
    if not 0.0 < headroom <= 1.0:
        raise ValueError(f"headroom must be in (0, 1], got {headroom}")
    if not math.isfinite(I_A):
        raise PreampRangeError(f"current must be finite, got {I_A!r}")
    limit_V = headroom * max_output_V
    fitting = [g for g in gains if abs(I_A) * g <= limit_V]
    if not fitting:
        raise PreampRangeError(
            f"current {I_A:g} A saturates the preamp at every gain (lowest {min(gains):g} V/A "
            f"gives {abs(I_A) * min(gains):g} V > {limit_V:g} V)"
        )
    return max(fitting)


@dataclass(frozen=True)
class LockInSettings:
    """Lock-in settings for one setpoint.

    sensitivity_V: full scale (V rms); time_constant_s: s; filter_slope_db: dB/oct;
    expected_X_V: first-harmonic X at G = G_N (V rms); peak_X_V: the largest expected X;
    noise_V: estimated output noise (V rms) in the filter's noise bandwidth.
    """

    sensitivity_V: float
    time_constant_s: float
    filter_slope_db: int
    expected_X_V: float
    peak_X_V: float
    noise_V: float


def current_noise_A_per_rtHz(I_A: float, gain_V_per_A: float, preamp_T_K: float = 300.0) -> float:
    """Input current noise (A/sqrt(Hz)): shot noise of I_A plus feedback-resistor Johnson noise."""
    return math.sqrt(2 * _E_CHARGE_C * abs(I_A) + 4 * _K_B_J_PER_K * preamp_T_K / gain_V_per_A)


def lockin_settings_for(
    I_sp_A: float,
    V_sp_V: float,
    modulation_Vrms: float,
    gain: float,
    *,
    model: str = "SR830",
    filter_slope_db: int = 24,
    frequency_Hz: float = 1000.0,
    target_snr: float = 300.0,
    peak_ratio: float = max(COHERENCE_PEAK_RATIO, ANDREEV_EXCESS_RATIO),
    sensitivity_headroom: float = 0.8,
    min_periods: float = 10.0,
    time_constant_s: float | None = None,
) -> LockInSettings:
    """Lock-in sensitivity and time constant for a spectrum taken at setpoint (I_sp_A, V_sp_V).

    ``modulation_Vrms``: junction modulation (V rms, > 0); ``gain``: preamp gain (V/A);
    ``model``: "SR830" or "SR860" (its tables); ``frequency_Hz``: modulation frequency, the
    time constant is at least ``min_periods`` periods so the 2f ripple is filtered;
    ``target_snr``: required ratio of the G_N signal to the output noise. The full scale holds
    ``peak_ratio`` x the G_N signal within ``sensitivity_headroom`` of full scale. Raises
    ValueError for non-physical inputs, :class:`SensitivityRangeError` when the signal does
    not fit any range. ``time_constant_s`` fixes the time constant (a table value) instead
    of choosing the shortest one that reaches ``target_snr``.
    """
    if V_sp_V == 0 or not math.isfinite(V_sp_V):
        raise ValueError(f"setpoint bias must be finite and non-zero, got {V_sp_V!r} V")
    if not modulation_Vrms > 0:
        raise ValueError(f"modulation must be positive, got {modulation_Vrms!r} V rms")
    if not gain > 0:
        raise ValueError(f"preamp gain must be positive, got {gain!r} V/A")
    if model not in MODELS:
        raise ValueError(f"unknown lock-in model {model!r}; known: {', '.join(MODELS)}")
    lockin = MODELS[model]
    G_N_S = abs(I_sp_A / V_sp_V)
    expected_X = gain * G_N_S * modulation_Vrms
    peak_X = peak_ratio * expected_X
    sensitivity = choose_sensitivity(peak_X, lockin, sensitivity_headroom)
    noise_density_V = gain * current_noise_A_per_rtHz(I_sp_A, gain)
    min_tau = min_periods / frequency_Hz
    if time_constant_s is not None:
        tau = lockin.time_constants_s[lockin.time_constant_index(time_constant_s)]
        noise_V = noise_density_V * math.sqrt(enbw_Hz(tau, filter_slope_db))
        return LockInSettings(sensitivity, tau, filter_slope_db, expected_X, peak_X, noise_V)
    for tau in sorted(lockin.time_constants_s):
        noise_V = noise_density_V * math.sqrt(enbw_Hz(tau, filter_slope_db))
        if tau >= min_tau * (1 - 1e-9) and expected_X >= target_snr * noise_V:
            break
    else:
        log.warning("no time constant reaches SNR %g at I_sp = %g A; using the longest",
                    target_snr, I_sp_A)
    return LockInSettings(
        sensitivity_V=sensitivity,
        time_constant_s=tau,
        filter_slope_db=filter_slope_db,
        expected_X_V=expected_X,
        peak_X_V=peak_X,
        noise_V=noise_V,
    )


def settings_for_setpoint(
    setpoint_A: float,
    spectrum,
    gains: tuple[float, ...] = DEFAULT_GAINS_V_PER_A,
    model: str = "SR830",
) -> tuple[float, LockInSettings]:
    """Preamp gain (V/A) and lock-in settings for a spectrum at setpoint ``setpoint_A`` (A).

    The one rule both the procedures (which apply it) and the plan estimate (which predicts
    the lock-in waits from it) use. ``spectrum`` is anything with ``V_sp_V``,
    ``modulation_Vrms``, ``modulation_frequency_Hz``, ``lockin_filter_slope_db`` and
    ``lockin_time_constant_s``: a plan step or the procedures' SpectrumSettings.
    """
    # During the sweep |I| stays below ~|I_sp| (smaller bias than V_sp), but the excess
    # current in contact can add ~2x: the gain leaves room for it.
    gain = gain_for_current(2.0 * setpoint_A, gains)
    chosen = lockin_settings_for(
        setpoint_A,
        spectrum.V_sp_V,
        spectrum.modulation_Vrms,
        gain,
        model=model,
        frequency_Hz=spectrum.modulation_frequency_Hz,
        filter_slope_db=spectrum.lockin_filter_slope_db,
        time_constant_s=spectrum.lockin_time_constant_s,
    )
    return gain, chosen


class SR570Preamp:
    """:class:`CurrentPreamp` over pymeasure's SR570 (listen-only: the gain is remembered).

    The SR570 is set by sensitivity (A/V) = 1 / gain; its table runs 1 pA/V ... 1 mA/V,
    i.e. gains 1e12 ... 1e3 V/A in 1-2-5 steps. Only exact table gains are accepted
    (pymeasure's own setter would silently truncate).
    """

    def __init__(self, instrument: SR570, gain_V_per_A: float) -> None:
        """Wrap ``instrument`` and set it to ``gain_V_per_A`` at once (its state is then known)."""
        self.instrument = instrument
        self._gain = 0.0
        self.set_gain(gain_V_per_A)

    @property
    def gain(self) -> float:
        """Get the last gain set (V/A)."""
        return self._gain

    def set_gain(self, gain_V_per_A: float) -> None:
        """Set the gain (V/A) through the sensitivity 1/gain; raises PreampRangeError if absent."""
        if not gain_V_per_A > 0:
            raise PreampRangeError(f"gain must be positive, got {gain_V_per_A!r} V/A")
        try:
            index = table_index(1.0 / gain_V_per_A, SR570.SENSITIVITIES, "SR570 sensitivity (A/V)")
        except TableValueError as exc:
            raise PreampRangeError(f"SR570 has no gain {gain_V_per_A:g} V/A: {exc}") from exc
        self.instrument.sensitivity = SR570.SENSITIVITIES[index]
        self._gain = float(gain_V_per_A)


class ControllerPreamp:
    """:class:`CurrentPreamp` for the STM controller's own preamp (Nanonis ``Current.GainSet``).

    ``controller.set_current_gain`` does the work; ``gains`` are the gains the controller offers
    (V/A). The interface has no gain query, so the gain set last is remembered.
    """

    def __init__(
        self,
        controller: FeedbackController,
        gain_V_per_A: float,
        gains: tuple[float, ...] = DEFAULT_GAINS_V_PER_A,
    ) -> None:
        self.controller = controller
        self.gains = tuple(gains)
        self._gain = 0.0
        self.set_gain(gain_V_per_A)

    @property
    def gain(self) -> float:
        """Get the last gain set (V/A)."""
        return self._gain

    def set_gain(self, gain_V_per_A: float) -> None:
        """Set the gain (V/A), one of ``gains``; raises PreampRangeError otherwise."""
        try:
            gain = self.gains[table_index(gain_V_per_A, self.gains, "preamp gain (V/A)")]
        except TableValueError as exc:
            raise PreampRangeError(str(exc)) from exc
        self.controller.set_current_gain(gain)
        self._gain = gain
