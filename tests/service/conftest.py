from __future__ import annotations

from pathlib import Path

import pytest

from stm_andreev.service.queue_store import RunQueue
from stm_andreev.service.supervisor import Supervisor

from .fakes import FakeLauncher

ROOT = Path(__file__).resolve().parents[2]
QUICK_PLAN = (ROOT / "configs" / "plans" / "quick.yaml").read_text(encoding="utf-8")


@pytest.fixture
def launcher() -> FakeLauncher:
    return FakeLauncher()


@pytest.fixture
def supervisor(tmp_path, launcher):
    sup = Supervisor(RunQueue(tmp_path / "queue.json"), launcher, runs_dir=tmp_path / "runs")
    sup.acquire()
    yield sup
    sup.release()


def plan_named(name: str) -> str:
    return QUICK_PLAN.replace("name: quick", f"name: {name}", 1)
