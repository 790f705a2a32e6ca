"""Lake Shore 372 queries the public drivers send at connect time answer in the manual's
format (they got no reply before), and the control input reports a valid range."""

from __future__ import annotations

import re

import pytest

from stm_andreev.clock import VirtualClock
from stm_andreev.simulators.emulators.lakeshore372 import LakeShore372Emulator
from stm_andreev.simulators.lab import VirtualLab

NUMBER = r"[+-]\d\.\d{5}E[+-]\d{2}"


@pytest.fixture
def ls372() -> LakeShore372Emulator:
    return LakeShore372Emulator(VirtualLab("InO-2", clock=VirtualClock(), seed=3))


@pytest.mark.parametrize(("query", "pattern"), [
    ("INNAME? 6", r"[ -~]{1,15}"),
    ("INNAME? A", r"[ -~]{1,15}"),
    ("TLIMIT? 6", r"\+\d{4}\.\d{3}"),
    ("HTRSET? 0", r"\+\d{3}\.\d{3},0,\+000\.000,[12]"),
    ("HTRSET? 1", r"[12],[0-2],\+\d{3}\.\d{3},[12]"),
    ("STILL?", r"\+\d{3}\.\d{3}"),
    ("SRDG? 6", NUMBER),
    ("SRDG? A", NUMBER),
    ("FILTER? 6", r"[01],\d{1,3},\d{1,2}"),
    ("CRVHDR? 6", r"[ -~]{15},[ -~]{10},[347],\+\d{3}\.\d{3},[12]"),
    ("HTRST? 0", r"0"),
    ("ALARMST? 6", r"[01],[01]"),
    ("FREQ? 0", r"[1-5]"),
    ("*TST?", r"0"),
])
def test_query_answers_in_the_manual_format(ls372, query, pattern) -> None:
    reply = ls372.handle_line(query)
    assert reply.endswith("\r\n")
    assert re.fullmatch(pattern, reply[:-2]), reply
    assert ls372.handle_line("*ESR?") in ("0\r\n", "128\r\n")  # power-on bit only


def test_control_input_range_is_one_the_manual_allows(ls372) -> None:
    fields = ls372.handle_line("INTYPE? A").strip().split(",")
    assert 1 <= int(fields[3]) <= 22
    # the vendor client writes 0 as A's range; A keeps a valid one
    ls372.handle_line("INTYPE A,1,2,0,0,0,1")
    assert 1 <= int(ls372.handle_line("INTYPE? A").strip().split(",")[3]) <= 22


def test_settings_round_trip_and_bad_ones_set_the_execution_bit(ls372) -> None:
    ls372.handle_line("*CLS")
    ls372.handle_line('INNAME 6,"MXC RuOx";TLIMIT 6,1.5;FILTER 6,1,20,5;STILL 12.5')
    assert ls372.handle_line("INNAME? 6;TLIMIT? 6;FILTER? 6;STILL?") == \
        "MXC RuOx;+0001.500;1,20,5;+012.500\r\n"
    ls372.handle_line("HTRSET 0,120,0,0,2")
    assert ls372.handle_line("HTRSET? 0") == "+120.000,0,+000.000,2\r\n"
    assert ls372.handle_line("*ESR?") == "0\r\n"
    ls372.handle_line("FILTER 6,2,20,5")
    assert ls372.handle_line("*ESR?") == "16\r\n"
    assert ls372.handle_line("TLIMIT? 17") == ""
    assert ls372.handle_line("*ESR?") == "4\r\n"  # query error
    assert ls372.handle_line("NOSUCH?") == ""
    assert ls372.handle_line("*ESR?") == "32\r\n"  # command error


def test_the_vendor_clients_constructor_and_input_setup_work(ls372) -> None:
    from lakeshore import Model372

    from stm_andreev.simulators.transports.tcp import LineServer

    with LineServer(ls372) as server:
        vendor = Model372(baud_rate=None, ip_address="127.0.0.1", tcp_port=server.port,
                          timeout=5.0)
        try:
            settings = vendor.get_input_setup_parameters("A")
            name = vendor.query("INNAME? 6")
            limit = float(vendor.query("TLIMIT? 6"))
        finally:
            vendor.disconnect_tcp()
    assert settings.excitation_range is not None
    assert name and limit == 0.0
