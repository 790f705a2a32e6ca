"""Run notifications: an e-mail and/or a JSON webhook when a run ends, pauses or trips.

The station file's ``notifications`` section (:class:`~stm_andreev.config.station.Notifications`)
names an SMTP server and/or a webhook URL. The engine calls :meth:`Notifier.send` for every
event whose kind is in :attr:`Notifier.kinds`; each message carries the run file, the event and
the last spectrum measured (setpoint, temperature, G_sp), so whoever is woken at 3 am knows
where the run stands without logging in.

A notification must never stop the run it reports on: every failure (server down, refused
login, timeout, missing password variable) is logged and counted, and :meth:`Notifier.send`
returns False instead of raising. Every network call has a timeout (``timeout_s``, 10 s by
default), so a dead server delays the run by at most that per channel.

Webhook body (``Content-Type: application/json``)::

    {"text": "<one line for chat webhooks>", "event": "pause", "message": "...",
     "run": "/data/runs/....h5", "status": "running", "spectra_measured": 12,
     "spectra_planned": 46, "host": "stm-pc", "time_utc": "2026-11-24T03:12:00+00:00",
     "last_spectrum": {"point_index": 11, "setpoint_A": 1e-06, "temperature_K": 0.065,
                       "G_sp_S": 0.000333, "G_sp_G0": 4.30, "time_s": 1234.5}}
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import math
import os
import smtplib
import socket
import ssl
import urllib.error
import urllib.request
from collections.abc import Iterable, Mapping
from email.message import EmailMessage
from pathlib import Path
from typing import Any

from stm_andreev.physics import G0_S
from stm_andreev.redact import redact

log = logging.getLogger(__name__)

#: Event kinds worth waking someone for: the end of a run, a pause, and every interlock.
DEFAULT_KINDS: frozenset[str] = frozenset(
    {
        "finish",
        "pause",
        "failure",
        "abort",
        "interlock",
        "safe_tip",
        "saturation",
        "temperature_ceiling",
        "link_lost",
        "instrument_error",
        "settle_timeout",
    }
)
DEFAULT_TIMEOUT_S = 10.0
SMTPS_PORT = 465  # implicit TLS; any other port uses plain SMTP, upgraded when starttls is set


class NotificationError(Exception):
    """One notification channel could not deliver (the message names the channel and why)."""


def last_spectrum_of(summary: Any) -> dict[str, float] | None:
    """The last spectrum's summary carried by a run summary, or None before the first one.

    Reads ``summary.last_spectrum`` (a mapping with ``setpoint_A``, ``temperature_K``,
    ``G_sp_S``...) and adds ``G_sp_G0`` (G_sp in units of 2e^2/h) when G_sp is known.
    """
    last = getattr(summary, "last_spectrum", None)
    if not last:
        return None
    out = {k: _plain_number(v) for k, v in dict(last).items()}
    g = out.get("G_sp_S")
    if isinstance(g, float) and math.isfinite(g) and "G_sp_G0" not in out:
        out["G_sp_G0"] = g / G0_S
    return out


def _plain_number(value: Any) -> Any:
    """JSON-safe scalars: numpy numbers as Python ones, NaN/inf as None."""
    if hasattr(value, "item"):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


class Notifier:
    """Sends run events by e-mail (smtplib) and/or JSON POST (urllib), never raising.

    :param config: the station's ``notifications`` section (``smtp`` and/or ``webhook``).
    :param kinds: the event kinds to send (default :data:`DEFAULT_KINDS`).
    :param timeout_s: network timeout per channel and message, s (0 < timeout <= 120).
    :param environ: where ``smtp.password_env`` is looked up (default ``os.environ``).
    """

    def __init__(
        self,
        config: Any,
        *,
        kinds: Iterable[str] | None = None,
        timeout_s: float = DEFAULT_TIMEOUT_S,
        environ: Mapping[str, str] | None = None,
    ) -> None:
        if not 0 < timeout_s <= 120:
            raise ValueError(f"timeout_s must be in (0, 120] s, got {timeout_s!r}")
        self.smtp = getattr(config, "smtp", None)
        self.webhook = getattr(config, "webhook", None)
        self.kinds: set[str] = set(DEFAULT_KINDS if kinds is None else kinds)
        self.timeout_s = float(timeout_s)
        self.environ = os.environ if environ is None else environ
        #: (channel, kind) of every message delivered, in order
        self.delivered: list[tuple[str, str]] = []
        #: (channel, kind, reason) of every message that failed, in order
        self.failures: list[tuple[str, str, str]] = []

    @property
    def channels(self) -> list[str]:
        """The configured channels: ``"smtp"`` and/or ``"webhook"``."""
        return [name for name in ("smtp", "webhook") if getattr(self, name) is not None]

    # ----------------------------------------------------------------- public
    def send(
        self,
        kind: str,
        message: str,
        summary: Any = None,
        *,
        last_spectrum: Mapping[str, Any] | None = None,
    ) -> bool:
        """Send one event on every configured channel; True if all of them delivered.

        :param kind: the event kind (``finish``, ``pause``, ``safe_tip``...).
        :param message: the event text as written to the run's event log.
        :param summary: the engine's RunSummary (run path, status, counts, last spectrum);
            None sends the event alone.
        :param last_spectrum: the last spectrum's summary (``setpoint_A``, ``temperature_K``,
            ``G_sp_S``...) when the caller has it and ``summary`` does not carry it.
        """
        try:
            payload = self.payload(kind, message, summary, last_spectrum=last_spectrum)
        except Exception as exc:  # a malformed summary must not cost the message
            log.exception("notification: could not summarise the run")
            payload = {"event": kind, "message": message, "text": f"{kind}: {message}",
                       "summary_error": str(exc)}
        ok = True
        for channel, deliver in (("smtp", self._send_mail), ("webhook", self._post_webhook)):
            if getattr(self, channel) is None:
                continue
            try:
                deliver(payload)
            except Exception as exc:  # whatever the network does, the run goes on
                reason = redact(f"{type(exc).__name__}: {exc}")  # URLs may hold credentials
                log.error("notification of %r by %s failed: %s", kind, channel, reason)
                self.failures.append((channel, kind, reason))
                ok = False
            else:
                log.info("notification of %r sent by %s", kind, channel)
                self.delivered.append((channel, kind))
        return ok

    def payload(
        self,
        kind: str,
        message: str,
        summary: Any = None,
        *,
        last_spectrum: Mapping[str, Any] | None = None,
    ) -> dict[str, Any]:
        """The JSON-ready content of one notification (see the module docstring)."""
        run = getattr(summary, "path", None)
        body: dict[str, Any] = {
            "event": kind,
            "message": message,
            "run": None if run is None else str(run),
            "host": socket.gethostname(),
            "time_utc": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        }
        if summary is not None:
            body["status"] = getattr(summary, "status", None)
            body["spectra_measured"] = _count(summary)
            body["spectra_planned"] = getattr(summary, "planned", None)
        if last_spectrum is not None:
            summary = _WithLast(last_spectrum)
        body["last_spectrum"] = last_spectrum_of(summary)
        body["text"] = self._one_line(body)
        return body

    # ----------------------------------------------------------------- text
    @staticmethod
    def _one_line(body: Mapping[str, Any]) -> str:
        name = Path(body["run"]).name if body.get("run") else "run"
        text = f"stm-andreev {name}: {body['event']} - {body['message']}"
        if body.get("spectra_planned") is not None:
            text += f" [{body.get('spectra_measured')}/{body['spectra_planned']} spectra]"
        last = body.get("last_spectrum")
        if last:
            text += " last: " + _last_text(last)
        return text

    def _mail_text(self, body: Mapping[str, Any]) -> str:
        lines = [
            f"Event:    {body['event']}",
            f"Message:  {body['message']}",
            f"Run file: {body.get('run') or '-'}",
            f"Host:     {body.get('host')}",
            f"Time:     {body.get('time_utc')} (UTC)",
        ]
        if body.get("status") is not None:
            lines.append(f"Status:   {body['status']}")
        if body.get("spectra_planned") is not None:
            lines.append(
                f"Spectra:  {body.get('spectra_measured')} of {body['spectra_planned']} planned"
            )
        last = body.get("last_spectrum")
        lines.append("Last spectrum: " + (_last_text(last) if last else "none yet"))
        lines += ["", "Pause, resume or abort: stm-andreev control, or append a line to",
                  f"{body.get('run') or '<run file>'}.control"]
        return "\n".join(lines) + "\n"

    # ----------------------------------------------------------------- channels
    def _send_mail(self, body: Mapping[str, Any]) -> None:
        cfg = self.smtp
        msg = EmailMessage()
        name = Path(body["run"]).name if body.get("run") else "run"
        msg["Subject"] = f"[stm-andreev] {body['event']}: {name}"
        msg["From"] = cfg.from_
        msg["To"] = ", ".join(cfg.to)
        msg.set_content(self._mail_text(body))
        password = None
        if cfg.username is not None:
            if cfg.password_env is None:
                raise NotificationError(
                    f"smtp.username {cfg.username!r} is set but smtp.password_env is not"
                )
            password = self.environ.get(cfg.password_env)
            if password is None:
                raise NotificationError(
                    f"environment variable {cfg.password_env} (smtp.password_env) is not set"
                )
        if cfg.port == SMTPS_PORT:
            server: smtplib.SMTP = smtplib.SMTP_SSL(
                cfg.host, cfg.port, timeout=self.timeout_s, context=ssl.create_default_context()
            )
        else:
            server = smtplib.SMTP(cfg.host, cfg.port, timeout=self.timeout_s)
        with server:
            server.ehlo()
            if cfg.starttls and cfg.port != SMTPS_PORT:
                # Refuse to send a password or lab details in clear if TLS was asked for.
                server.starttls(context=ssl.create_default_context())
                server.ehlo()
            if password is not None:
                server.login(cfg.username, password)
            refused = server.send_message(msg)
        if refused:
            raise NotificationError(f"the mail server refused recipients: {sorted(refused)}")

    def _post_webhook(self, body: Mapping[str, Any]) -> None:
        url = self.webhook.url
        data = json.dumps(body, allow_nan=False).encode("utf-8")
        request = urllib.request.Request(
            url,
            data=data,
            method="POST",
            headers={"Content-Type": "application/json", "User-Agent": "stm-andreev"},
        )
        try:
            with urllib.request.urlopen(request, timeout=self.timeout_s) as reply:
                status = reply.status
        except urllib.error.HTTPError as exc:
            raise NotificationError(f"webhook {url} answered HTTP {exc.code} {exc.reason}") from exc
        except urllib.error.URLError as exc:
            raise NotificationError(f"webhook {url} unreachable: {exc.reason}") from exc
        if not 200 <= status < 300:
            raise NotificationError(f"webhook {url} answered HTTP {status}")


class _WithLast:
    """A stand-in summary carrying only a last spectrum given to :meth:`Notifier.send`."""

    def __init__(self, last: Mapping[str, Any]) -> None:
        self.last_spectrum = last


def _count(summary: Any) -> int | None:
    measured = getattr(summary, "measured", None)
    if measured is None:
        return None
    return int(measured) + int(getattr(summary, "already_done", 0) or 0)


def _last_text(last: Mapping[str, Any]) -> str:
    parts = []
    if last.get("setpoint_A") is not None:
        parts.append(f"I_sp = {last['setpoint_A']:.3g} A")
    if last.get("temperature_K") is not None:
        parts.append(f"T = {last['temperature_K'] * 1e3:.1f} mK")
    if last.get("G_sp_G0") is not None:
        parts.append(f"G_sp = {last['G_sp_G0']:.3g} G0")
    if last.get("point_index") is not None:
        parts.append(f"point {last['point_index']}")
    return ", ".join(parts) or "-"
