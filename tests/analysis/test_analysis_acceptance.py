"""The acceptance set (issue 14): spectra with known parameters; every reported value within
3 sigma of the truth or the fit graded poor/failed with a reason. Zero silent misses.

A subset runs here (one seed of each sample and barrier, at base temperature, 0.9 Tc and
1.2 Tc); ``python tools/analysis_acceptance.py`` runs the whole set (three seeds, five
temperatures) and prints its table.
"""

import pytest

from stm_andreev.analysis.pipeline import analyze_spectrum

from .acceptance_cases import BARRIERS, T_OVER_TC, make_case, silent_misses

SUBSET = [(s, reg, t, 0) for s in ("InO-2", "InO-4") for reg in BARRIERS
          for t in (T_OVER_TC[0], 0.9, 1.2)]


def _check(case):
    spec, truth = make_case(*case)
    r = analyze_spectrum(spec).result
    assert r.quality in ("good", "poor", "failed")
    if r.quality != "good":
        assert r.quality_reason, "a poor or failed fit says why"
    assert not silent_misses(r, truth), (r.quality, r.model_choice, silent_misses(r, truth))


@pytest.mark.parametrize("case", SUBSET, ids=lambda c: f"{c[0]}-{c[1]}-{c[2]:.2f}")
def test_acceptance_subset(case):
    _check(case)
