"""The lab's scalar shortcuts on the lock-in path give numpy's values bit for bit.

``interp_scalar`` replaces ``np.interp`` on one bias; the lock-in snapshot keeps its bias-free
part (spectrum key, G_N, gain, modulation) across a bias sweep. A sweep read through both paths
must give the same inputs as numpy and as a fresh snapshot.
"""

from __future__ import annotations

import numpy as np

from stm_andreev.clock import VirtualClock
from stm_andreev.simulators.lab import VirtualLab
from stm_andreev.simulators.lab.spectra import BIAS_GRID_V, interp_scalar


def test_interp_scalar_is_np_interp() -> None:
    rng = np.random.default_rng(7)
    values = np.cumsum(rng.normal(size=BIAS_GRID_V.size))
    table = values.tolist()
    grid = BIAS_GRID_V.tolist()
    points = [*rng.uniform(-6.2e-3, 6.2e-3, 20000), *grid[::97], grid[0], grid[-1],
              *(np.nextafter(v, d) for v in grid[::101] for d in (-1.0, 1.0)), -1.0, 1.0]
    for x in map(float, points):
        assert interp_scalar(x, table) == float(np.interp(np.array(x), BIAS_GRID_V, values))


def test_a_sweep_gives_the_inputs_numpy_and_a_fresh_snapshot_give() -> None:
    lab = VirtualLab("InO-2", clock=VirtualClock(), seed=1)
    lab.lockin.amplitude_Vrms = 0.05
    lab.feedback_on = False
    for bias in [*np.linspace(-7e-3, 7e-3, 57), -6e-3, 6e-3, 0.0]:
        lab.bias_V = float(bias)
        lab.clock.advance(1e-3)
        snap = lab._lockin_snapshot()
        lab._snapshot_parts = lab._snapshot_cache = None
        fresh = lab._lockin_snapshot()
        assert fresh == snap
        spec = lab._spectrum(snap.key)
        V = np.array(snap.bias_V)
        assert spec.current_norm_scalar(snap.bias_V) == float(spec.current_norm_at(V))
        assert spec.g_lockin_scalar(snap.bias_V, snap.vmod_rms_V) == float(
            np.interp(V, BIAS_GRID_V, spec.g_lockin(snap.vmod_rms_V)))
