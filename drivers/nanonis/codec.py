"""Binary framing of the Nanonis TCP protocol (docs/protocols.md section 1).

One module for both sides of the wire: the driver encodes requests and decodes replies, the
emulator decodes requests and encodes replies, with the same functions.

Frames::

    request:  32-byte NUL-padded name | int32 body size | uint16 response flag | 2 zero bytes | body
    reply:    32-byte name echo       | int32 body size | 4 zero bytes                       | body
    reply body: return values | uint32 status (0 ok, 1 error) | int32 length | description

Value types (all big-endian), the codes used in :mod:`.commands`:

========  ==========================================================================
``H``     uint16
``I``     uint32
``i``     int32
``f``     float32
``d``     float64
``str``   int32 byte length + bytes (UTF-8, no NUL)
``i[]``   int32 count + count int32 (likewise ``I[]``, ``f[]``, ``d[]``): the protocol sends the
          count as a separate argument right before the array; here they travel as one value
``str[]`` int32 total byte size (sum of 4 + len) + int32 count + count strings
``2f``    int32 rows + int32 cols + rows*cols float32, row-major
========  ==========================================================================

Decoding never trusts a size it has not checked against the bytes actually present, so random
or truncated input raises :class:`NanonisProtocolError` and nothing else (no huge allocations,
no hangs). The byte-size field of an incoming string array is ignored in favour of its count,
because the vendor's Python client writes a wrong size there (4 * count).
"""

from __future__ import annotations

import struct
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from .errors import NanonisProtocolError, NanonisValueError

NAME_BYTES = 32
HEADER_BYTES = 40
MAX_BODY_BYTES = 64 * 1024 * 1024  # far above any real reply (a 16-channel 10^5-point sweep)

_SCALARS: dict[str, struct.Struct] = {
    code: struct.Struct(">" + code) for code in ("H", "I", "i", "f", "d")
}
_INT_RANGES: dict[str, tuple[int, int]] = {
    "H": (0, 0xFFFF),
    "I": (0, 0xFFFF_FFFF),
    "i": (-(2**31), 2**31 - 1),
}
_ARRAY_DTYPES: dict[str, np.dtype] = {
    "i[]": np.dtype(">i4"),
    "I[]": np.dtype(">u4"),
    "f[]": np.dtype(">f4"),
    "d[]": np.dtype(">f8"),
}
TYPE_CODES: frozenset[str] = frozenset({*_SCALARS, *_ARRAY_DTYPES, "str", "str[]", "2f"})

_INT32 = _SCALARS["i"]
_UINT32 = _SCALARS["I"]
_REQUEST_TAIL = struct.Struct(">iHH")
_REPLY_TAIL = struct.Struct(">iI")


class Reader:
    """Bounds-checked cursor over a byte string; every overrun is a protocol error."""

    def __init__(self, data: bytes, what: str) -> None:
        self.data = bytes(data)
        self.pos = 0
        self.what = what

    @property
    def remaining(self) -> int:
        return len(self.data) - self.pos

    def take(self, n: int) -> bytes:
        if n < 0 or n > self.remaining:
            raise NanonisProtocolError(
                f"{self.what}: truncated, needs {n} bytes at offset {self.pos} "
                f"but {self.remaining} remain"
            )
        chunk = self.data[self.pos : self.pos + n]
        self.pos += n
        return chunk

    def scalar(self, code: str) -> Any:
        fmt = _SCALARS[code]
        return fmt.unpack(self.take(fmt.size))[0]

    def count(self, label: str, item_bytes: int) -> int:
        """Read an int32 element count and check that ``count * item_bytes`` bytes remain."""
        n = self.scalar("i")
        if n < 0:
            raise NanonisProtocolError(f"{self.what}: negative {label} ({n})")
        if n * item_bytes > self.remaining:
            raise NanonisProtocolError(
                f"{self.what}: {label} {n} needs {n * item_bytes} bytes "
                f"but {self.remaining} remain"
            )
        return n

    def expect_end(self) -> None:
        if self.remaining:
            raise NanonisProtocolError(
                f"{self.what}: {self.remaining} unexpected trailing bytes at offset {self.pos}"
            )


def _decode_text(raw: bytes) -> str:
    # The controller's strings are ASCII; replacement keeps decoding total on garbage.
    return raw.decode("utf-8", errors="replace")


