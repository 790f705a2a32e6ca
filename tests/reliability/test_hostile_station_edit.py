"""A station file edited while its run goes on, and before the run is resumed.

What a physicist expects, and what is done: one run file is one experiment, every spectrum in
it taken with one configuration (limits, calibrations, lock-in settings). The station is read
once when the run starts and stored in the run file; an edit during the run changes nothing in
it. `--resume` continues with the stored station; when the file the run started from has been
edited since, it says so, naming the keys that differ, and goes on as the run started; a
station file given with `--resume --station` that differs from the stored one is refused,
naming the keys (it used to be ignored without a word).
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from stm_andreev import engine as engine_module
from stm_andreev.cli import main
from stm_andreev.config import config_dir
from stm_andreev.redact import redact
from stm_andreev.storage import RunReader

from .hostile_helpers import run_cli

pytestmark = [pytest.mark.faults, pytest.mark.hostile]

ORIGINAL = "  temperature_ceiling_K: 2.0 "
EDITED = "  temperature_ceiling_K: 1.2 "


@pytest.fixture
def station_file(tmp_path) -> Path:
    path = tmp_path / "lab.yaml"
    shutil.copyfile(config_dir() / "simulated.yaml", path)
    assert ORIGINAL in path.read_text()
    return path


def _edit(path: Path) -> None:
    path.write_text(path.read_text().replace(ORIGINAL, EDITED))


def test_a_station_file_edited_during_and_after_a_run(station_file, tmp_path, monkeypatch,
                                                       capsys, outcome):
    outcome.fault, outcome.instrument = "station file edited during the run", "config"
    outcome.injections, outcome.spectra_planned = 2, 5
    original_text = station_file.read_text()
    edited_at: list[int] = []

    class EditingEngine(engine_module.RunEngine):
        """The engine of `run`, with the station file edited after the first spectrum."""

        def __init__(self, *args, **kwargs):
            super().__init__(*args, **kwargs)
            outer = self.on_spectrum

            def on_spectrum(point, spectrum):
                if not edited_at:
                    _edit(station_file)
                    edited_at.append(point.index)
                if outer is not None:
                    outer(point, spectrum)

            self.on_spectrum = on_spectrum

    monkeypatch.setattr(engine_module, "RunEngine", EditingEngine)
    out = tmp_path / "runs"
    code = main(["run", "quick", "--station", str(station_file), "--out", str(out),
                 "--no-report", "--quiet"])
    assert code == 0 and edited_at == [0]
    (path,) = out.glob("*.h5")
    with RunReader(path) as run:
        assert run.station_text == redact(original_text)  # the configuration it started with
        assert run.metadata["station_file"] == str(station_file.resolve())
        outcome.spectra_stored = len(set(int(p) for p in run.ledger))
    capsys.readouterr()

    # resumed after the edit: goes on with the stored station, naming what differs
    resumed = run_cli("run", "--resume", str(path), "--no-report", "--quiet")
    assert resumed.returncode == 0, resumed.stderr
    assert (f"note: {station_file.resolve()} was edited since {path} started (differs in "
            "limits.temperature_ceiling_K); the run continues with the station stored in the "
            "run file") in resumed.stderr
    # --station naming the edited file: refused, nothing written
    before = path.read_bytes()
    refused = run_cli("run", "--resume", str(path), "--station", str(station_file),
                      "--no-report", "--quiet")
    assert refused.returncode == 2 and "Traceback" not in refused.stderr
    assert (f"error: cannot resume: {path} was started with another station than "
            f"{station_file} (differs in limits.temperature_ceiling_K)") in refused.stderr
    assert path.read_bytes() == before
    # --station naming a file equal to the stored one: accepted without a note
    same = tmp_path / "same.yaml"
    same.write_text(original_text)
    accepted = run_cli("run", "--resume", str(path), "--station", str(same), "--no-report",
                       "--quiet")
    assert accepted.returncode == 0, accepted.stderr
    assert "note:" not in accepted.stderr.replace(f"note: {station_file.resolve()}", "")
    outcome.happened = ("the run kept the station it started with (stored text unchanged); "
                        "--resume went on with it and named the edited key; --resume --station "
                        "EDITED refused, exit 2, naming the key")
