"""One driver table: every driver kind's station-file model, roles, driver class and emulator
in one row, and the schema, the station and the simulators all read it."""

from __future__ import annotations

import importlib
import typing

import pytest

from stm_andreev.config.instruments import DRIVER_KINDS, InstrumentConfig
from stm_andreev.config.station import ROLE_DRIVERS, ROLES
from stm_andreev.simulators.transports.station import SIMULATED, emulator_class


def _resolve(target: str):
    module, _, attr = target.partition(":")
    return getattr(importlib.import_module(module), attr)


def test_the_schema_union_is_the_table():
    union = typing.get_args(typing.get_args(InstrumentConfig)[0])
    assert {model.union_tag for model in union} == set(DRIVER_KINDS)
    assert {kind.config for kind in DRIVER_KINDS.values()} == set(union)


@pytest.mark.parametrize("name", sorted(DRIVER_KINDS))
def test_every_row_resolves(name):
    kind = DRIVER_KINDS[name]
    assert isinstance(_resolve(kind.factory), type)
    assert set(kind.roles) <= set(ROLES)
    if kind.emulator is not None:
        assert emulator_class(name).__name__ == kind.emulator.partition(":")[2]
        assert kind.default_ports and kind.default_name


def test_roles_come_from_the_table():
    assert ROLE_DRIVERS["lockin"] == ("sr830", "sr860")
    assert ROLE_DRIVERS["feedback"] == ("nanonis",)
    assert set(ROLE_DRIVERS["transport_bridge"]) == {"sr830", "sr860", "lakeshore372"}
    assert set(SIMULATED) == {"sr830", "sr860", "lakeshore372", "nanonis"}