def read_value(reader: Reader, code: str) -> Any:
    """Decode one value of type ``code`` (see the module table) from ``reader``."""
    if code in _SCALARS:
        return reader.scalar(code)
    if code == "str":
        return _decode_text(reader.take(reader.count("string length", 1)))
    if code == "str[]":
        reader.scalar("i")  # byte size: unreliable from the vendor client, the count rules
        n = reader.count("string count", 4)
        return [_decode_text(reader.take(reader.count("string length", 1))) for _ in range(n)]
    if code in _ARRAY_DTYPES:
        dtype = _ARRAY_DTYPES[code]
        n = reader.count("array count", dtype.itemsize)
        return np.frombuffer(reader.take(n * dtype.itemsize), dtype=dtype).astype(
            dtype.newbyteorder("=")
        )
    if code == "2f":
        rows = reader.count("row count", 0)
        cols = reader.count("column count", 0)
        if rows * cols * 4 > reader.remaining:
            raise NanonisProtocolError(
                f"{reader.what}: 2D array {rows}x{cols} needs {rows * cols * 4} bytes "
                f"but {reader.remaining} remain"
            )
        flat = np.frombuffer(reader.take(rows * cols * 4), dtype=">f4")
        return flat.astype(np.float32).reshape(rows, cols)
    raise NanonisValueError(f"unknown Nanonis type code {code!r}")


def _check_int(code: str, value: Any, label: str) -> int:
    if isinstance(value, bool | np.bool_):
        value = int(value)
    if not isinstance(value, int | np.integer):
        raise NanonisValueError(f"{label}: expected an integer for type {code}, got {value!r}")
    low, high = _INT_RANGES[code]
    if not low <= int(value) <= high:
        raise NanonisValueError(f"{label}: {value} outside the {code} range [{low}, {high}]")
    return int(value)


def _encode_text(value: Any, label: str) -> bytes:
    if not isinstance(value, str):
        raise NanonisValueError(f"{label}: expected a string, got {value!r}")
    raw = value.encode("utf-8")
    return _INT32.pack(len(raw)) + raw


def write_value(code: str, value: Any, label: str = "value") -> bytes:
    """Encode one value of type ``code``; bad values raise :class:`NanonisValueError`."""
    if code in _INT_RANGES:
        return _SCALARS[code].pack(_check_int(code, value, label))
    if code in ("f", "d"):
        try:
            return _SCALARS[code].pack(float(value))
        except (OverflowError, TypeError, ValueError) as exc:
            raise NanonisValueError(f"{label}: cannot encode {value!r} as {code}: {exc}") from exc
    if code == "str":
        return _encode_text(value, label)
    if code == "str[]":
        if isinstance(value, str):
            raise NanonisValueError(f"{label}: expected a list of strings, got one string")
        items = [_encode_text(item, f"{label}[{k}]") for k, item in enumerate(value)]
        return _INT32.pack(sum(len(x) for x in items)) + _INT32.pack(len(items)) + b"".join(items)
    if code in _ARRAY_DTYPES:
        return _encode_array(code, value, label)
    if code == "2f":
        try:
            arr = np.asarray(value, dtype=np.float64)
        except (TypeError, ValueError) as exc:
            raise NanonisValueError(f"{label}: not a numeric 2D array: {exc}") from exc
        if arr.ndim != 2:
            raise NanonisValueError(f"{label}: expected a 2D array, got shape {arr.shape}")
        _check_float32(arr, label)
        rows, cols = arr.shape
        return _INT32.pack(rows) + _INT32.pack(cols) + arr.astype(">f4").tobytes()
    raise NanonisValueError(f"unknown Nanonis type code {code!r}")


def _check_float32(arr: np.ndarray, label: str) -> None:
    finite = arr[np.isfinite(arr)]
    if finite.size and np.max(np.abs(finite)) > np.finfo(np.float32).max:
        raise NanonisValueError(f"{label}: value beyond the float32 range")


def _encode_array(code: str, value: Any, label: str) -> bytes:
    dtype = _ARRAY_DTYPES[code]
    try:
        arr = np.asarray(value)
    except (TypeError, ValueError) as exc:
        raise NanonisValueError(f"{label}: not an array: {exc}") from exc
    if arr.ndim != 1:
        raise NanonisValueError(f"{label}: expected a 1D array, got shape {arr.shape}")
    if dtype.kind in "iu":
        ints = [_check_int(code[0], v.item() if hasattr(v, "item") else v, label) for v in arr]
        body = np.asarray(ints, dtype=dtype).tobytes()
    else:
        arr = arr.astype(np.float64)
        if dtype.itemsize == 4:
            _check_float32(arr, label)
        body = arr.astype(dtype).tobytes()
    return _INT32.pack(len(arr)) + body


