"""Station schema details: addresses, cross-checks, messages a physicist can act on."""

from __future__ import annotations

import copy
import json
from pathlib import Path

import pytest

from stm_andreev.config import (
    ConfigError,
    NoTemperatureBandError,
    load_station,
    resolve_config_path,
    station_from_dict,
)
from stm_andreev.config.address import AddressError, parse_address
from stm_andreev.config.yaml_file import read_yaml


@pytest.fixture(scope="module")
def base() -> dict:
    return read_yaml(resolve_config_path("simulated")).data


def broken(base: dict, edit) -> ConfigError:
    data = copy.deepcopy(base)
    edit(data)
    with pytest.raises(ConfigError) as info:
        station_from_dict(data, "station.yaml")
    return info.value


@pytest.mark.parametrize("driver, text, interface, host, port", [
    ("sr830", "GPIB0::8::INSTR", "gpib", None, None),
    ("sr830", "gpib1::30::instr", "gpib", None, None),
    ("sr830", "ASRL/dev/ttyUSB0::INSTR", "asrl", None, None),
    ("sr830", "ASRL3::INSTR", "asrl", None, None),
    ("sr860", "TCPIP0::lockin.lab.example::inst0::INSTR", "tcpip_instr", "lockin.lab.example",
     None),
    ("sr860", "USB0::0xB506::0x2000::002711::INSTR", "usb", None, None),
    ("lakeshore372", "TCPIP::192.0.2.10::7777::SOCKET", "tcp_socket", "192.0.2.10", 7777),
    ("nanonis", "127.0.0.1:6501", "host_port", "127.0.0.1", 6501),
    ("nanonis", "stm-pc.local:6501", "host_port", "stm-pc.local", 6501),
    ("sr570", "ASRL/dev/ttyS0::INSTR", "asrl", None, None),
])
def test_valid_addresses(driver, text, interface, host, port):
    addr = parse_address(text, driver)
    assert (addr.interface, addr.host, addr.port) == (interface, host, port)


@pytest.mark.parametrize("driver, text, words", [
    ("sr830", "GPIB0::31::INSTR", "0..30"),
    ("sr830", "TCPIP::1.2.3.4::0::SOCKET", "1..65535"),
    ("sr830", "TCPIP::1.2.3.4::inst0::INSTR", "a sr830 can use"),
    ("lakeshore372", "TCPIP::300.1.1.1::7777::SOCKET", "IPv4"),
    ("lakeshore372", "192.0.2.10:7777", "TCPIP::192.0.2.10::7777::SOCKET"),
    ("nanonis", "TCPIP::127.0.0.1::6501::SOCKET", "127.0.0.1:6501"),
    ("nanonis", "127.0.0.1", "a nanonis can use"),
    ("nanonis", "127.0.0.1:65536", "1..65535"),
    ("sr570", "GPIB0::8::INSTR", "a sr570 can use"),
    ("sr830", "", "a sr830 can use"),
])
def test_invalid_addresses(driver, text, words):
    with pytest.raises(AddressError, match=words.replace(".", r"\.")):
        parse_address(text, driver)


def test_message_has_file_line_key_and_suggestion(base):
    err = broken(base, lambda d: d["limits"].update(max_bias_v=d["limits"].pop("max_bias_V")))
    text = str(err)
    assert text.startswith("Invalid station file station.yaml (")
    assert "limits.max_bias_v: unknown key 'max_bias_v' (did you mean 'max_bias_V'?)" in text
    assert "limits.max_bias_V: missing (required)" in text


@pytest.mark.parametrize("name, text", [
    ("station-z-limits-reversed", "z_limits_m"),
    ("station-lakeshore-channel-17", "still: 17"),
    ("station-role-names-missing-instrument", "lockin: sr830-2"),
    ("station-duplicate-section", "limits: {}"),
])
def test_line_numbers_point_at_the_offending_line(name, text):
    path = Path(__file__).parent / "configs_bad" / f"{name}.yaml"
    with pytest.raises(ConfigError) as info:
        load_station(path)
    (problem,) = info.value.problems
    assert text in path.read_text().splitlines()[problem.line - 1]
    assert f"line {problem.line}: " in str(info.value)


def test_all_cross_check_problems_are_reported_together(base):
    def edit(d):
        d["roles"]["lockin"] = "nothing"
        d["roles"]["feedback"] = "fridge"
        d["temperature_control"]["safe_heater_range"] = 8
    err = broken(base, edit)
    assert err.keys == ["roles.lockin", "roles.feedback", "temperature_control.safe_heater_range"]


