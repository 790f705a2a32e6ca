"""`stm-andreev analyze FILE...`: the --json schema, the table, --report, exit codes."""

from __future__ import annotations

import json

import numpy as np
import pytest

from stm_andreev.analysis.io_text import write_nanonis_dat, write_text_spectrum
from stm_andreev.analysis.results import JSON_REQUIRED_KEYS
from stm_andreev.cli import main
from stm_andreev.physics import G0_S
from tests.analysis.simulated import UEV, bias, contact_G_N_S, spectrum

V = bias(201)


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    d = tmp_path_factory.mktemp("spectra")
    tunnel = spectrum(V, Eg=650 * UEV, Dc=650 * UEV, Z=30, gamma=40 * UEV, noise=0.005,
                      G_N_S=0.005 * G0_S)
    andreev = spectrum(V, Eg=450 * UEV, Dc=145 * UEV, Z=1.0, gamma=40 * UEV, gamma_c=8 * UEV,
                       noise=0.004, seed=3, G_N_S=contact_G_N_S(1.0))
    return {
        "tunnel": write_text_spectrum(d / "tunnel.txt", {"bias (V)": V, "G (S)": tunnel}),
        "andreev": write_nanonis_dat(d / "andreev.dat", {
            "Bias calc (V)": V, "Current (A)": np.cumsum(andreev) * (V[1] - V[0]),
            "dIdV (S)": andreev}, header={"Temperature (K)": "0.065",
                                          "Lock-in>Amplitude": "1.5E-5"}),
    }


def run(capsys, *argv: str) -> tuple[int, str, str]:
    code = main(["analyze", *map(str, argv)])
    out, err = capsys.readouterr()
    return code, out, err


def test_json_one_object_per_spectrum_with_the_documented_keys(capsys, files):
    code, out, err = run(capsys, files["tunnel"], files["andreev"], "--json",
                         "--vmod-rms-V", "15e-6")
    assert code == 0, err
    lines = out.strip().splitlines()
    records = [json.loads(line) for line in lines]
    assert len(records) == 2
    for rec in records:
        assert set(JSON_REQUIRED_KEYS) <= set(rec)
        assert rec["regime"] in ("tunnelling", "contact")
        assert isinstance(rec["index"], int) and rec["schema"] == 1
    tunnel, andreev = records
    assert tunnel["source"].endswith("tunnel.txt") and tunnel["regime"] == "tunnelling"
    assert tunnel["delta_c_eV"] is None and tunnel["delta_c_err_eV"] is None
    assert tunnel["Z"] is None
    assert tunnel["E_g_eV"] == pytest.approx(650e-6, rel=0.05)
    assert tunnel["G_N_S"] == pytest.approx(0.005 * G0_S, rel=0.2)
    assert andreev["regime"] == "contact" and andreev["T_K"] == 0.065
    assert andreev["delta_c_eV"] == pytest.approx(145e-6, abs=10e-6)
    assert andreev["delta_c_err_eV"] > 0 and andreev["Z"] == pytest.approx(1.0, rel=0.1)


def test_bad_file_is_reported_and_others_still_analysed(capsys, files, tmp_path):
    bad = tmp_path / "bad.txt"
    bad.write_text("1e-3\n2e-3\n")
    code, out, err = run(capsys, bad, files["tunnel"], "--json", "--vmod-rms-V", "15e-6")
    assert code == 1
    assert "bad.txt" in err and "single column" in err
    assert len(out.strip().splitlines()) == 1


def test_table_output_and_report(capsys, files, tmp_path):
    code, out, err = run(capsys, files["tunnel"], "--T-K", "0.065", "--vmod-rms-V", "15e-6",
                         "--report", tmp_path / "rep")
    assert code == 0
    assert "tunnelling" in out and "E_g=" in out
    assert (tmp_path / "rep" / "report.md").exists()
    assert (tmp_path / "rep" / "figS2_dynes_fit.png").stat().st_size > 5000


def test_bad_options_exit_2(capsys, files):
    with pytest.raises(SystemExit) as info:
        main(["analyze", str(files["tunnel"]), "--T-K", "-1"])
    assert info.value.code == 2


def _tunnelling_run(path, n=3, nan_rows=()):
    from stm_andreev.storage import RunWriter

    w = RunWriter.create(path, n_bias=V.size, n_planned=n, metadata={"sample": "InO-2"},
                         station_text="", plan_text="", snapshot={})
    for k in range(n):
        G = spectrum(V, Eg=(300 + 100 * k) * UEV, Dc=145 * UEV, Z=30, gamma=40 * UEV,
                     noise=0.005, seed=k, G_N_S=0.005 * G0_S)
        if k in nan_rows:
            G = np.full_like(G, np.nan)
        w.append_spectrum(k, bias_V=V, G_S=G, X_V=G, Y_V=0 * G, record={
            "temperature_before_K": 0.065, "modulation_Vrms": 15e-6,
            "status_code": 2 if k in nan_rows else 0})
    w.close("finished")
    return path


def test_run_file_with_a_failed_acquisition_analyses_the_rest(capsys, tmp_path, caplog):
    path = _tunnelling_run(tmp_path / "r.h5", nan_rows=(1,))
    code, out, err = run(capsys, path, "--json")
    assert code == 0
    records = [json.loads(line) for line in out.splitlines()]
    assert [r["index"] for r in records] == [0, 2]
    assert [round(r["E_g_eV"] * 1e6, -1) for r in records] == [300, 500]
    assert "spectrum 1 skipped" in caplog.text


def test_a_spectrum_whose_fit_fails_is_reported_and_the_others_kept(capsys, tmp_path,
                                                                     monkeypatch):
    import stm_andreev.analysis.report as report
    from stm_andreev.analysis.errors import FitError

    real = report.analyze_spectrum

    def flaky(spec, **kwargs):
        if spec.index == 1:
            raise FitError("every start of the dynes fit failed")
        return real(spec, **kwargs)

    monkeypatch.setattr(report, "analyze_spectrum", flaky)
    path = _tunnelling_run(tmp_path / "r.h5")
    code, out, err = run(capsys, path, "--json")
    assert code == 1
    assert "r.h5[1]: not analysed: every start of the dynes fit failed" in err
    assert [json.loads(line)["index"] for line in out.splitlines()] == [0, 2]
