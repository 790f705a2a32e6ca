"""Speed of the physics core, printed as ratios measured in one run (medians of repeats).

    python bench/bench_physics.py [--repeats N] [--quad-points N]

1. A 1001-point `conductance` spectrum at 65 mK with 20 uV rms modulation versus the per-point
   nested `scipy.integrate.quad` reference (stm_andreev.physics.reference). The reference is
   timed on an evenly spread subset of the 1001 points and scaled to 1001 (its cost per point
   does not depend on the point); the maximum deviation is taken on that subset.
   Target: >= 300x faster, max deviation < 1e-4 G_N.
2. A batch of 1000 spectra (different Z and T) in one call versus 1000 separate calls.
   Target: batch time < 0.3x.
"""

from __future__ import annotations

import argparse
import statistics
import time

import numpy as np

from stm_andreev.physics import conductance
from stm_andreev.physics.reference import conductance_quad

UEV = 1e-6
PARAMS = dict(Eg_eV=650 * UEV, Dc_eV=150 * UEV, gamma_eV=40 * UEV, gamma_c_eV=8 * UEV)


def median_time(fn, repeats: int) -> float:
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=7)
    parser.add_argument("--quad-points", type=int, default=21)
    args = parser.parse_args()

    V = np.linspace(-1.5e-3, 1.5e-3, 1001)
    spectrum = dict(PARAMS, Z=0.5, T_K=0.065, Vmod_rms_V=20e-6)
    fast = median_time(lambda: conductance(V, **spectrum), args.repeats)
    G = conductance(V, **spectrum)
    subset = np.linspace(0, V.size - 1, args.quad_points).astype(int)
    quad_times, deviations = [], []
    for i in subset:
        t0 = time.perf_counter()
        ref = conductance_quad(V[i], **spectrum)
        quad_times.append(time.perf_counter() - t0)
        deviations.append(abs(ref - G[i]))
    quad_full = statistics.median(quad_times) * V.size
    print("1001-point spectrum, 65 mK, 20 uV rms modulation")
    print(f"  conductance (median of {args.repeats}): {fast * 1e3:9.3f} ms")
    print(f"  per-point quad (median/pt x 1001):     {quad_full * 1e3:9.1f} ms")
    print(f"  speed-up: {quad_full / fast:8.0f}x   (target >= 300x)")
    print(f"  max |deviation| on {len(subset)} points: {max(deviations):.2e} G_N (target < 1e-4)")

    rng = np.random.default_rng(0)
    n = 1000
    Z = rng.uniform(0.3, 3.0, (n, 1))
    T = rng.uniform(0.05, 2.0, (n, 1))
    V = np.linspace(-1.5e-3, 1.5e-3, 301)
    common = dict(PARAMS, Vmod_rms_V=20e-6)

    def batch():
        return conductance(V, Z=Z, T_K=T, **common)

    def separate():
        return [conductance(V, Z=Z[i, 0], T_K=T[i, 0], **common) for i in range(n)]

    b = median_time(batch, max(3, args.repeats // 2))
    s = median_time(separate, max(3, args.repeats // 2))
    print(f"\n{n} spectra x 301 points, Z in [0.3, 3], T in [0.05, 2] K")
    print(f"  one batched call: {b * 1e3:9.1f} ms")
    print(f"  {n} separate calls: {s * 1e3:9.1f} ms")
    print(f"  batch / separate: {b / s:.3f}   (target < 0.3)")


if __name__ == "__main__":
    main()
