"""The n-stage RC output filter: settle time, step response and noise bandwidth."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy.integrate import quad

from stm_andreev.drivers.lockin_filter import enbw_Hz, settle_time_s, step_response


def _remaining_by_series(x: float, n: int) -> float:
    """1 - s_n(x) written out as exp(-x) * sum_{k<n} x^k / k! (independent of scipy.special)."""
    return math.exp(-x) * sum(x**k / math.factorial(k) for k in range(n))


@pytest.mark.parametrize("slope", [6, 12, 18, 24])
@pytest.mark.parametrize("fraction", [1e-1, 1e-2, 1e-3, 1e-6])
def test_settle_time_solves_the_n_stage_step_response(slope: int, fraction: float) -> None:
    tau = 0.3
    t = settle_time_s(tau, slope, fraction)
    n = slope // 6
    assert _remaining_by_series(t / tau, n) == pytest.approx(fraction, rel=1e-9)
    # and it is the first such time: slightly earlier is still outside the band
    assert _remaining_by_series(0.999 * t / tau, n) > fraction


def test_settle_time_known_values() -> None:
    assert settle_time_s(1.0, 6, 1e-3) == pytest.approx(math.log(1e3))
    assert settle_time_s(0.1, 24, 1e-3) == pytest.approx(1.3062240779, rel=1e-9)
    assert settle_time_s(1.0, 12) < settle_time_s(1.0, 18) < settle_time_s(1.0, 24)


def test_step_response_vectorised_and_clamped() -> None:
    t = np.array([-1.0, 0.0, 1.0, 10.0])
    s = step_response(t, 1.0, 12)
    assert s[0] == 0.0 and s[1] == 0.0
    assert s[2] == pytest.approx(1 - 2 * math.exp(-1))
    assert isinstance(step_response(1.0, 1.0, 6), float)


@pytest.mark.parametrize("slope", [6, 12, 18, 24])
def test_enbw_equals_the_integral_of_the_power_response(slope: int) -> None:
    tau, n = 0.1, slope // 6
    integral, _ = quad(lambda f: (1 + (2 * math.pi * f * tau) ** 2) ** -n, 0, np.inf)
    assert enbw_Hz(tau, slope) == pytest.approx(integral, rel=1e-7)


def test_enbw_srs_manual_values() -> None:
    assert enbw_Hz(1.0, 6) == pytest.approx(1 / 4)
    assert enbw_Hz(1.0, 12) == pytest.approx(1 / 8)
    assert enbw_Hz(1.0, 18) == pytest.approx(3 / 32)
    assert enbw_Hz(1.0, 24) == pytest.approx(5 / 64)


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (lambda: settle_time_s(1.0, 24, 0.0), "fraction"),
        (lambda: settle_time_s(1.0, 24, 1.0), "fraction"),
        (lambda: settle_time_s(0.0, 24), "positive"),
        (lambda: settle_time_s(1.0, 9), "slope"),
        (lambda: enbw_Hz(-1.0, 6), "positive"),
        (lambda: step_response(1.0, 0.0, 6), "positive"),
    ],
)
def test_bad_arguments_raise(call, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        call()