def test_instrument_named_like_a_driver_keeps_its_key(base):
    def edit(d):
        d["instruments"]["sr830"] = d["instruments"].pop("lockin")
        d["instruments"]["sr830"]["address"] = "nowhere"
        d["roles"]["lockin"] = "sr830"
    err = broken(base, edit)
    assert err.keys == ["instruments.sr830.address"]


def test_fault_on_real_instrument_is_refused(base):
    def edit(d):
        d["instruments"]["lockin"].update(simulated=False, address="GPIB0::8::INSTR")
        d["simulation"]["clock"] = "scaled"
        d["simulation"]["faults"] = [{"kind": "garble", "instrument": "lockin",
                                      "probability": 0.1}]
    err = broken(base, edit)
    assert err.keys == ["simulation.faults.0.instrument"] and "real instrument" in str(err)


def test_every_fault_kind_with_its_fields_is_accepted(base):
    data = copy.deepcopy(base)
    data["simulation"]["faults"] = [
        {"kind": "drop_connection", "instrument": "stm", "after_commands": 100},
        {"kind": "delay", "instrument": "lockin", "delay_s": 0.5, "probability": 0.1},
        {"kind": "stall", "instrument": "fridge", "at_time_s": 3600, "duration_s": 30},
        {"kind": "garble", "instrument": "lockin", "probability": 0.01},
        {"kind": "error_status", "instrument": "stm", "after_commands": 5},
        {"kind": "restart", "instrument": "fridge", "at_time_s": 7200},
        {"kind": "temperature_spike", "at_time_s": 1800, "delta_K": 0.3, "duration_s": 120},
        {"kind": "tip_change", "at_time_s": 5000},
    ]
    station = station_from_dict(data)
    assert [f.kind for f in station.simulation.faults][-2:] == ["temperature_spike",
                                                                "tip_change"]
    assert station.simulation.faults[1].delay_s == 0.5


def test_fault_with_two_triggers_is_refused(base):
    err = broken(base, lambda d: d["simulation"].update(faults=[
        {"kind": "restart", "instrument": "stm", "after_commands": 3, "at_time_s": 1}]))
    assert err.keys == ["simulation.faults.0"] and "not both" in str(err)


FULL_CUSTOM = {"name": "InOx-7", "Tc_K": 2.1, "E_g_eV": 4e-4, "Delta_c_eV": 1.6e-4,
               "Gamma_eV": 3e-5, "Gamma_A_eV": 2e-5, "n_channels": 25, "R_max_ohm": 4000,
               "thickness_m": 2e-8}


def test_custom_sample(base):
    data = copy.deepcopy(base)
    data["simulation"]["sample"] = dict(FULL_CUSTOM, Delta_c_closing_ratio=1.3,
                                        E_g_map_eV=[2e-4, 5e-4], Delta_c_spread_eV=1e-5)
    station = station_from_dict(data)
    assert station.simulation.sample_name == "InOx-7"
    p = station.simulation.sample.to_parameters()
    assert (p.Tc_K, p.Eg0_eV, p.Delta_c0_eV, p.gamma_eV, p.gamma_c_eV, p.n_channels) == (
        2.1, 4e-4, 1.6e-4, 3e-5, 2e-5, 25)
    assert (p.R_max_ohm_sq, p.thickness_m, p.delta_c_closing_ratio) == (4000, 2e-8, 1.3)
    assert p.Eg_map_range_eV == (2e-4, 5e-4) and p.delta_c_spread_eV == 1e-5
    assert p.delta_c_eV(1.29 * 2.1) > 0 and p.delta_c_eV(1.3 * 2.1) == 0


def test_custom_sample_does_not_inherit_inO2_silently(base):
    """Issue 15: a custom sample took Gamma, R_max, thickness, Gamma_A ... from InO-2."""
    data = copy.deepcopy(base)
    data["simulation"]["sample"] = {"name": "InOx-7", "Tc_K": 2.1, "E_g_eV": 4e-4,
                                    "Delta_c_eV": 1.6e-4}
    err = broken(data, lambda d: None)
    assert set(err.keys) == {f"simulation.sample.{k}" for k in (
        "Gamma_eV", "Gamma_A_eV", "n_channels", "R_max_ohm", "thickness_m")}
    assert "preset" in str(err)


