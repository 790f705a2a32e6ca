"""Run queue persistence, plan <-> form round trip, the step form and run control."""

from __future__ import annotations

import json

import pytest

from stm_andreev.config import ConfigError, load_plan, load_plan_text
from stm_andreev.gui.plan_form import StepForm, StepInputError
from stm_andreev.gui.plans import load_editable, plan_names, plan_text_from_steps
from stm_andreev.gui.run_control import RunControlWidget
from stm_andreev.procedures import plan_points
from stm_andreev.service.launcher import RunHandle, find_run_file, run_command
from stm_andreev.service.queue_store import QueueFileError, QueueItem, RunQueue


def test_queue_survives_a_restart(tmp_path):
    path = tmp_path / "q" / "queue.json"
    queue = RunQueue(path)
    a = queue.add(QueueItem("quick", "name: quick", "simulated", str(tmp_path / "a")))
    b = queue.add(QueueItem("paper", "name: paper", "simulated", str(tmp_path / "b")))
    queue.update(a, state="running", run_path="/x/run.h5")
    reopened = RunQueue(path)
    assert [i.id for i in reopened.items] == [a.id, b.id]
    assert reopened.running().run_path == "/x/run.h5"
    assert reopened.next_queued().id == b.id
    with pytest.raises(ValueError, match="running"):
        reopened.remove(a.id)
    reopened.remove(b.id)
    assert [i.id for i in RunQueue(path).items] == [a.id]


@pytest.mark.parametrize(
    ("text", "match"),
    [
        ("{not json", "unreadable"),
        (json.dumps({"format": 99, "items": []}), "format 99"),
        (json.dumps({"format": 1, "items": [{"plan_name": "x"}]}), "unreadable"),
        (json.dumps({"format": 1, "items": [{"plan_name": "p", "plan_text": "", "station": "s",
                                              "out_dir": "o", "state": "lost"}]}), "lost"),
    ],
)
def test_bad_queue_file_is_refused_with_its_name(tmp_path, text, match):
    path = tmp_path / "queue.json"
    path.write_text(text)
    with pytest.raises(QueueFileError, match=match) as info:
        RunQueue(path)
    assert str(path) in str(info.value)


@pytest.mark.parametrize("name", plan_names())
def test_every_shipped_plan_round_trips_through_its_forms(qtbot, name):
    """Every key of every shipped plan survives the form untouched: same spectra, same plan."""
    plan, steps = load_editable(name)
    for step in steps:
        if step.editable:
            form = StepForm(step.step)
            qtbot.addWidget(form)
            step.edited = form.values()
    edited = load_plan_text(plan_text_from_steps(plan, steps))
    assert edited.steps == plan.steps
    before = [(p.setpoint_A, p.temperature_K, p.position_m, p.settings.bias_V.size)
              for p in plan_points(plan, first_step=_lead(plan))]
    after = [(p.setpoint_A, p.temperature_K, p.position_m, p.settings.bias_V.size)
             for p in plan_points(edited, first_step=_lead(edited))]
    assert after == before


def _lead(plan):
    return sum(1 for s in plan.steps if s.kind == "cooldown")


def test_edited_values_reach_the_plan(qtbot):
    plan, steps = load_editable("quick")
    forms = [StepForm(s.step) for s in steps]
    for form in forms:
        qtbot.addWidget(form)
    forms[0].set_value("n_setpoints", 7)
    forms[0].set_value("spacing", "linear")
    forms[1].set_value("temperatures_K", "[0.1, 0.5, 0.9]")
    for step, form in zip(steps, forms, strict=True):
        step.edited = form.values()
    edited = load_plan_text(plan_text_from_steps(plan, steps))
    assert edited.steps[0].n_setpoints == 7 and edited.steps[0].spacing == "linear"
    assert edited.steps[1].temperature_sequence_K().tolist() == [0.1, 0.5, 0.9]
    assert edited.n_spectra == 10


def test_invalid_edit_is_refused_naming_the_key(qtbot):
    plan, steps = load_editable("quick")
    form = StepForm(steps[0].step)
    qtbot.addWidget(form)
    form.set_value("bias_stop_V", steps[0].step.bias_start_V)
    steps[0].edited = form.values()
    with pytest.raises(ConfigError, match="bias_stop_V"):
        plan_text_from_steps(plan, steps)


