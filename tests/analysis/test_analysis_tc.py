"""Tc from R(T) by the paper's method (issue 14): the straight line through the resistive drop
extrapolated to R = 0, within 2 % on symmetric, asymmetric and tailed drops, or a warning;
from cooldown files and text R(T) files through `stm-andreev analyze`."""

import numpy as np
import pytest

from stm_andreev.analysis.series import tc_from_resistance

TC = 1.43
WIDTH = 0.06  # K from R = 0 to R = R_max along the straight part (a 1.43-1.49 K transition)


def drop(T, *, bottom, top, R_max=5000.0):
    """R(T) straight (R = R_max (T - TC) / WIDTH) between ``bottom`` and ``top`` of R_max,
    joined with matching slope to an exponential fluctuation tail below and an exponential
    approach to R_max above: the line through the straight part reaches 0 exactly at TC."""
    x = (np.asarray(T) - TC) / WIDTH
    r = np.where(x < bottom, bottom * np.exp((x - bottom) / bottom), x)
    r = np.where(x > top, 1 - (1 - top) * np.exp(-(x - top) / (1 - top)), r)
    normal = np.where(np.asarray(T) > TC + 3 * WIDTH, 1 + 0.02 * (TC + 3 * WIDTH - T), 1.0)
    return R_max * r * normal


SHAPES = {
    "symmetric": dict(bottom=0.15, top=0.85),
    "asymmetric (broad top)": dict(bottom=0.05, top=0.45),
    "fluctuation tail": dict(bottom=0.4, top=0.9),
    "asymmetric with tail": dict(bottom=0.3, top=0.6),
}


@pytest.mark.parametrize("shape", SHAPES)
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_tc_within_2_percent_or_a_warning(shape, seed):
    rng = np.random.default_rng(seed)
    T = np.sort(rng.uniform(0.3, 3.0, 600))
    R = drop(T, **SHAPES[shape])
    R = R * (1 + 0.005 * rng.standard_normal(T.size)) + 2.0 * rng.standard_normal(T.size)
    tc = tc_from_resistance(T, R)
    assert tc.warnings or tc.Tc_K == pytest.approx(TC, rel=0.02), tc
    assert abs(tc.Tc_K - TC) <= 3 * tc.Tc_err_K + 0.002, tc
    lo, hi = tc.window_K
    assert TC <= lo < hi <= TC + WIDTH and tc.n_points >= 4


def test_sparse_drop_warns():
    T = np.linspace(0.3, 3.0, 60)
    tc = tc_from_resistance(T, drop(T, bottom=0.15, top=0.85))
    assert tc.warnings and "readings" in tc.warnings[0]


def _cooldown_file(path, T, R):
    from stm_andreev.procedures.cooldown import CooldownReading
    from stm_andreev.storage.cooldown_file import CooldownWriter

    w = CooldownWriter.create(path, [])
    for k, (t, r) in enumerate(zip(T, R, strict=True)):
        w.append(CooldownReading(time_s=float(k), temperatures_K={}, read_at_s={},
                                 film_R_ohm=float(r), film_time_s=float(k), control_K=float(t)))
    w.close("finished")
    return path


def test_analyze_cooldown_file_prints_tc(tmp_path, capsys):
    import json

    from stm_andreev.cli import main

    T = np.linspace(3.0, 0.3, 900)  # cooling
    path = _cooldown_file(tmp_path / "x_cooldown.h5", T, drop(T, bottom=0.05, top=0.45))
    assert main(["analyze", str(path)]) == 0
    out = capsys.readouterr().out
    assert "Tc = 1.43" in out and "extrapolated to R = 0" in out and "film_R_ohm" in out
    assert main(["analyze", str(path), "--json"]) == 0
    rec = json.loads(capsys.readouterr().out)
    assert rec["kind"] == "Tc" and rec["Tc_K"] == pytest.approx(TC, rel=0.005)
    assert rec["Tc_err_K"] > 0 and TC <= rec["window_K"][0] < rec["window_K"][1]


def test_analyze_text_rt_file(tmp_path, capsys):
    from stm_andreev.analysis.io_text import write_text_spectrum
    from stm_andreev.cli import main

    T = np.linspace(0.3, 3.0, 700)
    path = write_text_spectrum(tmp_path / "rt.txt", {"T (K)": T, "R (ohm)": drop(
        T, bottom=0.3, top=0.6)})
    assert main(["analyze", str(path)]) == 0
    assert "Tc = 1.43" in capsys.readouterr().out


def test_report_takes_tc_from_the_runs_cooldown_file(tmp_path):
    import json

    from stm_andreev.analysis.report import write_report

    from .simulated import write_paper_run

    run, _ = write_paper_run(tmp_path / "20260101-000000_paper.h5", n_bias=121)
    T = np.linspace(3.0, 0.3, 900)
    _cooldown_file(tmp_path / "20260101-000000_paper_cooldown.h5", T,
                   drop(T, bottom=0.15, top=0.85))
    write_report([run], tmp_path / "rep", workers=1)
    summary = json.loads((tmp_path / "rep" / "summary.json").read_text())
    assert summary["Tc_K"] == pytest.approx(TC, rel=0.005)
    assert "_cooldown.h5" in summary["Tc_source"] and summary["Tc_err_K"] > 0
    assert "preset" not in summary["Tc_source"]
    for name in ("figS1_resistance.png", "fig4_resistance_and_gaps.png"):
        assert name in summary["figures"] and (tmp_path / "rep" / name).stat().st_size > 5000
