"""The per-spectrum analysis record and its JSON form (the stable interface of
``stm-andreev analyze --json``, documented in docs/analysis.md)."""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field
from typing import Any, Literal

Regime = Literal["tunnelling", "contact"]

SCHEMA_VERSION = 1


@dataclass(frozen=True)
class SpectrumResult:
    """Everything the analysis concluded about one spectrum (SI units; energies in eV).

    ``delta_c_eV``/``delta_c_err_eV`` are None when no Andreev peaks were found (a valid
    answer). ``delta_c_peak_eV`` is the raw -d2G/dV2 pair; ``delta_c_fit_eV`` the two-gap
    fit's Delta_c whenever that model was chosen (also when the peaks are too smeared to be
    resolved, e.g. near Tc). ``Z`` is None when the Dynes model was used (tunnelling; it has no barrier). ``G_N_S`` is
    None when the input had no absolute conductance scale (normalised or arbitrary units).
    """

    source: str
    index: int
    regime: Regime
    model: str
    andreev_peaks: bool
    delta_c_eV: float | None
    delta_c_err_eV: float | None
    delta_c_peak_eV: float | None
    delta_c_fit_eV: float | None
    delta_c_fit_err_eV: float | None
    E_g_eV: float | None
    E_g_err_eV: float | None
    gamma_eV: float | None
    gamma_err_eV: float | None
    gamma_c_eV: float | None
    Z: float | None
    Z_err: float | None
    G_N_S: float | None
    G_N_G0: float | None
    T_K: float
    Vmod_rms_V: float
    chi2_red: float | None
    fit_rms: float | None
    peak_reason: str
    zero_bias_peak: bool
    setpoint_G_S: float | None = None
    tip_x_m: float | None = None
    tip_y_m: float | None = None
    label: str = ""
    notes: tuple[str, ...] = field(default=())
    # Fit quality (see stm_andreev.analysis.quality): "good" / "poor" / "failed" and why;
    # chi2 per degree of freedom over the spectrum's own noise variance (noise_G_N, in G_N
    # units, measured as noise_method says); physical parameters left at a bound.
    quality: str = "good"
    quality_reason: str = ""
    chi2_noise: float | None = None
    noise_G_N: float | None = None
    noise_method: str = ""
    at_bound: tuple[str, ...] = field(default=())
    # How the model was chosen: BIC of every candidate minus the chosen one's.
    model_choice: str = ""
    ambiguous: bool = False
    delta_bic: dict[str, float] = field(default_factory=dict)
    gamma_c_err_eV: float | None = None  # 1-sigma of gamma_c_eV (None when not fitted)
    channel: str = ""  # the file column the conductance came from (text and .dat files)

    def flagged(self, value: float | None, error: float | None = None,
                scale: float = 1e6, digits: int = 1) -> str:
        """A value as text, with its error and, unless the fit is good, its grade, so a poor
        number never appears plain."""
        if value is None:
            return "none"
        if error is not None and math.isfinite(error) and error > 0:
            # Two significant digits of the error, at least ``digits`` decimals: a 0.01 ueV
            # error printed as "±0.0" reads as an exact number.
            digits = min(max(digits, 1 - math.floor(math.log10(error * scale))), 9)
        text = f"{value * scale:.{digits}f}"
        if error is not None:
            text += f"±{error * scale:.{digits}f}"
        return text if self.quality == "good" else f"{text} ({self.quality})"

    def to_json_dict(self) -> dict[str, Any]:
        """JSON-ready dict: NaN/inf become null, tuples become lists, plus ``schema``."""
        out: dict[str, Any] = {"schema": SCHEMA_VERSION}
        for key, value in asdict(self).items():
            if isinstance(value, float) and not math.isfinite(value):
                value = None
            elif isinstance(value, tuple):
                value = list(value)
            out[key] = value
        return out


JSON_REQUIRED_KEYS = (
    "source", "index", "regime", "delta_c_eV", "delta_c_err_eV", "E_g_eV", "E_g_err_eV",
    "gamma_eV", "Z", "G_N_S", "quality", "quality_reason", "chi2_noise",
)
