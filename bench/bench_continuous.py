"""Continuous spectra (``acquisition: continuous``) against point by point on the simulated
station (SR860, in process, virtual clock); prints numbers side by side, asserts nothing.

    python bench/bench_continuous.py [--repeats 6] [--cases default,12dB,sharp]

For each case and setpoint: ``--repeats`` spectra in each mode (301 points, the default
setpoint-series plan's bias grid, filter and modulation unless the case changes them):

* time: the bias sweep's station time, continuous against the point-by-point settle limit
  N x (filter settle time), and their ratio (target <= 0.3);
* noise: per-point standard deviation over the repeats, median over the grid, both modes,
  and their ratio (target <= 1); the continuous mode's own median sigma beside it;
* agreement: each continuous spectrum against the point-by-point mean (the long reference,
  ``--repeats`` x the time): fraction of points within 2 sigma of the combined noise and
  the largest |z|;
* fits: two-gap fit (stm_andreev.analysis.fits) of both modes' mean spectra: E_g (tunnelling)
  and Delta_c (contact), with their errors, and their difference in combined sigma.

Cases: ``default`` (24 dB/oct, 20 uVrms, 1 nA, 31.6 nA, 1 uA), ``12dB`` and ``6dB`` (10 nA and
1 uA) and ``sharp`` (Andreev peaks at 65 mK with 10 uVrms modulation, 1 uA and 10 nA).
"""

from __future__ import annotations

import argparse
import copy
import dataclasses
import math
import sys
import time
from pathlib import Path

import numpy as np

from stm_andreev.analysis.fits import fit_spectrum
from stm_andreev.config import load_plan_text, load_station, station_from_dict
from stm_andreev.config.yaml_file import parse_yaml
from stm_andreev.procedures import plan_points, spectroscopy, take_spectrum
from stm_andreev.procedures.bias_sweeps import filter_settle_s
from stm_andreev.station import Station

PLAN = Path(__file__).resolve().parents[1] / "configs" / "plans" / "setpoint-sweep.yaml"
CASES = {
    "default": dict(setpoints=(1e-9, 10 ** -7.5, 1e-6), slope=24, Vmod=20e-6),
    "12dB": dict(setpoints=(1e-8, 1e-6), slope=12, Vmod=20e-6),
    "6dB": dict(setpoints=(1e-8, 1e-6), slope=6, Vmod=20e-6),
    "sharp": dict(setpoints=(1e-6, 1e-8), slope=24, Vmod=10e-6),
}
T_K = 0.065


def station(seed: int) -> Station:
    base = load_station("simulated")
    data = copy.deepcopy(parse_yaml(base.source_text, "simulated.yaml").data)
    data["instruments"]["lockin"]["driver"] = "sr860"
    data["simulation"]["seed"] = seed
    return Station.from_config(station_from_dict(data, "bench"), source_text="bench")


def settings_for(setpoint_A: float, slope: int, Vmod: float, mode: str):
    plan = load_plan_text(PLAN.read_text(), PLAN.name)
    point = min(plan_points(plan), key=lambda p: abs(math.log(p.setpoint_A / setpoint_A)))
    return dataclasses.replace(point.settings, acquisition=mode, lockin_filter_slope_db=slope,
                               modulation_Vrms=Vmod)


def spectra(mode: str, setpoint_A: float, slope: int, Vmod: float, repeats: int, seed: int):
    """(G array (repeats, N), G_N, sweep station times, sigma (continuous) or None, record)."""
    st = station(seed)
    sweep_s: list[float] = []
    name = "sweep_continuous" if mode == "continuous" else "sweep_with_lockin"
    original = getattr(spectroscopy, name)

    def timed(*args, **kwargs):
        start = st.clock.now()
        try:
            return original(*args, **kwargs)
        finally:
            sweep_s.append(st.clock.now() - start)

    setattr(spectroscopy, name, timed)
    try:
        s = settings_for(setpoint_A, slope, Vmod, mode)
        taken = [take_spectrum(st, setpoint_A, s) for _ in range(repeats)]
    finally:
        setattr(spectroscopy, name, original)
        st.close()
    G = np.array([sp.G_S for sp in taken])
    G_N = float(np.median([sp.record["G_sp_S"] for sp in taken]))
    sigma = (np.array([sp.G_sigma_S for sp in taken]) if mode == "continuous" else None)
    return G, G_N, np.array(sweep_s), sigma, taken[-1]


