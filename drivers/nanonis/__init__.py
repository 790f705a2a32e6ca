"""Nanonis SPM controller: binary TCP codec, command table and driver.

Typical use (hardware on ports 6501-6504, or ``stm-andreev simulate``)::

    from stm_andreev.drivers.nanonis import NanonisController

    stm = NanonisController("127.0.0.1", 6501, timeout_s=5.0)
    stm.set_bias(-3e-3)
    stm.set_setpoint(1e-9)
    stm.set_feedback(True)
    stm.set_modulation_amplitude(50e-6)
    stm.set_modulation(True)
    spectrum = stm.bias_spectroscopy(-5e-3, 5e-3, 201, settle_s=0.005, integration_s=0.02)
    spectrum["LI Demod 1 X (A)"]  # G(V) * Vmod, one value per bias in spectrum["Bias (V)"]

In-process on the simulated lab, pass
``socket_factory=EmulatorSocket.factory(NanonisEmulator(lab), clock=clock)``.
"""

from .client import DEFAULT_SPECTRUM_CHANNELS, NanonisController, parse_gain_V_per_A
from .commands import COMMANDS, Command, Field, get_command
from .errors import (
    NanonisCommandError,
    NanonisConnectionError,
    NanonisError,
    NanonisProtocolError,
    NanonisTimeout,
    NanonisValueError,
)
from .preamp import NanonisPreamp

__all__ = [
    "COMMANDS",
    "DEFAULT_SPECTRUM_CHANNELS",
    "Command",
    "Field",
    "NanonisCommandError",
    "NanonisConnectionError",
    "NanonisController",
    "NanonisError",
    "NanonisPreamp",
    "NanonisProtocolError",
    "NanonisTimeout",
    "NanonisValueError",
    "get_command",
    "parse_gain_V_per_A",
]
