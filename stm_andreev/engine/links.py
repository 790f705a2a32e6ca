"""Which exceptions mean "the link to an instrument failed" (retry) versus "it said no" (pause).

Kept in one table so the engine's retry policy and the reliability tests agree. Garbled
replies surface from pymeasure as ValueError during value conversion, so ValueError counts
as a link error here: it is raised inside a measurement only by reply parsing (setpoints and
plans are validated before the run starts).
"""

from __future__ import annotations

import pyvisa

from stm_andreev.drivers.lakeshore372_types import LakeShoreCommandError, LakeShoreError
from stm_andreev.drivers.lockin import LockInError
from stm_andreev.drivers.nanonis.errors import NanonisCommandError, NanonisError

LINK_ERRORS: tuple[type[BaseException], ...] = (
    pyvisa.errors.VisaIOError,
    NanonisError,
    LakeShoreError,
    LockInError,
    ConnectionError,
    TimeoutError,
    ValueError,
)

COMMAND_ERRORS: tuple[type[BaseException], ...] = (NanonisCommandError, LakeShoreCommandError)


def is_command_error(exc: BaseException) -> bool:
    """The instrument answered and refused: retrying the same command will not help."""
    return isinstance(exc, COMMAND_ERRORS)
