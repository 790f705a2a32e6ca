"""analyze on inputs that have no answer: a flat curve, two sweeps in one file.

Found: a flat conductance curve gave E_g = 20 ueV, Gamma = 1000 ueV (the fit bounds) with no
warning; two concatenated sweeps were accepted as one spectrum.
"""

from __future__ import annotations

import numpy as np
import pytest

from stm_andreev.analysis.errors import AnalysisInputError
from stm_andreev.analysis.inputs import SpectrumInput, flatness_note

from .hostile_helpers import run_cli

pytestmark = [pytest.mark.faults, pytest.mark.hostile]


def _write(path, V, G) -> None:
    rows = "".join(f"{v:.9e}\t{g:.9e}\n" for v, g in zip(V, G, strict=True))
    path.write_text("bias_V\tG_S\n" + rows)


def test_flat_curve_gets_a_warning(tmp_path, outcome):
    outcome.fault, outcome.instrument = "flat conductance curve to analyze", "analysis"
    outcome.spectra_planned = 0
    outcome.injections = 1
    V = np.linspace(-2e-3, 2e-3, 201)
    path = tmp_path / "flat.txt"
    _write(path, V, np.full_like(V, 1e-6) * (1 + 1e-5 * np.sin(V * 1e4)))
    proc = run_cli("analyze", str(path))
    assert "Traceback" not in proc.stderr
    assert f"warning: {path}[0]: conductance flat" in proc.stderr, proc.stderr
    outcome.happened = "analysed with 'warning: FILE[0]: conductance flat ... E_g and Gamma " \
                       "are not determined by this spectrum'"


def test_a_gapped_curve_is_not_called_flat():
    V = np.linspace(-2e-3, 2e-3, 201)
    G = 1 - 0.5 * np.exp(-(V / 3e-4) ** 2)
    assert flatness_note(V, G) == ""


def test_two_sweeps_in_one_spectrum_are_refused(tmp_path, outcome):
    outcome.fault, outcome.instrument = "two concatenated sweeps as one spectrum", "analysis"
    outcome.spectra_planned = 0
    outcome.injections = 1
    up = np.linspace(-2e-3, 2e-3, 101)
    V = np.concatenate([up, up[::-1]])
    G = 1 - 0.5 * np.exp(-(V / 3e-4) ** 2)
    with pytest.raises(AnalysisInputError, match="turns back"):
        SpectrumInput(V, G, "GN", "x.txt")
    path = tmp_path / "two.txt"
    _write(path, V, G)
    proc = run_cli("analyze", str(path))
    assert proc.returncode == 1 and "turns back" in proc.stderr and str(path) in proc.stderr
    assert "Traceback" not in proc.stderr
    SpectrumInput(up[::-1], G[:101], "GN", "down.txt")  # one sweep downwards is fine
    noisy = up + np.random.default_rng(1).normal(0, 1e-7, up.size)  # read-back noise
    SpectrumInput(noisy, G[:101], "GN", "noisy.txt")
    outcome.happened = "refused, exit 1: 'the bias turns back 1 time(s) ...; one spectrum is " \
                       "one sweep'"


def test_a_text_file_over_the_size_limit_is_refused_unread(tmp_path, outcome):
    """Found: a 318 MB text file took 188 s and 4.1 GB in `analyze` (parsed whole, twice).
    Over MAX_TEXT_BYTES it is refused with a message naming the file and the limit; one just
    under the limit is still read."""
    from stm_andreev.analysis.io_text import MAX_TEXT_BYTES, read_bounded_text

    outcome.fault, outcome.instrument = "text file over the size limit to analyze", "analysis"
    outcome.spectra_planned = 0
    outcome.injections = 1
    line = "1.000000e-03\t2.000000e-06\n"
    big = tmp_path / "big.txt"
    with big.open("w") as f:
        f.write("bias_V\tG_S\n")
        f.write(line * (MAX_TEXT_BYTES // len(line) + 1))
    proc = run_cli("analyze", str(big))
    assert proc.returncode == 1 and "Traceback" not in proc.stderr
    limit = f"text inputs are limited to {MAX_TEXT_BYTES // 2**20} MiB"
    assert f"{big}: " in proc.stderr and limit in proc.stderr, proc.stderr
    with pytest.raises(AnalysisInputError, match=limit):
        read_bounded_text(big)
    under = tmp_path / "under.txt"
    under.write_text("x" * (MAX_TEXT_BYTES - 1))
    assert len(read_bounded_text(under)) == MAX_TEXT_BYTES - 1
    reason = proc.stderr.strip().splitlines()[-1].replace(str(big), "FILE")
    outcome.happened = f"refused unread, exit 1: '{reason[:120]}'"
