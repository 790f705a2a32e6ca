"""tools/reliability_report.py: records in, Markdown table out; bad records refused."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import pytest

pytestmark = pytest.mark.faults

TOOL = Path(__file__).parents[2] / "tools" / "reliability_report.py"


@pytest.fixture(scope="module")
def tool():
    spec = importlib.util.spec_from_file_location("reliability_report", TOOL)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def record(test, fault="garbled reply", instrument="lockin", **kw):
    base = {"test": test, "fault": fault, "instrument": instrument, "injections": 1,
            "happened": "re-taken", "spectra_lost": 0, "passed": True}
    base.update(kw)
    return json.dumps(base)


def test_rows_merge_by_fault_and_newest_record_wins(tool, tmp_path):
    results = tmp_path / "r.jsonl"
    results.write_text("\n".join([
        record("t1", passed=False, happened="TEST FAILED: x"),
        record("t2", injections=3),
        record("t1"),  # the re-run of t1 replaces its failed record
        record("t3", fault="SIGKILL", instrument="process", injections=20),
        "",
    ]))
    out = tmp_path / "reliability.md"
    assert tool.main([str(results), "-o", str(out)]) == 0
    text = out.read_text()
    assert "| garbled reply | lockin | 2 | 4 | re-taken | 0 | pass |" in text
    assert "| SIGKILL | process | 1 | 20 | re-taken | 0 | pass |" in text
    assert "**0 spectra lost**, 0 tests failing" in text
    assert "TEST FAILED" not in text


def test_lost_spectra_or_failures_make_the_tool_fail(tool, tmp_path, capsys):
    results = tmp_path / "r.jsonl"
    results.write_text(record("t1", spectra_lost=2) + "\n" + record("t2", passed=False))
    assert tool.main([str(results), "-o", "-"]) == 1
    text = capsys.readouterr().out
    assert "**2 spectra lost**, 1 tests failing" in text
    assert "**1 failed**" in text


@pytest.mark.parametrize(("content", "message"), [
    (None, "no results file"),
    ("", "no records"),
    ("{not json\n", "not JSON"),
    ('{"test": "t"}\n', "record lacks fault"),
])
def test_bad_results_files_are_refused(tool, tmp_path, capsys, content, message):
    results = tmp_path / "r.jsonl"
    if content is not None:
        results.write_text(content)
    assert tool.main([str(results), "-o", str(tmp_path / "o.md")]) == 2
    assert message in capsys.readouterr().err
    assert not (tmp_path / "o.md").exists()
