"""Credentials out of everything the project stores or logs.

A station file may carry a webhook URL with ``user:password@`` or ``?token=...`` in it. The
station text is stored in every run file (``entry/config/station_text``) and a failed
notification names its URL in the log; both go through :func:`redact` first, which replaces
the secret part and keeps the rest (host, path, key names) so the text still says what was
configured.
"""

from __future__ import annotations

import re

MARK = "***"

# scheme://user:password@host -> scheme://***@host (a user name alone is kept)
_USERINFO = re.compile(r"(?P<scheme>\b[a-zA-Z][a-zA-Z0-9+.-]*://)(?P<user>[^\s/@:]*):[^\s/@]*@")
# Key names that hold secrets: one of these words as a whole segment of the key
# (``webhook_token``, ``api-key``), so ``lockin_x_signal`` or ``monkey`` are left alone.
_SECRET_WORDS = r"(?:pass|password|passwd|pwd|secret|token|apikey|key|auth|authorization|" \
                r"credential|credentials|signature)"
_KEY = rf"(?:[A-Za-z0-9]+[_.-])*{_SECRET_WORDS}(?:[_.-](?!env\b)[A-Za-z0-9]+)*(?![A-Za-z0-9])"
# key=value in a query string or a form
_QUERY = re.compile(rf"(?P<key>[?&;]{_KEY}=)(?P<value>[^&#\s\"']+)", re.IGNORECASE)
# YAML/INI/JSON "key: value" / "key = value" (not ``*_env`` keys: they hold the *name* of an
# environment variable)
_ASSIGN = re.compile(
    rf"(?P<key>(?:^|(?<=[\s{{,]))[\"']?{_KEY}(?<!_env)[\"']?\s*[:=]\s*)"
    r"(?P<value>[\"']?[^\s\"',}#][^\"',}#\n]*[\"']?)",
    re.IGNORECASE | re.MULTILINE,
)
# HTTP authorization values
_BEARER = re.compile(r"(?P<key>\b(?:Bearer|Basic)\s+)(?P<value>[A-Za-z0-9._~+/=-]{8,})")


def redact(text: str) -> str:
    """``text`` with passwords, tokens and keys replaced by ``***``."""
    if not text:
        return text
    text = _USERINFO.sub(lambda m: f"{m['scheme']}{m['user']}:{MARK}@", text)
    text = _QUERY.sub(lambda m: f"{m['key']}{MARK}", text)
    text = _ASSIGN.sub(_assignment, text)
    return _BEARER.sub(lambda m: f"{m['key']}{MARK}", text)


def _assignment(m: re.Match) -> str:
    value = m["value"]
    if value.strip("\"'").lower() in ("null", "none", "~", "", "true", "false"):
        return m.group(0)
    return f"{m['key']}{MARK}"
