"""Analysis of tunnelling and Andreev spectra: normalisation, -d2G/dV2, Andreev-peak
extraction (Delta_c), Dynes/BTK/two-gap fits, temperature series, the paper's figures.

Entry points (see docs/analysis.md):

    load_spectra(path, *, bias_col=None, g_col=None, g_unit="auto") -> list[SpectrumInput]
    analyze_spectrum(spec, *, T_K=None, Vmod_rms_V=None) -> Analysis   (.result: SpectrumResult)
    write_report(run_paths_or_spectra, out_dir, *, T_K=None, Vmod_rms_V=None, Tc_K=None,
                 R_T=None) -> Path
"""

from __future__ import annotations

from typing import Any

from .errors import AnalysisError, AnalysisInputError, FitError
from .fits import FitResult, fit_spectrum
from .fits_batch import BatchDynesResult, fit_dynes_batch
from .inputs import SpectrumInput
from .normalize import normal_conductance, normalize, to_G0
from .peaks import AndreevPeaks, find_andreev_peaks
from .pipeline import Analysis, analyze_spectrum
from .regime import classify_regime
from .results import SpectrumResult
from .series import TcResult, TemperatureSeries, tc_from_resistance, temperature_series
from .sources import load_spectra

__all__ = [
    "Analysis",
    "AnalysisError",
    "AnalysisInputError",
    "AndreevPeaks",
    "BatchDynesResult",
    "FitError",
    "FitResult",
    "SpectrumInput",
    "SpectrumResult",
    "TcResult",
    "TemperatureSeries",
    "analyze_items",
    "analyze_spectrum",
    "classify_regime",
    "find_andreev_peaks",
    "fit_dynes_batch",
    "fit_spectrum",
    "load_spectra",
    "normal_conductance",
    "normalize",
    "tc_from_resistance",
    "temperature_series",
    "to_G0",
    "write_report",
]


def __getattr__(name: str) -> Any:
    # The report pulls in matplotlib; import it only when asked for.
    if name in ("write_report", "analyze_items"):
        from . import report

        return getattr(report, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
