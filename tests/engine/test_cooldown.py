"""The cooldown monitor on the simulated station: a whole 300 K -> base cooldown in virtual time,
scanner waits honoured, the film's R(T) of Fig. S1, stops, aborts, invalid readings and the
``stm-andreev run`` path (cooldown steps before spectra)."""

from __future__ import annotations

import copy

import numpy as np
import pytest

from stm_andreev.analysis.series import tc_from_resistance
from stm_andreev.cli import main
from stm_andreev.config import ConfigError, load_plan_text, load_station, station_from_dict
from stm_andreev.config.yaml_file import parse_yaml
from stm_andreev.engine import RunControl
from stm_andreev.engine.cooldown import run_cooldown_steps
from stm_andreev.procedures.cooldown import split_plan, thermometers
from stm_andreev.station import Station
from stm_andreev.storage import RunReader
from stm_andreev.storage.cooldown_file import CooldownFileError, CooldownWriter, read_cooldown

SCAN_WAIT_S = 13.0  # the emulated 372's default INSET: pause 3 s + dwell 10 s


def cooldown_plan(target_K=0.06, interval_s=300, max_duration_s=43200):
    return load_plan_text(
        f"name: cool\nkind: cooldown\ntarget_K: {target_K}\ninterval_s: {interval_s}\n"
        f"max_duration_s: {max_duration_s}\n",
        "cool.yaml",
    )


def simulated_station(extra_channels=None) -> Station:
    base = load_station("simulated")
    data = copy.deepcopy(parse_yaml(base.source_text, "simulated.yaml").data)
    data["instruments"]["fridge"]["options"]["channels"].update(extra_channels or {})
    return Station.from_config(station_from_dict(data, "cooldown-test"), source_text="test")


def cool(tmp_path, plan, station=None, **kwargs):
    station = station or simulated_station()
    path = tmp_path / "cool.h5"
    try:
        summary = run_cooldown_steps(
            station, list(plan.steps), path, station_text="station", plan_text="plan",
            metadata={"plan": plan.name}, **kwargs,
        )
    finally:
        station.close()
    return summary, read_cooldown(path)


def test_split_plan_keeps_step_indices_and_refuses_late_cooldowns():
    mixed = load_plan_text(
        """
name: mixed
steps:
  - {kind: cooldown, target_K: 0.06, interval_s: 60, max_duration_s: 86400}
  - {kind: single_spectrum, setpoint_A: 1.0e-8, n_bias: 21}
  - {kind: single_spectrum, setpoint_A: 1.0e-7, n_bias: 21}
""",
        "mixed.yaml",
    )
    cooldowns, points = split_plan(mixed)
    assert [s.kind for s in cooldowns] == ["cooldown"]
    assert [(p.index, p.step_index) for p in points] == [(0, 1), (1, 2)]
    assert split_plan(cooldown_plan())[1] == []
    with pytest.raises(ConfigError, match=r"steps\.1\.kind.*put cooldown steps first"):
        load_plan_text(
            """
name: late
steps:
  - {kind: single_spectrum, setpoint_A: 1.0e-8, n_bias: 21}
  - {kind: cooldown, target_K: 0.06, interval_s: 60, max_duration_s: 86400}
""",
            "late.yaml",
        )


def test_whole_cooldown_from_room_temperature_reaches_base(tmp_path):
    """One simulated cooldown, 300 K to base in virtual time (~10 s wall): every thermometer,
    and the film's R(T) as in Fig. S1."""
    summary, log = cool(tmp_path, cooldown_plan(interval_s=60))
    assert summary.status == "finished" and summary.reason == "target_reached"
    assert log["status"] == "finished"
    r = log["readings"]
    n = summary.readings
    assert n == len(r["time_s"]) > 50
    # ~7 h from 300 K to base on the simulated fridge (pulse tube, condensation, dilution).
    assert 5 * 3600 < r["time_s"][-1] < 10 * 3600
    assert r["control_K"][0] > 250 and r["control_K"][-1] <= 0.06
    options = load_station("simulated").instruments["fridge"].options
    assert log["thermometers"] == [n for n in options.channels if n != options.transport_channel]
    # Every thermometer cooled; the scanned mixing-chamber chip (read 26 s before the control
    # input, while the MC still falls fast) agrees with it.
    for name in log["thermometers"]:
        T = r[f"{name}_K"]
        assert np.all(np.isfinite(T)) and T[0] > 250 and T[-1] < 0.2 * T[0]
    if "mixing_chamber_scanner" in log["thermometers"]:
        assert r["mixing_chamber_scanner_K"][-1] == pytest.approx(r["control_K"][-1], abs=0.01)
    kinds = [e[1] for e in log["events"]]
    assert kinds[:3] == ["simulated_cooldown", "cooldown_prepare", "cooldown_start"]
    assert kinds[-1] == "cooldown_end"
    # Fig. S1: R rises on cooling (insulating-like) to R_max, then drops to zero at Tc.
    R, T = r["film_R_ohm"], r["control_K"]
    peak = int(np.argmax(R))
    assert R[peak] == pytest.approx(5615, rel=0.03)  # InO-2: R_max = 5615 ohm/sq
    assert R[0] < 0.5 * R[peak]  # room temperature: well below the maximum
    assert np.all(np.diff(R[: peak - 2]) > -5)  # rising on cooling (noise aside)
    assert 1.5 < T[peak] < 2.5
    assert np.all(np.abs(R[T < 1.0]) < 0.05)  # superconducting: zero within the noise floor
    tc = tc_from_resistance(T[T < 3.0], R[T < 3.0])
    assert tc.Tc_K == pytest.approx(1.5, abs=0.12)


