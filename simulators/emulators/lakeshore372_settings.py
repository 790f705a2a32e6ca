"""Lake Shore 372 settings the simulated fridge has no physics for: validated, kept, read back.

Each entry is a mnemonic with the addresses it takes (inputs ``A``/1-16, outputs, curves, ...)
and its fields. The query answers the fields in the manual's reply format; the set command
takes the manual's argument forms (numbers; quoted or bare text for names). What each
setting would do on the instrument (an alarm relay closing, a filter smoothing the reading,
a display brightness) does not happen here: docs/conformance-ls372.md lists them as stored.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

MEASUREMENT = tuple(range(1, 17))
INPUTS_A16: tuple[str | int, ...] = ("A", *MEASUREMENT)


class SettingError(Exception):
    """A bad address or field (the emulator turns it into an ESR execution/query error)."""


@dataclass(frozen=True)
class Field:
    """``kind``: "int", "float" or "text"; inclusive range (text: ``high`` = max length);
    ``fmt``: reply format of the value."""

    kind: str
    low: float
    high: float
    default: float | str
    fmt: Callable[[float | str], str] = str


def _signed(width: int, decimals: int) -> Callable[[float | str], str]:
    """``+nnn.nnn``-style format: sign, zero-padded to ``width`` digits before the point."""
    def fmt(value: float | str) -> str:
        return f"{float(value):+0{width + decimals + 2}.{decimals}f}"
    return fmt


def _int_field(low: int, high: int, default: int) -> Field:
    return Field("int", low, high, default)


@dataclass(frozen=True)
class Setting:
    """``addresses``: what the first argument selects (None: no address); ``fields``: the
    values after it, in order."""

    addresses: Sequence[str | int] | None
    fields: tuple[Field, ...]


def _text(length: int, default: str = "") -> Field:
    return Field("text", 0, length, default, lambda value: str(value))


SETTINGS: dict[str, Setting] = {
    "INNAME": Setting(INPUTS_A16, (_text(15),)),
    "TLIMIT": Setting(INPUTS_A16, (Field("float", 0.0, 9999.999, 0.0, _signed(4, 3)),)),
    "FILTER": Setting(INPUTS_A16, (_int_field(0, 1, 0), _int_field(1, 200, 10),
                                   _int_field(1, 80, 10))),
    "FREQ": Setting((0, "A"), (_int_field(1, 5, 2),)),
    "STILL": Setting(None, (Field("float", 0.0, 100.0, 0.0, _signed(3, 3)),)),
    "GUARD": Setting(None, (_int_field(0, 1, 1),)),
    "CMR": Setting(None, (_int_field(0, 1, 0),)),
    "MONITOR": Setting(None, (_int_field(0, 7, 0),)),
    "MODE": Setting(None, (_int_field(0, 2, 0),)),
    "LOCK": Setting(None, (_int_field(0, 1, 0),
                           Field("int", 0, 999, 123, lambda v: f"{int(v):03d}"))),
    "BRIGT": Setting(None, (_int_field(0, 4, 3),)),
    "BEEP": Setting(None, (_int_field(0, 1, 1),)),
    "LEDS": Setting(None, (_int_field(0, 1, 1),)),
    "DISPLAY": Setting(None, (_int_field(0, 4, 0), _int_field(0, 3, 2), _int_field(0, 3, 0))),
    "ALARM": Setting(INPUTS_A16, (
        _int_field(0, 1, 0), _int_field(1, 3, 1),
        Field("float", -99999.0, 99999.0, 0.0, _signed(5, 4)),
        Field("float", -99999.0, 99999.0, 0.0, _signed(5, 4)),
        Field("float", 0.0, 99999.0, 0.0, _signed(5, 4)),
        _int_field(0, 1, 0), _int_field(0, 1, 0), _int_field(0, 1, 0))),
    "RELAY": Setting((1, 2), (_int_field(0, 2, 0), Field("text", 0, 2, "1"),
                              _int_field(0, 2, 0))),
    "OPSTE": Setting(None, (_int_field(0, 255, 0),)),
    "*SRE": Setting(None, (_int_field(0, 255, 0),)),
}

# HTRSET: output 0 (sample heater: resistance 1-2000 ohm, then 0 and 0 for the warm-up-only
# fields) and output 1 (warm-up heater: 25/50 ohm code, max current code, max user current);
# the last field is the display (1 current, 2 power) on both.
HTRSET_FIELDS: dict[int, tuple[Field, ...]] = {
    0: (Field("float", 1.0, 2000.0, 100.0, _signed(3, 3)), _int_field(0, 0, 0),
        Field("float", 0.0, 0.0, 0.0, _signed(3, 3)), _int_field(1, 2, 1)),
    1: (_int_field(1, 2, 1), _int_field(0, 2, 2), Field("float", 0.0, 0.63, 0.0, _signed(3, 3)),
        _int_field(1, 2, 1)),
}


def address(text: str, allowed: Sequence[str | int]) -> str | int:
    token = text.strip().upper()
    if token in allowed:
        return token
    try:
        number = int(token)
    except ValueError:
        raise SettingError(f"{text!r} is not one of {list(allowed)}") from None
    if number not in allowed:
        raise SettingError(f"{number} is not one of {list(allowed)}")
    return number


def parse(field: Field, text: str) -> float | str:
    if field.kind == "text":
        value = text.strip().strip('"').strip("'")
        if len(value) > field.high:
            raise SettingError(f"{value!r} is longer than {int(field.high)} characters")
        return value
    try:
        number = float(text)
    except ValueError:
        raise SettingError(f"not a number: {text!r}") from None
    if not field.low <= number <= field.high:
        raise SettingError(f"{text} outside {field.low:g}..{field.high:g}")
    if field.kind == "int":
        if not number.is_integer():
            raise SettingError(f"not an integer: {text!r}")
        return int(number)
    return number


class StoredSettings:
    """The values of :data:`SETTINGS` and ``HTRSET`` for one instrument; ``names`` gives the
    power-on name of each input (``INNAME?``)."""

    def __init__(self, names: Callable[[str | int], str]) -> None:
        self._names = names
        self.reset()

    def reset(self) -> None:
        self.values: dict[tuple[str, str | int | None], list[float | str]] = {}
        for mnemonic, setting in SETTINGS.items():
            for where in setting.addresses or [None]:
                self.values[(mnemonic, where)] = [f.default for f in setting.fields]
        for where in INPUTS_A16:
            self.values[("INNAME", where)] = [self._names(where)[:15]]
        for output, fields in HTRSET_FIELDS.items():
            self.values[("HTRSET", output)] = [f.default for f in fields]

    def query(self, mnemonic: str, args: list[str]) -> str:
        fields, where = self._select(mnemonic, args, 1)
        return ",".join(f.fmt(v) for f, v in zip(fields, self.values[(mnemonic, where)],
                                                   strict=True))

    def set(self, mnemonic: str, args: list[str]) -> None:
        setting = SETTINGS.get(mnemonic)
        has_address = mnemonic == "HTRSET" or (setting is not None and setting.addresses)
        if mnemonic == "FILTER" and args and args[0].strip() == "0":
            for where in MEASUREMENT:  # FILTER 0,...: every measurement channel
                self.set(mnemonic, [str(where), *args[1:]])
            return
        fields, where = self._select(mnemonic, args, None)
        values = args[1:] if has_address else args
        if len(values) != len(fields):
            raise SettingError(f"{mnemonic} takes {len(fields)} values, got {len(values)}")
        self.values[(mnemonic, where)] = [parse(f, t) for f, t in zip(fields, values,
                                                                      strict=True)]

    def _select(self, mnemonic: str, args: list[str], query_args: int | None):
        if mnemonic == "HTRSET":
            if not args:
                raise SettingError("HTRSET needs an output (0 or 1)")
            output = address(args[0], (0, 1))
            if query_args is not None and len(args) != 1:
                raise SettingError("HTRSET? takes one output")
            return HTRSET_FIELDS[int(output)], output
        setting = SETTINGS[mnemonic]
        if setting.addresses is None:
            if query_args is not None and args:
                raise SettingError(f"{mnemonic}? takes no argument")
            return setting.fields, None
        if not args:
            raise SettingError(f"{mnemonic} needs one of {list(setting.addresses)}")
        if query_args is not None and len(args) != 1:
            raise SettingError(f"{mnemonic}? takes one argument")
        return setting.fields, address(args[0], setting.addresses)
