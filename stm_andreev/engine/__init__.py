"""Runs plans: limit checks, checkpoints and resume, pause/abort, interlocks, safe state."""

from .control import AbortRequested, RunControl, send_command
from .runner import RunEngine, RunSummary

__all__ = ["AbortRequested", "RunControl", "RunEngine", "RunSummary", "send_command"]