def test_scanner_settle_is_waited_and_film_pairs_with_the_control_input(tmp_path):
    _, log = cool(tmp_path, cooldown_plan(target_K=0.01, max_duration_s=3600), from_K=None)
    r = log["readings"]
    options = load_station("simulated").instruments["fridge"].options
    scanned = [n for n, ch in options.channels.items()
               if ch != "A" and n != options.transport_channel]  # in the station file's order
    assert scanned  # the simulated station has scanner thermometers
    times = np.stack([r[f"{name}_time_s"] for name in scanned] + [r["film_time_s"]])
    # Each scanned input (and the film after them) is read one full pause + dwell after the
    # previous one: the scanner moved and settled before every reading.
    np.testing.assert_allclose(np.diff(times, axis=0), SCAN_WAIT_S, atol=1e-6)
    # The control input A needs no scanner: read right after the film, no wait.
    for name in (n for n, ch in options.channels.items() if ch == "A"):
        np.testing.assert_allclose(r[f"{name}_time_s"], r["film_time_s"], atol=1e-6)
    # Cycles start every interval (300 s); a cycle takes (scanned + film) x 13 s.
    np.testing.assert_allclose(np.diff(r["time_s"]), 300.0, atol=1e-6)


def test_unreachable_target_stops_at_max_duration(tmp_path):
    summary, log = cool(tmp_path, cooldown_plan(target_K=0.01, interval_s=60,
                                                 max_duration_s=600), from_K=None)
    assert summary.status == "target_not_reached" and summary.reason == "max_duration"
    assert log["status"] == "target_not_reached"
    assert log["readings"]["time_s"][-1] >= 600 - 1e-6
    assert summary.readings == 11  # t = 0, 60, ..., 600 s


def test_invalid_reading_is_nan_and_the_cooldown_goes_on(tmp_path):
    station = simulated_station({"spare": 12})  # nothing wired to input 12
    assert [t.name for t in thermometers(station)][-1] == "spare"
    summary, log = cool(tmp_path, cooldown_plan(target_K=0.01, interval_s=120,
                                                 max_duration_s=600), station=station, from_K=None)
    r = log["readings"]
    assert summary.readings == 6
    assert np.all(np.isnan(r["spare_K"])) and np.all(np.isfinite(r["still_K"]))
    invalid = [e for e in log["events"] if e[1] == "invalid_reading"]
    assert len(invalid) == 6 and "spare" in invalid[0][2]


def test_abort_from_the_control_channel_closes_the_file(tmp_path):
    class AbortAfter(RunControl):
        def __init__(self, n):
            super().__init__(None)
            self.n = n

        def check_abort(self):
            self.n -= 1
            if self.n < 0:
                self.request("abort")
            super().check_abort()

    summary, log = cool(tmp_path, cooldown_plan(), control=AbortAfter(5))
    assert summary.status == "aborted" and log["status"] == "aborted"
    assert 3 <= summary.readings <= 6
    assert [e[1] for e in log["events"]][-1] == "abort"


def test_dropped_link_is_reconnected(tmp_path):
    base = load_station("simulated")
    data = copy.deepcopy(parse_yaml(base.source_text, "simulated.yaml").data)
    data["simulation"]["faults"] = [
        {"kind": "drop_connection", "instrument": "fridge", "after_commands": 40}
    ]
    station = Station.from_config(station_from_dict(data, "drop"), source_text="t")
    summary, log = cool(tmp_path, cooldown_plan(target_K=0.01, interval_s=120,
                                                 max_duration_s=1200), station=station, from_K=None)
    assert summary.reason == "max_duration" and summary.readings == 11
    assert "link_error" in [e[1] for e in log["events"]]