def read_values(reader: Reader, codes: Sequence[str]) -> list[Any]:
    return [read_value(reader, code) for code in codes]


def write_values(codes: Sequence[str], values: Sequence[Any], labels: Sequence[str]) -> bytes:
    return b"".join(write_value(c, v, lab) for c, v, lab in zip(codes, values, labels, strict=True))


# --- headers -------------------------------------------------------------------------------


def _encode_name(name: str) -> bytes:
    try:
        raw = name.encode("ascii")
    except UnicodeEncodeError as exc:
        raise NanonisValueError(f"command name {name!r} is not ASCII") from exc
    if not raw or len(raw) > NAME_BYTES or b"\0" in raw:
        raise NanonisValueError(f"command name {name!r} must be 1-{NAME_BYTES} ASCII characters")
    return raw.ljust(NAME_BYTES, b"\0")


def _decode_name(raw: bytes, what: str) -> str:
    stripped = raw.rstrip(b"\0")
    if not stripped or b"\0" in stripped:
        raise NanonisProtocolError(f"{what}: command name field {raw!r} is not a NUL-padded name")
    try:
        return stripped.decode("ascii")
    except UnicodeDecodeError as exc:
        raise NanonisProtocolError(f"{what}: command name {stripped!r} is not ASCII") from exc


def _check_body_size(size: int, what: str) -> int:
    if not 0 <= size <= MAX_BODY_BYTES:
        raise NanonisProtocolError(f"{what}: body size {size} outside [0, {MAX_BODY_BYTES}]")
    return size


@dataclass(frozen=True)
class RequestHeader:
    """A decoded request header: command name, announced body size (bytes), reply wanted."""

    command: str
    body_size: int
    response: bool


def encode_request_header(command: str, body_size: int, response: bool = True) -> bytes:
    return _encode_name(command) + _REQUEST_TAIL.pack(body_size, 1 if response else 0, 0)


def decode_request_header(header: bytes) -> RequestHeader:
    if len(header) != HEADER_BYTES:
        raise NanonisProtocolError(
            f"request header: {len(header)} bytes, expected {HEADER_BYTES}"
        )
    name = _decode_name(header[:NAME_BYTES], "request header")
    size, flag, _pad = _REQUEST_TAIL.unpack(header[NAME_BYTES:])
    return RequestHeader(name, _check_body_size(size, f"request {name}"), flag != 0)


def encode_reply_header(command: str, body_size: int) -> bytes:
    return _encode_name(command) + _REPLY_TAIL.pack(body_size, 0)


def decode_reply_header(header: bytes) -> tuple[str, int]:
    """Decode a reply header into (echoed command name, body size in bytes)."""
    if len(header) != HEADER_BYTES:
        raise NanonisProtocolError(f"reply header: {len(header)} bytes, expected {HEADER_BYTES}")
    name = _decode_name(header[:NAME_BYTES], "reply header")
    size, _pad = _REPLY_TAIL.unpack(header[NAME_BYTES:])
    return name, _check_body_size(size, f"reply {name}")


def split_frame(data: bytes, what: str) -> tuple[bytes, bytes]:
    """Split a complete frame into (header, body), checking the announced body size."""
    if len(data) < HEADER_BYTES:
        raise NanonisProtocolError(f"{what}: {len(data)} bytes, shorter than the 40-byte header")
    (size,) = _INT32.unpack(data[NAME_BYTES : NAME_BYTES + 4])
    if size != len(data) - HEADER_BYTES:
        raise NanonisProtocolError(
            f"{what}: header announces a {size}-byte body, {len(data) - HEADER_BYTES} present"
        )
    return data[:HEADER_BYTES], data[HEADER_BYTES:]


# --- error block ---------------------------------------------------------------------------


def encode_error_block(message: str | None = None) -> bytes:
    """Status 0 with an empty description, or status 1 with ``message``."""
    if message is None:
        return _UINT32.pack(0) + _INT32.pack(0)
    raw = message.encode("utf-8")
    return _UINT32.pack(1) + _INT32.pack(len(raw)) + raw


def read_error_block(reader: Reader) -> tuple[int, str]:
    """Read (status, description); a status other than 0 or 1 is a protocol error."""
    status = reader.scalar("I")
    if status not in (0, 1):
        raise NanonisProtocolError(f"{reader.what}: error status {status}, expected 0 or 1")
    message = _decode_text(reader.take(reader.count("error description length", 1)))
    return status, message
