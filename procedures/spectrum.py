"""What one spectrum is: how it is taken (:class:`SpectrumSettings`) and what came back
(:class:`Spectrum`). Shared by the spectrum sequence and the three bias sweeps."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from stm_andreev.config.plan import EXTERNAL_LOCKIN_MODES
from stm_andreev.storage.ramp_samples import RampSamples


@dataclass(frozen=True)
class SpectrumSettings:
    """How to take one spectrum (the plan's SpectrumParams, in SI units)."""

    V_sp_V: float
    bias_V: np.ndarray
    acquisition: str  # "lockin", "controller", "controller_lockin", "continuous"
    modulation_Vrms: float
    modulation_frequency_Hz: float
    settle_s: float
    integration_s: float
    feedback_settle_s: float
    settle_z_timeout_s: float
    lockin_time_constant_s: float | None = None  # None: chosen per decade for the SNR
    lockin_filter_slope_db: int = 24
    ramp_dwell_fraction: float = 0.28  # continuous: time per point / the filter's settle time
    ramp_directions: str = "forward"  # continuous: "forward" or "forward_backward"
    ramp_noise_ratio: float | None = None  # continuous: dwell from this noise target instead

    @property
    def uses_external_lockin(self) -> bool:
        """Whether the external lock-in measures (and its sine out modulates the bias)."""
        return self.acquisition in EXTERNAL_LOCKIN_MODES


@dataclass
class Spectrum:
    """A measured spectrum and the record of the conditions it was taken in."""

    bias_V: np.ndarray
    G_S: np.ndarray
    X_V: np.ndarray
    Y_V: np.ndarray
    record: dict = field(default_factory=dict)
    #: one standard deviation of G_S per point, where the mode estimates it (continuous)
    G_sigma_S: np.ndarray | None = None
    #: how a continuous sweep was taken and estimated (ramp time, capture rate, regularisation,
    #: averaging width, resolution); not yet a field of the run file's record
    ramp: dict = field(default_factory=dict)
    #: the raw capture of a continuous sweep (stored beside the run file by the engine:
    #: stm_andreev.storage.ramp_samples); None in the other modes
    ramp_samples: RampSamples | None = None