def fit(bias_V, g, Vmod, contact: bool):
    """Two-gap fit; returns (name, value, error) of the parameter this regime measures."""
    try:
        result = fit_spectrum("two_gap", bias_V, g, T_K=T_K, Vmod_rms_V=Vmod,
                              initial={"E_g_eV": 650e-6, "delta_c_eV": 220e-6,
                                       "Z": 0.5 if contact else 3.0})
    except Exception as exc:  # noqa: BLE001 - a bench prints what failed and goes on
        return ("fit failed", math.nan, math.nan, str(exc))
    key = "delta_c_eV" if contact else "E_g_eV"
    return (key, result.params[key], result.errors[key], f"chi2_red {result.chi2_red:.3g}")


def run_case(name: str, repeats: int) -> None:
    case = CASES[name]
    print(f"\n=== case {name}: {case['slope']} dB/oct, {case['Vmod'] * 1e6:g} uVrms, "
          f"{repeats} repeats per mode, 301 points")
    for setpoint in case["setpoints"]:
        wall = time.perf_counter()
        Gp, G_N, tp, _, rec_p = spectra("lockin", setpoint, case["slope"], case["Vmod"],
                                        repeats, 11)
        Gc, _, tc, sig_c, rec_c = spectra("continuous", setpoint, case["slope"], case["Vmod"],
                                          repeats, 12)
        tau = rec_p.record["lockin_time_constant_s"]
        limit = Gp.shape[1] * filter_settle_s(tau, case["slope"])
        noise_p = np.std(Gp, axis=0, ddof=1)
        noise_c = np.std(Gc, axis=0, ddof=1)
        ref = Gp.mean(axis=0)
        ref_sigma = noise_p / math.sqrt(repeats)
        z = (Gc - ref) / np.sqrt(sig_c ** 2 + ref_sigma ** 2)
        within = float(np.mean(np.abs(z) <= 2))
        contact = setpoint > 1e-7
        bias = rec_p.bias_V
        fp = fit(bias, ref / G_N, case["Vmod"], contact)
        fc = fit(bias, Gc.mean(axis=0) / G_N, case["Vmod"], contact)
        fit_z = abs(fp[1] - fc[1]) / math.hypot(fp[2], fc[2])
        print(f"-- setpoint {setpoint:.3g} A ({'contact' if contact else 'tunnelling'}), "
              f"tau {tau:g} s, capture {rec_c.ramp['capture_rate_Hz']:.4g} Hz, "
              f"lam {rec_c.ramp['ramp_regularisation']:.3g}, width "
              f"{rec_c.ramp['ramp_width_points_median']:.2f} points, resolution "
              f"{rec_c.ramp['ramp_resolution_V'] * 1e6:.3g} uV")
        print(f"   time  : point-by-point sweep {np.median(tp):8.1f} s (settle limit "
              f"{limit:.1f} s) | continuous {np.median(tc):7.1f} s | continuous / limit "
              f"{np.median(tc) / limit:.3f} (target <= 0.3)")
        print(f"   noise : per point (median over grid, from repeats) point-by-point "
              f"{np.median(noise_p) / G_N:.3e} G_N | continuous {np.median(noise_c) / G_N:.3e}"
              f" G_N (own sigma {np.median(sig_c) / G_N:.3e}) | ratio "
              f"{np.median(noise_c) / np.median(noise_p):.3f} (target <= 1)")
        print(f"   agree : continuous vs point-by-point mean: {within * 100:.1f} % of points "
              f"within 2 sigma, max |z| {np.max(np.abs(z)):.2f}")
        print(f"   fit   : {fp[0]} point-by-point {fp[1] * 1e6:.2f} +- {fp[2] * 1e6:.2f} ueV "
              f"({fp[3]}) | continuous {fc[1] * 1e6:.2f} +- {fc[2] * 1e6:.2f} ueV ({fc[3]}) | "
              f"difference {fit_z:.2f} combined sigma")
        print(f"   (wall {time.perf_counter() - wall:.1f} s)")
        sys.stdout.flush()


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=6)
    parser.add_argument("--cases", default="default,12dB,6dB,sharp")
    args = parser.parse_args(argv)
    for name in args.cases.split(","):
        run_case(name, args.repeats)


if __name__ == "__main__":
    main()
