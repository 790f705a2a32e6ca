"""Who may do what: a bearer token for every change, reads open on loopback or by a flag.

The token is compared in constant time and never logged, stored in the queue or shown in the
status. Without a token file the service makes a random token and writes it (mode 0600) where
local clients (the GUI, a shell) read it; binding beyond loopback needs an explicit token file.
"""

from __future__ import annotations

import hmac
import ipaddress
import logging
import os
import secrets
from pathlib import Path

log = logging.getLogger(__name__)

#: Shortest token accepted from a file: a guessable token would open the station to the network.
MIN_TOKEN_CHARS = 16


class AuthConfigError(Exception):
    """The token file or the bind address cannot be used (message says why)."""


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def read_token_file(path: str | os.PathLike[str]) -> str:
    path = Path(path)
    try:
        token = path.read_text(encoding="utf-8").strip()
    except OSError as exc:
        raise AuthConfigError(f"token file {path}: {exc.strerror or exc}") from exc
    if len(token) < MIN_TOKEN_CHARS:
        raise AuthConfigError(
            f"token file {path}: the token must be at least {MIN_TOKEN_CHARS} characters")
    return token


def make_token_file(path: str | os.PathLike[str]) -> str:
    """A fresh random token written to ``path`` readable by this user only."""
    path = Path(path)
    token = secrets.token_urlsafe(24)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as f:
        f.write(token + "\n")
    os.chmod(path, 0o600)  # an older file may have had wider permissions
    return token


class Auth:
    """:param token: the bearer token every mutating request must carry.
    :param open_reads: status, queue and streams readable without the token."""

    def __init__(self, token: str, *, open_reads: bool) -> None:
        if not token:
            raise AuthConfigError("an empty token would let anyone steer the station")
        self._token = token.encode("utf-8")
        self.open_reads = open_reads

    def __repr__(self) -> str:  # never the token itself
        return f"Auth(open_reads={self.open_reads})"

    def valid(self, presented: str | None) -> bool:
        if not presented:
            return False
        return hmac.compare_digest(presented.encode("utf-8"), self._token)

    @staticmethod
    def bearer(authorization: str | None) -> str | None:
        if not authorization:
            return None
        scheme, _, value = authorization.partition(" ")
        return value.strip() if scheme.lower() == "bearer" else None


def auth_for_bind(host: str, token_file: str | None, *, open_status: bool,
                  default_token_file: str | os.PathLike[str]) -> tuple[Auth, str]:
    """The service's :class:`Auth` for binding to ``host``, and where its token is kept.

    Beyond loopback a token file must be given and reads need the token unless
    ``open_status``; on loopback a missing token file is made at ``default_token_file``, and
    reads are open (anyone on this machine can read the run files anyway).
    """
    loopback = is_loopback(host)
    if token_file:
        token, where = read_token_file(token_file), str(token_file)
    elif not loopback:
        raise AuthConfigError(
            f"binding to {host} (beyond loopback) needs --token-file with a token of at least "
            f"{MIN_TOKEN_CHARS} characters: anything that can move the tip is authenticated")
    else:
        try:
            token = read_token_file(default_token_file)
        except AuthConfigError:
            token = make_token_file(default_token_file)
        where = str(default_token_file)
    return Auth(token, open_reads=open_status or loopback), where