def test_form_is_generated_from_the_step_schema(qtbot):
    plan, steps = load_editable("setpoint-sweep")
    step = steps[0].step
    form = StepForm(step)
    qtbot.addWidget(form)
    # every key of the schema but the kind, and nothing else
    assert set(form.fields) == set(type(step).model_fields) - {"kind"}
    assert form.texts()["n_setpoints"] == 31
    # an integer field carries the schema's bounds
    assert form.fields["n_setpoints"].maximum() == 10_000
    assert form.fields["lockin_filter_slope_db"].count() == 4
    form.set_value("n_setpoints", 9)
    form.set_value("I_stop_A", "2e-7")
    form.set_value("spacing", "linear")
    values = form.values()
    assert (values["n_setpoints"], values["I_stop_A"], values["spacing"]) == (9, 2e-7, "linear")
    assert isinstance(values["lockin_filter_slope_db"], int)
    form.set_value("I_stop_A", "lots")
    with pytest.raises(StepInputError, match="I_stop_A"):
        form.values()
    form.set_value("I_stop_A", "5e-2")  # above the schema's maximum (1e-3 A)
    steps[0].edited = form.values()
    with pytest.raises(ConfigError, match=r"I_stop_A.*0\.001"):
        plan_text_from_steps(plan, steps)


class RecordingLauncher:
    """Launcher stand-in that records what would have been started (no process)."""

    def __init__(self) -> None:
        self.started: list[QueueItem] = []

    def start(self, item):
        self.started.append(item)
        return RunHandle(tmp_out(item), None)

    @staticmethod
    def attach(item):
        return RunHandle(tmp_out(item), None)


def tmp_out(item):
    from pathlib import Path

    return Path(item.out_dir)


def test_run_control_queues_the_edited_plan(qtbot, tmp_path):
    queue = RunQueue(tmp_path / "queue.json")
    widget = RunControlWidget(queue, RecordingLauncher(), runs_dir=tmp_path / "runs")
    qtbot.addWidget(widget)
    widget.plan_combo.setCurrentText("quick")
    assert widget.steps_tabs.count() == 2
    widget.forms[0].set_value("n_setpoints", 6)
    item = widget.add_to_queue()
    assert item is not None and widget.queue_table.rowCount() == 1
    assert load_plan_text(item.plan_text).n_spectra == 8
    assert item.out_dir.startswith(str((tmp_path / "runs").resolve()))
    widget.forms[0].set_value("bias_stop_V", "-1.5e-3")  # equal to the start: invalid
    assert widget.add_to_queue() is None
    assert "bias_stop_V" in widget.form_error.text()
    widget.start_next()
    assert queue.items[0].state == "running"
    assert RunQueue(tmp_path / "queue.json").items[0].state == "running"


def test_cooldown_plan_is_shown_but_not_editable(qtbot, tmp_path):
    widget = RunControlWidget(RunQueue(tmp_path / "q.json"), RecordingLauncher(),
                              runs_dir=tmp_path)
    qtbot.addWidget(widget)
    widget.plan_combo.setCurrentText("cooldown")
    assert widget.forms == [] and widget.steps_tabs.count() == 1


def test_run_command_and_run_file_discovery(tmp_path):
    cmd = run_command(tmp_path / "p.yaml", "simulated", tmp_path)
    assert cmd[1:4] == ["-m", "stm_andreev.cli", "run"] and "--quiet" in cmd
    assert find_run_file(tmp_path) is None
    (tmp_path / "20260101-000000_quick.h5").write_bytes(b"")
    assert find_run_file(tmp_path).name == "20260101-000000_quick.h5"
    assert load_plan("quick").name == "quick"


def test_remove_selected_queue_rows(qtbot, tmp_path):
    queue = RunQueue(tmp_path / "queue.json")
    widget = RunControlWidget(queue, RecordingLauncher(), runs_dir=tmp_path / "runs")
    qtbot.addWidget(widget)
    first = widget.add_to_queue()
    second = widget.add_to_queue()
    widget.queue_table.selectRow(0)
    widget.remove_selected()
    assert [i.id for i in RunQueue(tmp_path / "queue.json").items] == [second.id]
    assert first.id not in {i.id for i in queue.items}


def test_gui_command_refuses_a_missing_run_file(tmp_path, capsys):
    from stm_andreev.cli import main

    assert main(["gui", "--attach", str(tmp_path / "nope.h5")]) == 2
    assert "no such run file" in capsys.readouterr().err
