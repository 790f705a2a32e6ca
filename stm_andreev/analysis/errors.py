"""Exceptions of the analysis package; each message names the input and what was expected."""

from __future__ import annotations


class AnalysisError(Exception):
    """Base class of every analysis failure."""


class AnalysisInputError(AnalysisError, ValueError):
    """A spectrum file or array cannot be used: empty, truncated, NaN-filled, single-column,
    non-numeric, ambiguous columns, unknown format. The message names the file (or array) and
    what was expected."""


class FitError(AnalysisError, RuntimeError):
    """A model fit did not converge or gave a meaningless result (singular Jacobian,
    parameters at their bounds, non-finite residuals)."""
