"""Exact bytes of the Nanonis framing (docs/protocols.md section 1), built by hand from the spec."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from stm_andreev.drivers.nanonis.codec import (
    Reader,
    decode_reply_header,
    decode_request_header,
    read_value,
    write_value,
)
from stm_andreev.drivers.nanonis.commands import COMMANDS, get_command
from stm_andreev.drivers.nanonis.errors import (
    NanonisCommandError,
    NanonisProtocolError,
    NanonisValueError,
)


def name32(name: str) -> bytes:
    return name.encode("ascii") + b"\0" * (32 - len(name))


def hx(text: str) -> bytes:
    return bytes.fromhex(text.replace(" ", ""))


OK = hx("00000000 00000000")  # error block: status 0, empty description


def test_bias_set_request_is_the_documented_example():
    frame = get_command("Bias.Set").encode_request(0.5)
    assert frame == name32("Bias.Set") + hx("00000004 0001 0000") + hx("3f000000")


def test_bias_set_reply_is_the_documented_example():
    expected = name32("Bias.Set") + hx("00000008 00000000") + OK
    assert get_command("Bias.Set").encode_reply() == expected


def test_request_without_response_flag():
    frame = get_command("ZCtrl.Home").encode_request(response=False)
    assert frame == name32("ZCtrl.Home") + hx("00000000 0000 0000")


def test_bias_get_reply_decodes_float32():
    body = hx("bf800000") + OK  # -1.0
    frame = name32("Bias.Get") + hx("0000000c 00000000") + body
    assert get_command("Bias.Get").decode_reply(frame) == {"bias_V": -1.0}


def test_error_block_raises_command_error_naming_the_command():
    message = b"Z controller is on"
    body = hx("00000000") + hx("00000001") + len(message).to_bytes(4, "big") + message
    frame = name32("ZCtrl.ZPosGet") + len(body).to_bytes(4, "big") + hx("00000000") + body
    with pytest.raises(NanonisCommandError) as info:
        get_command("ZCtrl.ZPosGet").decode_reply(frame)
    assert info.value.command == "ZCtrl.ZPosGet"
    assert "ZCtrl.ZPosGet" in str(info.value) and "Z controller is on" in str(info.value)


def test_error_only_body_raises_command_error():
    body = hx("00000001 00000003") + b"bad"
    frame = name32("Current.GainsGet") + hx("0000000b 00000000") + body
    with pytest.raises(NanonisCommandError, match="Current.GainsGet: bad"):
        get_command("Current.GainsGet").decode_reply(frame)


def test_encode_reply_with_error_zeroes_the_returns():
    frame = get_command("Bias.Get").encode_reply(None, error="no")
    assert frame == (
        name32("Bias.Get") + hx("0000000e 00000000") + hx("00000000") + hx("00000001 00000002")
        + b"no"
    )


def test_wrong_echo_is_a_protocol_error():
    frame = name32("Bias.Get") + hx("0000000c 00000000") + hx("3f800000") + OK
    with pytest.raises(NanonisProtocolError, match="echoes 'Bias.Get'"):
        get_command("Current.Get").decode_reply(frame)


def test_truncated_body_is_a_protocol_error():
    frame = name32("Bias.Get") + hx("0000000c 00000000") + hx("3f800000") + OK
    with pytest.raises(NanonisProtocolError):
        get_command("Bias.Get").decode_reply(frame[:-1])


def test_trailing_bytes_are_a_protocol_error():
    body = hx("3f800000") + OK + b"\x00"
    frame = name32("Bias.Get") + len(body).to_bytes(4, "big") + hx("00000000") + body
    with pytest.raises(NanonisProtocolError):
        get_command("Bias.Get").decode_reply(frame)


def test_string_array_encoding_carries_byte_size_and_count():
    encoded = write_value("str[]", ["ab", "cde"])
    assert encoded == hx("0000000d 00000002 00000002") + b"ab" + hx("00000003") + b"cde"


def test_string_array_decoding_trusts_the_count_not_the_byte_size():
    # The vendor client writes 4 * count as the byte size; the count must rule.
    raw = hx("00000008 00000002 00000002") + b"ab" + hx("00000003") + b"cde"
    reader = Reader(raw, "test")
    assert read_value(reader, "str[]") == ["ab", "cde"]
    reader.expect_end()


def test_2d_array_is_rows_cols_then_row_major_float32():
    encoded = write_value("2f", [[1.0, 2.0, 3.0], [-1.0, 0.5, 0.0]])
    assert encoded == hx(
        "00000002 00000003 3f800000 40000000 40400000 bf800000 3f000000 00000000"
    )
    decoded = read_value(Reader(encoded, "test"), "2f")
    np.testing.assert_array_equal(decoded, [[1, 2, 3], [-1, 0.5, 0]])


def test_1d_array_has_its_count_first():
    assert write_value("i[]", [0, 3]) == hx("00000002 00000000 00000003")
    assert write_value("f[]", [1.0]) == hx("00000001 3f800000")
    assert write_value("d[]", []) == hx("00000000")


def test_string_is_length_then_bytes():
    assert write_value("str", "run_") == hx("00000004") + b"run_"


def test_bias_spectr_start_reply_layout():
    spec = get_command("BiasSpectr.Start")
    frame = spec.encode_reply(
        {"channel_names": ["Bias (V)", "Z (m)"], "data": [[0.5, 1.0], [2.0, 4.0]],
         "parameters": [1.0]}
    )
    body = (
        hx("00000015 00000002 00000008") + b"Bias (V)" + hx("00000005") + b"Z (m)"
        + hx("00000002 00000002 3f000000 3f800000 40000000 40800000")
        + hx("00000001 3f800000") + OK
    )
    assert frame == name32("BiasSpectr.Start") + len(body).to_bytes(4, "big") + bytes(4) + body
    reply = spec.decode_reply(frame)
    assert reply["channel_names"] == ["Bias (V)", "Z (m)"]
    np.testing.assert_array_equal(reply["data"], [[0.5, 1.0], [2.0, 4.0]])


def test_request_header_decodes():
    header = decode_request_header(name32("ZCtrl.OnOffSet") + hx("00000004 0001 0000"))
    assert (header.command, header.body_size, header.response) == ("ZCtrl.OnOffSet", 4, True)
    assert decode_reply_header(name32("Bias.Get") + hx("0000000c 00000000")) == ("Bias.Get", 12)


@pytest.mark.parametrize(
    "header",
    [
        b"\0" * 40,  # no name
        name32("Bias.Get")[:31] + b"\xff" + hx("00000000 0001 0000"),  # non-ASCII name
        name32("Bias.Get") + hx("ffffffff 0001 0000"),  # negative size
        name32("Bias.Get") + hx("00000000 0001"),  # short
    ],
)
def test_bad_request_headers_are_protocol_errors(header):
    with pytest.raises(NanonisProtocolError):
        decode_request_header(header)


@pytest.mark.parametrize(
    "code, value",
    [("H", 70000), ("I", -1), ("i", 2**31), ("f", 1e40), ("i", 1.5), ("str", 3), ("str[]", "x")],
)
def test_unencodable_values_raise_value_error(code, value):
    with pytest.raises(NanonisValueError):
        write_value(code, value, "arg")


def test_wrong_argument_count_raises_value_error():
    with pytest.raises(NanonisValueError, match="Bias.Set takes 1 arguments"):
        get_command("Bias.Set").encode_request()


def test_unknown_command_raises_value_error():
    with pytest.raises(NanonisValueError, match="Foo.Bar"):
        get_command("Foo.Bar")


def test_huge_count_does_not_allocate():
    raw = hx("7fffffff 7fffffff")
    with pytest.raises(NanonisProtocolError):
        read_value(Reader(raw, "test"), "2f")
    with pytest.raises(NanonisProtocolError):
        read_value(Reader(hx("00000000 7fffffff"), "test"), "str[]")


@pytest.mark.parametrize("name", sorted(COMMANDS))
def test_every_command_round_trips_its_defaults(name):
    spec = COMMANDS[name]
    values = spec.default_returns()
    reply = spec.decode_reply(spec.encode_reply(values))
    assert list(reply) == [f.name for f in spec.returns]


@settings(max_examples=300, deadline=None)
@given(data=st.binary(max_size=200), name=st.sampled_from(sorted(COMMANDS)))
def test_random_reply_bodies_raise_only_protocol_or_command_errors(data, name):
    spec = COMMANDS[name]
    try:
        spec.decode_reply_body(data)
    except (NanonisProtocolError, NanonisCommandError):
        pass


@settings(max_examples=300, deadline=None)
@given(data=st.binary(max_size=200), name=st.sampled_from(sorted(COMMANDS)))
def test_random_request_bodies_raise_only_protocol_errors(data, name):
    try:
        COMMANDS[name].decode_request_body(data)
    except NanonisProtocolError:
        pass


@settings(max_examples=200, deadline=None)
@given(data=st.binary(min_size=40, max_size=40))
def test_random_headers_raise_only_protocol_errors(data):
    for decode in (decode_request_header, decode_reply_header):
        try:
            decode(data)
        except NanonisProtocolError:
            pass


@settings(max_examples=200, deadline=None)
@given(cut=st.integers(min_value=0), name=st.sampled_from(sorted(COMMANDS)))
def test_truncated_valid_replies_raise_protocol_errors(cut, name):
    spec = COMMANDS[name]
    frame = spec.encode_reply(spec.default_returns())
    cut %= len(frame)
    with pytest.raises(NanonisProtocolError):
        spec.decode_reply(frame[:cut])
