"""The fits' batched forward-difference Jacobian is the per-parameter one."""

import numpy as np
import pytest

from stm_andreev.analysis.fits import _P, MODELS, _Problem, model_curves

from .simulated import T_BASE_K, UEV, VMOD_V, bias

V = bias(301)

# Broadenings and gaps away from the values where a 1e-4 nudge moves conductance()'s energy
# grid (its step follows the smallest Gamma, its extent the largest): one call per nudged
# parameter then uses the grid the batch shares, and the columns must agree to rounding.
POINTS = {
    "dynes": {"E_g_eV": 430 * UEV, "gamma_eV": 37 * UEV, "scale": 1.03},
    "btk": {"Z": 0.8, "delta_eV": 410 * UEV, "gamma_eV": 23 * UEV, "scale": 0.97},
    "two_gap": {"Z": 1.3, "delta_c_eV": 152 * UEV, "E_g_eV": 455 * UEV, "gamma_eV": 37 * UEV,
                "gamma_c_eV": 8.5 * UEV, "scale": 1.01},
}


def _problem(model: str, T_K: float):
    names = MODELS[model]
    units = np.array([_P[n].unit for n in names])
    x = np.array([POINTS[model][n] for n in names]) / units
    g = model_curves(model, V, x * units, T_K=T_K, Vmod_rms_V=VMOD_V)[0]
    noisy = g + 0.01 * np.random.default_rng(0).standard_normal(V.size)
    return _Problem(model, V, noisy, T_K, VMOD_V), x, units


@pytest.mark.parametrize("T_K", [T_BASE_K, 0.6])
@pytest.mark.parametrize("model", sorted(MODELS))
def test_batched_jacobian_equals_one_call_per_parameter(model, T_K):
    problem, x, units = _problem(model, T_K)
    J = problem.jacobian(x)
    step = np.maximum(np.abs(x) * 1e-4, 1e-4)
    curve = lambda p: model_curves(model, V, p * units, T_K=T_K, Vmod_rms_V=VMOD_V)[0]  # noqa: E731
    base = curve(x)
    for k in range(len(x)):
        nudged = x.copy()
        nudged[k] += step[k]
        column = (curve(nudged) - base) / step[k]
        np.testing.assert_allclose(J[:, k], column, rtol=0, atol=1e-12 * np.max(np.abs(column)),
                                   err_msg=f"{model} column {MODELS[model][k]}")
    # The residuals at x are kept for the optimiser's next call.
    assert np.array_equal(problem.residuals(x), base - problem.g)


@pytest.mark.parametrize("model", sorted(MODELS))
def test_scale_column_reuses_the_base_curve_bit_for_bit(model):
    """The nudged-scale row is not sent through conductance(); its numbers are the ones the
    batch of every nudged row in one call gives (a Gamma near a grid boundary included)."""
    problem, x, units = _problem(model, T_BASE_K)
    x = x.copy()
    x[MODELS[model].index("gamma_eV")] = 20.0  # 0.25 Gamma divides the 10 uV bias step
    step = np.maximum(np.abs(x) * 1e-4, 1e-4)
    rows = np.vstack([x, x + np.diag(step)]) * units
    G = model_curves(model, V, rows, T_K=T_BASE_K, Vmod_rms_V=VMOD_V)
    assert np.array_equal(problem.jacobian(x), ((G[1:] - G[0]) / step[:, None]).T)
