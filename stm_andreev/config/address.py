"""Instrument addresses: which forms each driver accepts, checked before anything connects.

VISA resource strings (``GPIB0::8::INSTR``, ``TCPIP::192.0.2.10::7777::SOCKET``,
``ASRL/dev/ttyUSB0::INSTR``, ``TCPIP::host::inst0::INSTR``, ``USB0::0x...::INSTR``) are
matched case-insensitively as VISA does; the Nanonis controller is reached by ``host:port``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

_LABEL = r"(?!-)[A-Za-z0-9-]{1,63}(?<!-)"
_HOST = rf"(?:{_LABEL}(?:\.{_LABEL})*)"

_FORMS: dict[str, tuple[re.Pattern[str], str]] = {
    "gpib": (re.compile(r"^GPIB(\d*)::(?P<primary>\d+)(?:::(?P<secondary>\d+))?::INSTR$", re.I),
             "GPIB0::8::INSTR"),
    "tcp_socket": (re.compile(rf"^TCPIP(\d*)::(?P<host>{_HOST})::(?P<port>\d+)::SOCKET$", re.I),
                   "TCPIP::192.0.2.10::7777::SOCKET"),
    "tcpip_instr": (re.compile(rf"^TCPIP(\d*)::(?P<host>{_HOST})(?:::[A-Za-z0-9_,.]+)?::INSTR$",
                               re.I), "TCPIP::192.0.2.20::inst0::INSTR"),
    "asrl": (re.compile(r"^ASRL(?P<device>[^:\s]+)::INSTR$", re.I), "ASRL/dev/ttyUSB0::INSTR"),
    "usb": (re.compile(r"^USB(\d*)::(0x[0-9A-F]+|\d+)::(0x[0-9A-F]+|\d+)::[^:\s]+"
                       r"(?:::\d+)?::INSTR$", re.I), "USB0::0xB506::0x2000::002711::INSTR"),
    "host_port": (re.compile(rf"^(?P<host>{_HOST}):(?P<port>\d+)$"), "127.0.0.1:6501"),
}

# Which interfaces each driver can be reached through (including the simulators' TCP sockets).
DRIVER_INTERFACES: dict[str, tuple[str, ...]] = {
    "sr830": ("gpib", "asrl", "tcp_socket"),
    "sr860": ("gpib", "tcp_socket", "tcpip_instr", "usb", "asrl"),
    "lakeshore372": ("tcp_socket", "asrl", "gpib"),
    "nanonis": ("host_port",),
    "sr570": ("asrl", "tcp_socket"),
}


class AddressError(ValueError):
    """An instrument address does not have a form its driver can use."""


@dataclass(frozen=True)
class Address:
    """A validated address: its interface kind and, for network forms, host and port."""

    text: str
    interface: str
    host: str | None = None
    port: int | None = None


def _check_host(host: str) -> None:
    parts = host.split(".")
    if all(p.isdigit() for p in parts) and (len(parts) != 4 or any(int(p) > 255 for p in parts)):
        raise AddressError(f"{host!r} is not a valid IPv4 address")


def parse_address(text: str, driver: str) -> Address:
    """Parse ``text`` for ``driver``; raise :class:`AddressError` saying which forms fit."""
    allowed = DRIVER_INTERFACES[driver]
    for interface, (pattern, _example) in _FORMS.items():
        match = pattern.match(text.strip())
        if match is None:
            continue
        if interface not in allowed:
            break
        groups = match.groupdict()
        host = groups.get("host")
        port = int(groups["port"]) if groups.get("port", "").isdigit() else None
        if host is not None:
            _check_host(host)
        if port is not None and not 1 <= port <= 65535:
            raise AddressError(f"port {port} is outside 1..65535")
        if interface == "gpib" and not 0 <= int(groups["primary"]) <= 30:
            raise AddressError(f"GPIB primary address {groups['primary']} is outside 0..30")
        return Address(text=text.strip(), interface=interface, host=host, port=port)
    examples = " or ".join(repr(_FORMS[i][1]) for i in allowed)
    raise AddressError(f"{text!r} is not an address a {driver} can use; expected e.g. {examples}")