def test_cooldown_end_is_notified(tmp_path):
    from stm_andreev.engine.notify import Notifier

    from .local_servers import webhook_server
    from .test_notify import notifications

    with webhook_server() as (url, hooks):
        notifier = Notifier(notifications(webhook_url=url))
        cool(tmp_path, cooldown_plan(), notifier=notifier, from_K=None)  # at base already
        second = tmp_path / "second"
        second.mkdir()
        cool(second, cooldown_plan(target_K=0.01, interval_s=60, max_duration_s=120),
             notifier=notifier, from_K=None)
    assert [p["event"] for p in hooks.posts] == ["finish", "failure"]
    assert hooks.posts[0]["run"] == str(tmp_path / "cool.h5")
    assert hooks.posts[0]["message"].startswith("cooldown finished: 0.049")
    assert "cooldown target not reached" in hooks.posts[1]["message"]


def test_writer_never_overwrites_and_reader_names_bad_files(tmp_path):
    path = tmp_path / "c.h5"
    CooldownWriter.create(path, ["mc"]).close("finished")
    with pytest.raises(CooldownFileError, match="never overwritten"):
        CooldownWriter.create(path, ["mc"])
    other = tmp_path / "other.h5"
    import h5py

    h5py.File(other, "w").close()
    with pytest.raises(CooldownFileError, match="not a cooldown file"):
        read_cooldown(other)


def test_stm_andreev_run_cools_down_then_measures(tmp_path, capsys):
    plan = tmp_path / "mixed.yaml"
    plan.write_text(
        """
name: mixed
steps:
  - {kind: cooldown, target_K: 0.06, interval_s: 600, max_duration_s: 86400}
  - {kind: single_spectrum, setpoint_A: 1.0e-8, n_bias: 21, settle_s: 0.01,
     integration_s: 0.01, feedback_settle_s: 0.1}
"""
    )
    out = tmp_path / "runs"
    code = main(["run", str(plan), "--out", str(out), "--no-report", "--quiet"])
    printed = capsys.readouterr().out
    assert code == 0, printed
    (cool_file,) = out.glob("*_mixed_cooldown.h5")
    (run_file,) = [p for p in out.glob("*_mixed.h5")]
    assert cool_file.name.replace("_cooldown", "") == run_file.name  # same stamp
    log = read_cooldown(cool_file)
    assert log["status"] == "finished" and log["metadata"]["plan"] == "mixed"
    with RunReader(run_file) as run:
        assert run.status == "finished" and run.n_spectra == 1
        table = run.table()
        assert table["step_index"][0] == 1  # the plan file's numbering
        assert table["temperature_before_K"][0] < 0.06  # measured cold, after the cooldown
    assert "status:        finished (target_reached)" in printed


def test_stm_andreev_run_refuses_a_cooldown_after_spectra(tmp_path, capsys):
    plan = tmp_path / "late.yaml"
    plan.write_text(
        """
name: late
steps:
  - {kind: single_spectrum, setpoint_A: 1.0e-8, n_bias: 21}
  - {kind: cooldown, target_K: 0.06, interval_s: 600, max_duration_s: 86400}
"""
    )
    code = main(["run", str(plan), "--out", str(tmp_path / "runs"), "--quiet"])
    assert code == 2
    assert "put cooldown steps first" in capsys.readouterr().err
    assert not (tmp_path / "runs").exists()


def test_cooldown_command_module(tmp_path, capsys):
    """The module's own command (``stm-andreev cooldown`` once cli.py lists it)."""
    import argparse

    from stm_andreev.commands import cooldown

    parser = argparse.ArgumentParser()
    cooldown.add_arguments(parser)
    args = parser.parse_args(["--out", str(tmp_path), "--interval-s", "600", "--quiet"])
    assert cooldown.run(args) == 0
    (path,) = tmp_path.glob("*_cooldown.h5")
    log = read_cooldown(path)
    assert log["status"] == "finished" and log["readings"]["control_K"][0] > 250
    assert "status:        finished (target_reached)" in capsys.readouterr().out
    bad = parser.parse_args(["--out", str(tmp_path), "--interval-s", "-1"])
    assert cooldown.run(bad) == 2
    assert "interval_s" in capsys.readouterr().err
