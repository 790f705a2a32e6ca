"""How a fitted number is printed: never a plain number for a poor fit, never "±0.0" for a
small but non-zero error."""

from stm_andreev.analysis.results import SpectrumResult


def _result(**kw) -> SpectrumResult:
    none = {name: None for name in (
        "delta_c_eV", "delta_c_err_eV", "delta_c_peak_eV", "delta_c_fit_eV",
        "delta_c_fit_err_eV", "E_g_eV", "E_g_err_eV", "gamma_eV", "gamma_err_eV", "gamma_c_eV",
        "Z", "Z_err", "G_N_S", "G_N_G0", "chi2_red", "fit_rms")}
    return SpectrumResult(source="x", index=0, regime="tunnelling", model="dynes",
                          andreev_peaks=False, T_K=0.065, Vmod_rms_V=10e-6, peak_reason="",
                          zero_bias_peak=False, **{**none, **kw})


def test_a_small_error_keeps_two_significant_digits():
    r = _result()
    assert r.flagged(650.0e-6, 0.012e-6) == "650.000±0.012"
    assert r.flagged(650.0e-6, 3.4e-6) == "650.0±3.4"
    assert r.flagged(650.0e-6, 25e-6) == "650.0±25.0"


def test_a_poor_fit_says_so():
    assert _result(quality="poor").flagged(650.0e-6, 3.4e-6) == "650.0±3.4 (poor)"
