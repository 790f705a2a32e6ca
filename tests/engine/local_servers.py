"""Loopback servers for notification tests: a minimal SMTP server and a JSON webhook receiver.

Both bind 127.0.0.1 on an ephemeral port, serve from a daemon thread and are closed by the
context manager. The SMTP server speaks just enough of RFC 5321 for smtplib: greeting, EHLO/HELO,
MAIL, RCPT, DATA (dot-terminated, dot-unstuffed), RSET, NOOP, QUIT; it never offers STARTTLS.
"""

from __future__ import annotations

import email
import email.policy
import http.server
import json
import socketserver
import threading
from contextlib import contextmanager
from dataclasses import dataclass, field

IO_TIMEOUT_S = 5.0


@dataclass
class Mail:
    sender: str
    recipients: list[str]
    message: email.message.EmailMessage


@dataclass
class SmtpState:
    mails: list[Mail] = field(default_factory=list)
    refuse: set[str] = field(default_factory=set)  # recipients answered with 550
    commands: list[str] = field(default_factory=list)


class _SmtpHandler(socketserver.StreamRequestHandler):
    timeout = IO_TIMEOUT_S

    def reply(self, line: str) -> None:
        self.wfile.write(line.encode("ascii") + b"\r\n")
        self.wfile.flush()

    def handle(self) -> None:
        state: SmtpState = self.server.state  # type: ignore[attr-defined]
        self.reply("220 localhost test SMTP ready")
        sender, recipients = "", []
        while True:
            raw = self.rfile.readline()
            if not raw:
                return
            line = raw.decode("ascii", "replace").rstrip("\r\n")
            verb = line[:4].upper()
            state.commands.append(verb)
            if verb == "EHLO":
                self.reply("250-localhost")
                self.reply("250 8BITMIME")
            elif verb == "HELO":
                self.reply("250 localhost")
            elif verb == "MAIL":
                sender, recipients = _address(line), []
                self.reply("250 OK")
            elif verb == "RCPT":
                address = _address(line)
                if address in state.refuse:
                    self.reply("550 no such user")
                else:
                    recipients.append(address)
                    self.reply("250 OK")
            elif verb == "DATA":
                self.reply("354 end with <CRLF>.<CRLF>")
                lines = []
                while True:
                    data = self.rfile.readline()
                    if not data or data in (b".\r\n", b".\n"):
                        break
                    lines.append(data[1:] if data.startswith(b"..") else data)
                message = email.message_from_bytes(b"".join(lines), policy=email.policy.default)
                state.mails.append(Mail(sender, recipients, message))
                self.reply("250 OK queued")
            elif verb in ("RSET", "NOOP"):
                self.reply("250 OK")
            elif verb == "QUIT":
                self.reply("221 bye")
                return
            else:
                self.reply("502 command not implemented")


def _address(line: str) -> str:
    return line.partition(":")[2].strip().split()[0].strip("<>")


class _Server(socketserver.ThreadingTCPServer):
    daemon_threads = True
    allow_reuse_address = True
    block_on_close = False


@contextmanager
def smtp_server():
    """Yield (port, SmtpState) of a running loopback SMTP server."""
    server = _Server(("127.0.0.1", 0), _SmtpHandler)
    server.state = SmtpState()  # type: ignore[attr-defined]
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05},
                              daemon=True)
    thread.start()
    try:
        yield server.server_address[1], server.state  # type: ignore[attr-defined]
    finally:
        server.shutdown()
        server.server_close()
        thread.join(IO_TIMEOUT_S)


@dataclass
class WebhookState:
    posts: list[dict] = field(default_factory=list)
    headers: list[dict] = field(default_factory=list)
    status: int = 200


class _WebhookHandler(http.server.BaseHTTPRequestHandler):
    timeout = IO_TIMEOUT_S

    def do_POST(self) -> None:  # noqa: N802 - http.server's naming
        state: WebhookState = self.server.state  # type: ignore[attr-defined]
        length = int(self.headers.get("Content-Length", "0"))
        body = self.rfile.read(length)
        state.headers.append(dict(self.headers))
        state.posts.append(json.loads(body))
        self.send_response(state.status)
        self.send_header("Content-Length", "2")
        self.end_headers()
        self.wfile.write(b"ok")

    def log_message(self, format: str, *args) -> None:  # keep test output quiet
        return


@contextmanager
def webhook_server():
    """Yield (url, WebhookState) of a running loopback HTTP server recording JSON POSTs."""
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _WebhookHandler)
    server.daemon_threads = True
    server.state = WebhookState()  # type: ignore[attr-defined]
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05},
                              daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/hook", server.state  # type: ignore[attr-defined]
    finally:
        server.shutdown()
        server.server_close()
        thread.join(IO_TIMEOUT_S)


def closed_port() -> int:
    """A loopback port with nothing listening (bound, then released)."""
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextmanager
def silent_server():
    """Yield the port of a server that accepts connections and never says a word."""
    import socket

    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(4)
    try:
        yield listener.getsockname()[1]
    finally:
        listener.close()
