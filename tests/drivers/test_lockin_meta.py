"""Meta-test: every property the lock-in subclasses add or redefine is documented and pinned."""

import pathlib
import re

import pytest

from stm_andreev.drivers.lockin import SR830LockIn, SR860LockIn

PROTOCOL_TESTS = (pathlib.Path(__file__).parent / "test_lockin_protocol.py").read_text()
VERBS = ("Control", "Measure", "Get", "Set")
# a unit, a number (range), a choice list ('Off' or 'On'), or "string" for text
UNIT = re.compile(r"\b(V|Hz|s|dB|degrees|deg|rms|index|ms|V/A|ohm|string)\b|\d|'\w+' or '")


def own_properties(cls):
    return {name: value for name, value in vars(cls).items() if isinstance(value, property)}


@pytest.mark.parametrize("cls", [SR830LockIn, SR860LockIn])
def test_every_own_property_is_documented_with_a_unit_and_tested_on_bytes(cls):
    props = own_properties(cls)
    assert props, f"{cls.__name__} defines no properties"
    for name, prop in props.items():
        doc = (prop.__doc__ or "").strip()
        assert doc.startswith(VERBS), f"{cls.__name__}.{name}: docstring must start with a verb"
        assert UNIT.search(doc), f"{cls.__name__}.{name}: docstring states no unit or range"
        assert re.search(rf"\b{name}\b", PROTOCOL_TESTS), (
            f"{cls.__name__}.{name} appears in no exact-bytes test (test_lockin_protocol.py)"
        )