def test_custom_sample_from_a_named_preset(base):
    data = copy.deepcopy(base)
    data["simulation"]["sample"] = {"name": "InO-2 wide", "preset": "InO-2", "n_channels": 20,
                                    "Gamma_A_eV": 2.4e-5}
    p = station_from_dict(data).simulation.sample.to_parameters()
    from stm_andreev.physics import get_sample

    ino2 = get_sample("InO-2")
    assert (p.n_channels, p.gamma_c_eV) == (20, 2.4e-5)
    assert (p.Tc_K, p.Eg0_eV, p.Delta_c0_eV, p.Eg_map_range_eV) == (
        ino2.Tc_K, ino2.Eg0_eV, ino2.Delta_c0_eV, ino2.Eg_map_range_eV)


def test_plain_btk_custom_sample_refuses_two_gap_keys(base):
    data = copy.deepcopy(base)
    data["simulation"]["sample"] = {"preset": "InO-4", "Delta_c_eV": 1e-4}
    err = broken(data, lambda d: None)
    assert err.keys == ["simulation.sample.Delta_c_eV"] and "plain-BTK" in str(err)
    data["simulation"]["sample"] = {"preset": "InO-4", "Tc_K": 3.0}
    p = station_from_dict(data).simulation.sample.to_parameters()
    assert p.plain_btk and p.Delta_c0_eV == p.Eg0_eV and p.Tc_K == 3.0


def test_band_lookup(base):
    data = copy.deepcopy(base)
    data["temperature_control"]["bands"] = [
        {"up_to_K": 0.1, "heater_range": 2, "pid": [10, 20, 0]},
        {"up_to_K": 0.5, "heater_range": 3, "pid": [10, 20, 0]},
        {"up_to_K": 2.0, "heater_range": 5, "pid": [5, 40, 0]},
    ]
    tc = station_from_dict(data).temperature_control
    assert tc.band_for(0.065).heater_range == 2
    assert tc.band_for(0.1).heater_range == 2  # up_to is inclusive
    assert tc.band_for(0.11).heater_range == 3
    assert tc.band_for(2.0).heater_range == 5
    with pytest.raises(NoTemperatureBandError, match="above the last"):
        tc.band_for(2.5)


def test_nanonis_ports_default_from_the_address(base):
    data = copy.deepcopy(base)
    data["simulation"]["transport"] = "tcp"
    data["instruments"]["lockin"]["address"] = "TCPIP::127.0.0.1::18830::SOCKET"
    data["instruments"]["fridge"]["address"] = "TCPIP::127.0.0.1::7777::SOCKET"
    data["instruments"]["stm"]["address"] = "127.0.0.1:7001"
    station = station_from_dict(data)
    assert station.instruments["stm"].ports == [7001, 7002, 7003, 7004]


def test_snapshot_is_json_with_file_key_names():
    station = load_station("lab-example")
    snap = json.loads(json.dumps(station.snapshot()))
    assert snap["notifications"]["smtp"]["from"] == "stm@example.org"
    assert snap["instruments"]["lockin"]["address"] == "GPIB0::8::INSTR"
    assert station_from_dict(snap) == station  # round trip


def test_instrument_for_unassigned_role():
    station = load_station("simulated")
    data = station.snapshot()
    del data["roles"]["preamp"]
    with pytest.raises(KeyError, match="preamp"):
        station_from_dict(data).instrument_for("preamp")


def test_visa_kwargs_for_pymeasure():
    lab = load_station("lab-example")
    lockin = lab.instruments["lockin"]
    assert lockin.options.visa_kwargs(lockin.parsed_address.interface) == {"timeout": 5000}
    fridge = lab.instruments["fridge"]
    assert fridge.options.visa_kwargs(fridge.parsed_address.interface) == {
        "timeout": 5000, "visa_library": "@py", "read_termination": "\r\n"}
    # serial gets the 372's baud rate
    assert fridge.options.visa_kwargs("asrl")["baud_rate"] == 57600


def test_mixed_real_and_simulated_needs_real_time(base):
    data = copy.deepcopy(base)
    data["instruments"]["lockin"].update(simulated=False, address="GPIB0::8::INSTR")
    data["simulation"].update(clock="scaled", speedup=1)
    station = station_from_dict(data)
    assert station.clock_kind == "scaled" and not station.fully_simulated


def test_custom_sample_errors_name_the_station_keys(base):
    data = copy.deepcopy(base)
    data["simulation"]["sample"] = {"preset": "InO-2", "E_g_eV": 1e-4}  # below Delta_c 150 ueV
    err = broken(data, lambda d: None)
    assert err.keys == ["simulation.sample.Delta_c_eV"] and "E_g_eV" in str(err)
    data["simulation"]["sample"] = {"preset": "InO-2", "E_g_map_eV": [7e-4, 2e-4]}
    err = broken(data, lambda d: None)
    assert err.keys == ["simulation.sample.E_g_map_eV"] and "low < high" in str(err)
