"""Issue 14 in the GUI: every fitted number carries its uncertainty and grade; a poor fit
never appears as a plain number, a failed one shows no number; in-line estimates say they
are not fits."""

from __future__ import annotations

import re
from types import SimpleNamespace

import numpy as np
import pytest

from stm_andreev.gui.grades import result_html, result_lines, value_text
from stm_andreev.gui.spectra_view import LiveSpectraWidget


def test_value_text_carries_sigma_and_grade():
    assert value_text(650.2e-6, 3.14e-6, 0, scale=1e6, unit="µeV") == "650.2 ± 3.1 µeV (good)"
    assert value_text(650e-6, 40e-6, 1, scale=1e6, unit="µeV", reason="E_g at a bound") == \
        "650 ± 40 µeV (poor: E_g at a bound)"
    assert value_text(650e-6, 40e-6, "failed", scale=1e6, reason="chi2 80 x") == \
        "failed: chi2 80 x"
    assert value_text(650e-6, None, "ungraded", scale=1e6, unit="µeV") == \
        "650 µeV (uncertainty unknown; ungraded)"
    assert value_text(float("nan"), 1.0, 0) == "n/a"
    assert value_text(None, None, 3, reason="no Andreev peaks") == "n/a (no Andreev peaks)"


def _result(quality: str, reason: str):
    return SimpleNamespace(model="two_gap", quality=quality, quality_reason=reason,
                           E_g_eV=994e-6, E_g_err_eV=22e-6, delta_c_eV=734e-6,
                           delta_c_err_eV=13e-6, gamma_eV=40e-6, gamma_err_eV=2e-6, Z=0.9,
                           Z_err=0.1, G_N_G0=2.1)


def test_a_poor_fit_never_appears_as_a_plain_number():
    lines = dict(result_lines(_result("poor", "chi2 is 9 x the noise variance")))
    for label, text in lines.items():
        plain = re.sub("<[^>]+>", "", text)
        assert "poor: chi2 is 9 x the noise variance)" in plain, (label, plain)
    assert "994 ± 22 µeV (poor" in lines["E_g"]


def test_a_failed_fit_shows_no_number():
    html = result_html(_result("failed", "chi2 is 80 x the noise variance"))
    assert "994" not in html and "734" not in html
    assert html.count("failed: chi2 is 80 x") == 5


def test_live_header_says_in_line_values_are_ungraded_with_their_sigma(qtbot, physics_run):
    view = LiveSpectraWidget()
    qtbot.addWidget(view)
    view.follow(physics_run)
    qtbot.waitUntil(view._analysis_done, timeout=10_000)
    view._redraw()
    view._show_gaps(view.model.result(11), 11)  # 1 uA at 65 mK: a contact with its pair
    header = re.sub("<[^>]+>", "", view.gap_text.text())
    dc = re.search(r"Δc = ([^&]*)", header).group(1)
    assert re.match(r"\d+(\.\d+)? ± \d+(\.\d+)? µeV \(ungraded\)", dc), dc
    assert "uncertainty unknown; ungraded" in header  # E_g of the peak search has no sigma
    assert "not fits" in header
    # the gaps-vs-temperature points carry error bars of the same sigma
    assert view.delta_errors.opts["height"].size == view.delta_points.getData()[0].size > 0
    view.close_run()


def test_fit_button_shows_a_graded_fit_of_the_current_spectrum(qtbot, physics_run):
    view = LiveSpectraWidget()
    qtbot.addWidget(view)
    view.follow(physics_run)
    view._redraw()
    row = view._shown_row
    assert row == view.model.n - 1
    with qtbot.waitSignal(view.fits.finished, timeout=120_000):
        view.fit_button.click()
    text = re.sub("<[^>]+>", "", view.fit_text.text())
    assert text.startswith(f"Row {row}: ")
    grade = re.search(r"fit, grade (good|poor|failed)", text).group(1)
    values = re.findall(r"(E_g|Δc|Γ|Z|G_N) = ([^·]*)", text)
    assert len(values) == 5
    for name, shown in values:
        shown = shown.replace("&nbsp;", "").strip()
        assert shown.endswith(")") or shown.startswith("failed"), (name, shown)
        if grade != "good":
            assert grade in shown, (name, shown)
    x, y = view.fit_curve.getData()
    assert x is not None and x.size > 10
    assert np.nanmax(y) == pytest.approx(np.nanmax(view.model.G_G0[row]), rel=0.1)
    view.close_run()
