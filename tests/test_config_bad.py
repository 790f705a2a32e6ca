"""Every malformed file in tests/configs_bad/ is refused with a ConfigError naming file and key.

Each fixture holds one defect; its first line says which key path the message must name
(``# expect: instruments.lockin.address``). ``station-*`` files are loaded as stations,
``plan-*`` files as plans.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from stm_andreev.config import ConfigError, load_plan, load_station

BAD = Path(__file__).parent / "configs_bad"
FIXTURES = sorted(BAD.glob("*.yaml"))


def expected_key(path: Path) -> str:
    first = path.read_bytes().split(b"\n", 1)[0].decode("ascii")
    assert first.startswith("# expect: "), f"{path.name} lacks its '# expect: <key>' line"
    return first.removeprefix("# expect: ").strip()


def test_there_are_enough_fixtures():
    assert sum(p.name.startswith("station-") for p in FIXTURES) >= 30
    assert sum(p.name.startswith("plan-") for p in FIXTURES) >= 30


@pytest.mark.parametrize("path", FIXTURES, ids=lambda p: p.stem)
def test_bad_file_raises_config_error_naming_key(path: Path):
    load = load_station if path.name.startswith("station-") else load_plan
    key = expected_key(path)
    with pytest.raises(ConfigError) as info:
        load(path)
    message = str(info.value)
    assert str(path) in message
    assert key in info.value.keys, f"expected key {key!r}; got:\n{message}"
    assert f"{key}: " in message
    # pydantic's raw wording never reaches the user
    assert "validation error" not in message
    assert "https://errors.pydantic.dev" not in message
