"""Setting tables of the SRS SR830 and SR860 lock-ins, shared by the drivers and the emulators.

Each table is listed in the instrument's own index order, so ``table[i]`` is the value that the
wire index ``i`` selects (``SENS i`` on the SR830, ``SCAL i`` on the SR860, ``OFLT i`` on both).
The SR830 lists sensitivities from 2 nV up to 1 V; the SR860 lists them from 1 V down to 1 nV.
Sensitivities are full-scale volts rms, time constants seconds, filter slopes dB/octave.

:class:`SRSModel` gathers everything that differs between the two models, so a driver or an
emulator is written once and parametrised by :data:`SR830_MODEL` or :data:`SR860_MODEL`.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass


def _one_two_five(low_exp: int, high_exp: int) -> tuple[float, ...]:
    """Values 1, 2, 5 x 10^k for k in [low_exp, high_exp), rounded to kill float noise."""
    return tuple(
        float(f"{m}e{k}") for k in range(low_exp, high_exp) for m in (1, 2, 5)
    )


def _one_three(low_exp: int, high_exp: int) -> tuple[float, ...]:
    """Values 1, 3 x 10^k for k in [low_exp, high_exp)."""
    return tuple(float(f"{m}e{k}") for k in range(low_exp, high_exp) for m in (1, 3))


#: SR830 ``SENS 0..26``: 2 nV ... 1 V full scale (V rms), ascending.
SR830_SENSITIVITIES_V: tuple[float, ...] = _one_two_five(-9, 0)[1:] + (1.0,)
#: SR830 ``OFLT 0..19``: 10 us ... 30 ks (s).
SR830_TIME_CONSTANTS_S: tuple[float, ...] = _one_three(-5, 5)
#: SR860 ``SCAL 0..27``: 1 V ... 1 nV full scale (V rms), descending.
SR860_SENSITIVITIES_V: tuple[float, ...] = tuple(reversed(_one_two_five(-9, 0) + (1.0,)))
#: SR860 ``OFLT 0..21``: 1 us ... 30 ks (s).
SR860_TIME_CONSTANTS_S: tuple[float, ...] = _one_three(-6, 5)
#: ``OFSL 0..3`` on both models (dB/octave); n = slope / 6 identical RC stages.
FILTER_SLOPES_DB: tuple[int, ...] = (6, 12, 18, 24)

#: Relative tolerance when matching a float to a table entry (absorbs "%e" round trips).
TABLE_RTOL = 1e-6

#: The CH1/CH2 analog outputs carrying X, Y or R give this voltage at full scale on both
#: models (the SR830 manual's "+-10 V full scale"): X = V_out / 10 V x sensitivity.
ANALOG_OUTPUT_FULL_SCALE_V = 10.0
#: Outputs beyond full scale saturate at this fraction of it: the displayed and read values
#: and the analog outputs (10.9 V). The front panels show overload a little above 100 %; the
#: exact clip level is not documented, so this is the emulators' choice, not a manual value.
OUTPUT_SATURATION = 1.09


class TableValueError(ValueError):
    """A value is not one of the discrete settings of a table (no silent rounding)."""


def table_index(value: float, table: Sequence[float], what: str = "value") -> int:
    """Return the index of ``value`` in ``table`` (relative tolerance :data:`TABLE_RTOL`).

    Raises :class:`TableValueError` naming the allowed values when there is no match.
    """
    try:
        v = float(value)
    except (TypeError, ValueError) as exc:
        raise TableValueError(f"{what} must be a number, got {value!r}") from exc
    for i, entry in enumerate(table):
        if math.isclose(v, entry, rel_tol=TABLE_RTOL):
            return i
    raise TableValueError(
        f"{what} {value!r} is not an allowed setting; allowed: {', '.join(f'{t:g}' for t in table)}"
    )


def strict_table_value(value: float, table: Sequence[float]) -> float:
    """pymeasure-style validator: return the exact table entry equal to ``value`` or raise."""
    return table[table_index(value, table)]


def smallest_at_least(value: float, table: Sequence[float], what: str = "value") -> float:
    """Return the smallest entry of ``table`` that is >= ``value`` (table in any order).

    Raises :class:`TableValueError` when ``value`` exceeds every entry.
    """
    candidates = [t for t in table if t >= value * (1 - TABLE_RTOL)]
    if not candidates:
        raise TableValueError(f"{what} {value:g} exceeds the largest setting {max(table):g}")
    return min(candidates)


@dataclass(frozen=True)
class SRSModel:
    """What differs between the SR830 and the SR860 on the wire.

    Attributes:
        name: "SR830" or "SR860".
        sensitivity_command: mnemonic selecting the full scale ("SENS" or "SCAL").
        sensitivities_V: full-scale values in wire index order (V rms).
        time_constants_s: time constants in wire index order (s).
        output_base: index of X in ``OUTP?`` (1 on the SR830, 0 on the SR860); Y, R, theta follow.
        status_bits: width of the ``LIAS?`` register (8 on the SR830, 15 on the SR860).
        overload_mask: bits of ``LIAS?`` that mean an overload (input, filter or output).
        input_overload_bit, filter_overload_bit, output_overload_bits: where the model reports
            each overload kind in ``LIAS?`` (the SR860 has two output-channel bits, no filter bit
            but a sync-filter overload bit).
        sine_range_V: allowed sine-out amplitude (V rms), inclusive.
        frequency_range_Hz: allowed internal reference frequency, inclusive.
        harmonic_max: highest allowed harmonic.
        firmware: version string in ``*IDN?``.
        serial: default serial number in ``*IDN?``.
    """

    name: str
    sensitivity_command: str
    sensitivities_V: tuple[float, ...]
    time_constants_s: tuple[float, ...]
    output_base: int
    status_bits: int
    overload_mask: int
    input_overload_bit: int
    filter_overload_bit: int
    output_overload_bits: tuple[int, ...]
    sine_range_V: tuple[float, float]
    frequency_range_Hz: tuple[float, float]
    harmonic_max: int
    firmware: str
    serial: str

    def time_constant_index(self, time_constant_s: float) -> int:
        """Wire index of a time constant (s); raises TableValueError if not exact."""
        return table_index(time_constant_s, self.time_constants_s, "time constant (s)")

    def coarser_sensitivity(self, sensitivity_V: float) -> float | None:
        """Next larger full scale (V rms), or None at the largest."""
        larger = [s for s in self.sensitivities_V if s > sensitivity_V * (1 + TABLE_RTOL)]
        return min(larger) if larger else None


SR830_MODEL = SRSModel(
    name="SR830",
    sensitivity_command="SENS",
    sensitivities_V=SR830_SENSITIVITIES_V,
    time_constants_s=SR830_TIME_CONSTANTS_S,
    output_base=1,
    status_bits=8,
    overload_mask=0b0111,
    input_overload_bit=0,
    filter_overload_bit=1,
    output_overload_bits=(2,),
    sine_range_V=(0.004, 5.0),
    frequency_range_Hz=(0.001, 102_000.0),
    harmonic_max=19_999,
    firmware="ver1.07",
    serial="s/n86211",
)

SR860_MODEL = SRSModel(
    name="SR860",
    sensitivity_command="SCAL",
    sensitivities_V=SR860_SENSITIVITIES_V,
    time_constants_s=SR860_TIME_CONSTANTS_S,
    output_base=0,
    status_bits=15,
    # bits 0/1 CH1/CH2 output, 4 input range, 6 sync filter overload, 8-11 data channels
    overload_mask=0b1111_0101_0011,
    input_overload_bit=4,
    filter_overload_bit=6,
    output_overload_bits=(0, 1),
    sine_range_V=(1e-9, 2.0),
    frequency_range_Hz=(0.001, 500_000.0),
    harmonic_max=99,
    firmware="v1.51",
    serial="004567",
)

MODELS: dict[str, SRSModel] = {m.name: m for m in (SR830_MODEL, SR860_MODEL)}
