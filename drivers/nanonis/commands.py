"""The Nanonis commands this project speaks: one table, read by the driver and the emulator.

Each row is ``name, arguments, returns`` with fields written ``field_name:type`` (type codes in
:mod:`.codec`). Encoding and decoding of requests and replies for every command goes through
:class:`Command`, so there is no per-command framing code anywhere.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from .codec import (
    TYPE_CODES,
    Reader,
    decode_reply_header,
    encode_error_block,
    encode_reply_header,
    encode_request_header,
    read_error_block,
    read_values,
    split_frame,
    write_values,
)
from .errors import NanonisCommandError, NanonisProtocolError, NanonisValueError

_TIMING = (
    "z_averaging_s:f z_offset_m:f initial_settling_s:f max_slew_V_per_s:f settling_s:f "
    "integration_s:f end_settling_s:f z_control_s:f"
)
_PROPS = "save_all:H n_sweeps:i backward:H n_points:i z_offset_m:f autosave:H show_dialog:H"
_GAINS = "gains:str[] gain_index:i filters:str[] filter_index:i"
_ZGAINS = "p_gain:f time_constant_s:f i_gain:f"

# (name, arguments, returns)
_TABLE: tuple[tuple[str, str, str], ...] = (
    ("Bias.Set", "bias_V:f", ""),
    ("Bias.Get", "", "bias_V:f"),
    ("Current.Get", "", "current_A:f"),
    ("Current.GainSet", "gain_index:i filter_index:i", ""),
    ("Current.GainsGet", "", _GAINS),
    ("ZCtrl.OnOffSet", "on:I", ""),
    ("ZCtrl.OnOffGet", "", "on:I"),
    ("ZCtrl.SetpntSet", "setpoint:f", ""),
    ("ZCtrl.SetpntGet", "", "setpoint:f"),
    ("ZCtrl.ZPosSet", "z_m:f", ""),
    ("ZCtrl.ZPosGet", "", "z_m:f"),
    ("ZCtrl.Withdraw", "wait:I timeout_ms:i", ""),
    ("ZCtrl.Home", "", ""),
    ("ZCtrl.GainSet", _ZGAINS, ""),
    ("ZCtrl.GainGet", "", _ZGAINS),
    ("ZCtrl.LimitsSet", "high_m:f low_m:f", ""),
    ("ZCtrl.LimitsGet", "", "high_m:f low_m:f"),
    ("ZCtrl.StatusGet", "", "status:H"),
    ("BiasSpectr.Open", "", ""),
    ("BiasSpectr.LimitsSet", "start_V:f end_V:f", ""),
    ("BiasSpectr.LimitsGet", "", "start_V:f end_V:f"),
    ("BiasSpectr.PropsSet", _PROPS, ""),
    ("BiasSpectr.TimingSet", _TIMING, ""),
    ("BiasSpectr.TimingGet", "", _TIMING),
    ("BiasSpectr.ChsSet", "channel_indexes:i[]", ""),
    ("BiasSpectr.ChsGet", "", "channel_indexes:i[] channel_names:str[]"),
    ("BiasSpectr.Start", "get_data:I base_name:str", "channel_names:str[] data:2f parameters:f[]"),
    ("BiasSpectr.Stop", "", ""),
    ("BiasSpectr.StatusGet", "", "running:I"),
    ("LockIn.ModOnOffSet", "modulator:i on:I", ""),
    ("LockIn.ModOnOffGet", "modulator:i", "on:I"),
    ("LockIn.ModAmpSet", "modulator:i amplitude:f", ""),
    ("LockIn.ModAmpGet", "modulator:i", "amplitude:f"),
    ("LockIn.ModPhasFreqSet", "modulator:i frequency_Hz:d", ""),
    ("LockIn.ModPhasFreqGet", "modulator:i", "frequency_Hz:d"),
    ("Signals.NamesGet", "", "names:str[]"),
    ("Signals.ValGet", "index:i wait_newest:I", "value:f"),
    ("Signals.ValsGet", "indexes:i[] wait_newest:I", "values:f[]"),
    ("FolMe.XYPosSet", "x_m:d y_m:d wait:I", ""),
    ("FolMe.XYPosGet", "wait:I", "x_m:d y_m:d"),
)


@dataclass(frozen=True)
class Field:
    """One argument or return value: its name and its wire type code."""

    name: str
    type: str


@dataclass(frozen=True)
class Command:
    """One Nanonis command: wire name, argument fields and return fields."""

    name: str
    args: tuple[Field, ...]
    returns: tuple[Field, ...]

    # --- requests (driver encodes, emulator decodes) -----------------------------------

    def encode_request(self, *values: Any, response: bool = True) -> bytes:
        """Complete request frame (header and body) for the given argument values."""
        if len(values) != len(self.args):
            raise NanonisValueError(
                f"{self.name} takes {len(self.args)} arguments "
                f"({', '.join(f.name for f in self.args) or 'none'}), got {len(values)}"
            )
        body = write_values(
            [f.type for f in self.args], values, [f"{self.name} {f.name}" for f in self.args]
        )
        return encode_request_header(self.name, len(body), response) + body

    def decode_request_body(self, body: bytes) -> dict[str, Any]:
        """Argument values by field name; any size mismatch is a protocol error."""
        reader = Reader(body, f"{self.name} arguments")
        values = read_values(reader, [f.type for f in self.args])
        reader.expect_end()
        return {f.name: v for f, v in zip(self.args, values, strict=True)}

    # --- replies (emulator encodes, driver decodes) ------------------------------------

    def default_returns(self) -> dict[str, Any]:
        """Zero / empty return values, sent ahead of an error block as the controller does."""
        # A 2D default goes out as 0 rows x 0 columns, as the controller sends it with an error.
        empty: dict[str, Any] = {"str": "", "str[]": [], "2f": np.zeros((0, 0), np.float32)}
        return {f.name: empty.get(f.type, [] if f.type.endswith("[]") else 0) for f in self.returns}

    def encode_reply(
        self, values: Mapping[str, Any] | Sequence[Any] | None = None, error: str | None = None
    ) -> bytes:
        """Complete reply frame: name echo, return values, then the error block.

        ``values`` by field name or in order; ``None`` sends the defaults (with an error).
        ``error`` set makes the status 1 with that description.
        """
        if values is None:
            values = self.default_returns()
        if isinstance(values, Mapping):
            missing = [f.name for f in self.returns if f.name not in values]
            if missing:
                raise NanonisValueError(f"{self.name} reply lacks {', '.join(missing)}")
            ordered = [values[f.name] for f in self.returns]
        else:
            ordered = list(values)
        body = write_values(
            [f.type for f in self.returns], ordered, [f"{self.name} {f.name}" for f in self.returns]
        )
        body += encode_error_block(error)
        return encode_reply_header(self.name, len(body)) + body

    def decode_reply_body(self, body: bytes) -> dict[str, Any]:
        """Return values by field name; an error block with status 1 raises
        :class:`NanonisCommandError` naming this command."""
        reader = Reader(body, f"{self.name} reply")
        try:
            values = read_values(reader, [f.type for f in self.returns])
            status, message = read_error_block(reader)
            reader.expect_end()
        except NanonisProtocolError:
            # A controller may answer a failed command with the error block alone.
            status, message = _error_only(body, self.name)
            if status != 1:
                raise
            values = []
        if status == 1:
            raise NanonisCommandError(self.name, message)
        return {f.name: v for f, v in zip(self.returns, values, strict=True)}

    def decode_reply(self, frame: bytes) -> dict[str, Any]:
        """Decode a complete reply frame, checking the name echo and the body size."""
        header, body = split_frame(frame, f"{self.name} reply")
        check_echo(self.name, header)
        return self.decode_reply_body(body)


def _error_only(body: bytes, command: str) -> tuple[int, str]:
    reader = Reader(body, f"{command} reply")
    try:
        status, message = read_error_block(reader)
        reader.expect_end()
    except NanonisProtocolError:
        return -1, ""
    return status, message


def check_echo(command: str, header: bytes) -> None:
    """Raise :class:`NanonisProtocolError` unless ``header`` echoes ``command``."""
    echoed, _size = decode_reply_header(header)
    if echoed != command:
        raise NanonisProtocolError(f"reply echoes {echoed!r}, expected {command!r}")


def _parse_fields(text: str, where: str) -> tuple[Field, ...]:
    fields = []
    for token in text.split():
        name, _, code = token.partition(":")
        if code not in TYPE_CODES:
            raise ValueError(f"command table, {where}: unknown type {code!r} in {token!r}")
        fields.append(Field(name, code))
    return tuple(fields)


def _build_table(rows: tuple[tuple[str, str, str], ...]) -> dict[str, Command]:
    return {
        name: Command(name, _parse_fields(args, name), _parse_fields(returns, name))
        for name, args, returns in rows
    }


COMMANDS: dict[str, Command] = _build_table(_TABLE)


def get_command(name: str) -> Command:
    """The table entry for ``name``; unknown names raise :class:`NanonisValueError`."""
    try:
        return COMMANDS[name]
    except KeyError:
        raise NanonisValueError(f"unknown Nanonis command {name!r}") from None
