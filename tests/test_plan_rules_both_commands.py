"""Every plan rule that `stm-andreev run` enforces, `check-config` enforces too (one plan model,
one limit check): each refused plan is refused by both commands, naming the same key, and
`run` touches nothing (no output folder)."""

from __future__ import annotations

import pytest

from stm_andreev.cli import main

REFUSED = {
    "cooldown-after-spectra": (
        """
name: late
steps:
  - {kind: single_spectrum, setpoint_A: 1.0e-8, n_bias: 21}
  - {kind: cooldown, target_K: 0.06, interval_s: 600, max_duration_s: 86400}
""", "steps.1.kind", "put cooldown steps first"),
    "two-bias-widths": (
        """
name: widths
steps:
  - {kind: single_spectrum, setpoint_A: 1.0e-8, n_bias: 21}
  - {kind: single_spectrum, setpoint_A: 1.0e-7, n_bias: 31}
""", "steps.1.n_bias", "same n_bias"),
    "over-the-ceiling": (
        "kind: temperature_sweep\ntemperatures_K: [0.1, 2.5]\nsetpoint_A: 2e-6\nn_bias: 21\n",
        "temperatures_K", "temperature_ceiling_K"),
    "bias-beyond-limit": (
        "kind: single_spectrum\nsetpoint_A: 1e-8\nbias_start_V: -9\nbias_stop_V: 9\n",
        "bias_start_V", "max_bias_V"),
    "invalid-key": (
        "kind: single_spectrum\nsetpoint_A: 1e-8\nn_bias: 1\n", "n_bias", ""),
}


@pytest.mark.parametrize("name", sorted(REFUSED))
def test_check_config_refuses_every_plan_run_refuses(name, tmp_path, capsys):
    text, key, words = REFUSED[name]
    plan = tmp_path / f"{name}.yaml"
    plan.write_text(text)
    out_dir = tmp_path / "runs"

    run_code = main(["run", str(plan), "--out", str(out_dir), "--quiet"])
    run_err = capsys.readouterr().err
    check_code = main(["check-config", "simulated", str(plan)])
    check_err = capsys.readouterr().err

    assert run_code == 2 and check_code != 0
    for err in (run_err, check_err):
        assert key in err and words in err and "Traceback" not in err
    assert not out_dir.exists()


def test_a_plan_both_accept_runs(tmp_path, capsys):
    """The rules refuse only what they should: cooldown first, one width, within limits."""
    plan = tmp_path / "fine.yaml"
    plan.write_text("""
name: fine
steps:
  - {kind: single_spectrum, setpoint_A: 1.0e-8, n_bias: 21, feedback_settle_s: 0.1}
  - {kind: single_spectrum, setpoint_A: 1.0e-7, n_bias: 21, feedback_settle_s: 0.1}
""")
    assert main(["check-config", "simulated", str(plan)]) == 0
    assert main(["run", str(plan), "--out", str(tmp_path / "runs"), "--quiet",
                 "--no-report"]) == 0
