"""The service's security from outside: httpx against a real ``stm-andreev serve`` process.

Token for a bind beyond loopback (refused without one; every change and, unless
``--open-status``, every read needs it), bounded request bodies, 4xx JSON answers (never a
traceback, in the reply or the log) for malformed requests, and no secret - the service's
token, an SMTP password from the environment - in the status, queue, stream, logs, queue file
or run file."""

from __future__ import annotations

import base64
import json
import socketserver
import subprocess
import sys
import threading
from pathlib import Path

import httpx
import pytest

pytest.importorskip("uvicorn")

from .serving import TOKEN, Served, free_port, sweep_plan  # noqa: E402

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[2]
CHANGES = [
    ("POST", "/api/queue", {"plan_text": "name: x"}),
    ("PATCH", "/api/queue/abc", {"station": "simulated"}),
    ("DELETE", "/api/queue/abc", None),
    ("POST", "/api/queue/abc/move", {"index": 0}),
    ("POST", "/api/queue/abc/skip", None),
    ("POST", "/api/queue/abc/retry", None),
    ("POST", "/api/queue-control/stop-after-current", None),
    ("POST", "/api/queue-control/resume", None),
    ("POST", "/api/run/pause", None),
    ("POST", "/api/run/resume", None),
    ("POST", "/api/run/abort", None),
]
READS = ["/api/status", "/api/queue", "/api/spectrum", "/api/series"]


def _no_traceback(*texts: str) -> None:
    for text in texts:
        assert "Traceback" not in text and 'File "' not in text, text[-2000:]


def _serve_refused(tmp_path, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "stm_andreev.cli", "serve", "--queue", str(tmp_path / "q.json"),
         "--runs", str(tmp_path / "runs"), *args],
        capture_output=True, text=True, timeout=120)


def test_a_bind_beyond_loopback_is_refused_without_a_good_token_file(tmp_path):
    wide = f"0.0.0.0:{free_port()}"
    short = tmp_path / "short"
    short.write_text("tooshort")
    for args, says in (
        (["--bind", wide], "needs --token-file"),
        (["--bind", wide, "--token-file", str(short)], "at least 16 characters"),
        (["--bind", wide, "--token-file", str(tmp_path / "missing")], "missing"),
        (["--bind", "no-port"], "expected HOST:PORT"),
    ):
        done = _serve_refused(tmp_path, *args)
        assert done.returncode == 2, (args, done.stderr)
        assert says in done.stderr and done.stderr.startswith("error: ")
        _no_traceback(done.stdout, done.stderr)


@pytest.mark.parametrize("open_status", [False, True])
def test_beyond_loopback_every_change_needs_the_token_and_reads_unless_opened(tmp_path,
                                                                              open_status):
    served = Served(tmp_path, *(["--open-status"] if open_status else []),
                    host="0.0.0.0").start()
    try:
        for method, path, body in CHANGES:
            for headers in ({}, {"Authorization": "Bearer wrong-token-0123456789"},
                            {"Authorization": TOKEN}, {"Authorization": f"Basic {TOKEN}"}):
                r = httpx.request(method, served.url + path, json=body, headers=headers,
                                  timeout=10)
                assert r.status_code == 401, (method, path, headers, r.text)
                assert "token" in r.json()["error"]
            # the token in the URL opens only the event stream, never a change
            r = httpx.request(method, served.url + path + f"?token={TOKEN}", json=body,
                              timeout=10)
            assert r.status_code == 401, (method, path)
        for path in READS:
            r = httpx.get(served.url + path, timeout=10)
            assert r.status_code == (200 if open_status else 401), (path, r.text)
            assert httpx.get(served.url + path, headers=served.auth, timeout=10).status_code \
                == 200
        with httpx.stream("GET", served.url + "/api/stream", timeout=10) as r:
            assert r.status_code == (200 if open_status else 401)
        with httpx.stream("GET", served.url + f"/api/stream?token={TOKEN}", timeout=10) as r:
            assert r.status_code == 200
            assert next(r.iter_lines()).startswith("event: ")
        assert httpx.get(served.url + "/", timeout=10).status_code == 200  # the page itself
        assert served.get("/api/queue") == []  # nothing was changed
        _no_traceback(served.log())
    finally:
        served.stop()


BAD_REQUESTS = [
    # (method, path, httpx keyword arguments, expected status, words in the message)
    ("POST", "/api/queue", {"content": b"not json", "headers": {"content-type":
                                                                "application/json"}}, 422, ""),
    ("POST", "/api/queue", {"content": b"\xff\xfe\x00garbage",
                            "headers": {"content-type": "application/json"}}, 422, ""),
    ("POST", "/api/queue", {"content": b"[" * 200_000,
                            "headers": {"content-type": "application/json"}}, None, ""),
    ("POST", "/api/queue", {"json": []}, 422, ""),
    ("POST", "/api/queue", {"json": {"plan_text": 5}}, 422, "plan_text"),
    ("POST", "/api/queue", {"json": {"plan_text": "name: x", "evil": 1}}, 422, "evil"),
    ("POST", "/api/queue", {"json": {"plan_text": "name: [unclosed"}}, 422, "plan refused"),
    ("POST", "/api/queue", {"json": {
        "plan_text": "!!python/object/apply:os.system ['touch {pwned}']"}}, 422, "refused"),
    ("POST", "/api/queue", {"json": {"plan_text": "a: &a [x, x, x, x, x, x, x, x, x]\n"
                                     + "".join(f"{c}: &{c} [{', '.join([f'*{p}'] * 9)}]\n"
                                               for p, c in zip("abcdefgh", "bcdefghi", strict=True))}},
     422, "alias"),
    ("POST", "/api/queue", {"json": {"plan_text": sweep_plan("x").replace(
        "I_stop_A: 1.0e-6", "I_stop_A: 1.0")}}, 422, "I_stop_A"),
    ("POST", "/api/queue", {"json": {"plan_text": sweep_plan("x"), "station": "/etc/passwd"}},
     422, "refused"),
    ("POST", "/api/queue", {"json": {"plan_text": "x" * 200_000}}, 422, "plan_text"),
    ("PATCH", "/api/queue/nope", {"json": {"station": "simulated"}}, 404, "nope"),
    ("POST", "/api/queue/nope/move", {"json": {"index": -1}}, 422, "index"),
    ("POST", "/api/queue/nope/move", {"json": {"index": "first"}}, 422, "index"),
    ("POST", "/api/queue/nope/skip", {}, 404, "nope"),
    ("DELETE", "/api/queue/nope", {}, 404, "nope"),
    ("POST", "/api/run/explode", {}, 422, ""),
    ("POST", "/api/run/pause", {}, 409, "no running plan"),
    ("GET", "/api/nothing-here", {}, 404, ""),
    ("PUT", "/api/status", {}, 405, ""),
    ("POST", "/api/queue", {"content": b"{}", "headers": {"content-length": "abc",
                                                         "content-type": "application/json"}},
     400, "Content-Length"),
]


def test_malformed_requests_get_4xx_json_and_nothing_in_the_log(tmp_path):
    served = Served(tmp_path).start()
    pwned = tmp_path / "PWNED"
    try:
        with httpx.Client(headers=served.auth, timeout=60) as client:
            for method, path, kwargs, status, says in BAD_REQUESTS:
                text = kwargs.get("json", {}).get("plan_text") if isinstance(
                    kwargs.get("json"), dict) else None
                if isinstance(text, str):
                    kwargs = {"json": {**kwargs["json"],
                                       "plan_text": text.replace("{pwned}", str(pwned))}}
                try:
                    r = client.request(method, served.url + path, **kwargs)
                except httpx.HTTPError as exc:  # h11 refuses to send a bad header itself
                    assert "content-length" in str(exc).lower(), exc
                    continue
                label = f"{method} {path} {str(kwargs)[:80]}"
                if status is None:
                    assert 400 <= r.status_code < 500, (label, r.status_code, r.text[:300])
                else:
                    assert r.status_code == status, (label, r.text[:300])
                assert r.headers["content-type"].startswith("application/json"), label
                message = r.json()["error"]
                assert says in message, (label, message)
                _no_traceback(r.text)
        assert not pwned.exists()
        assert served.get("/api/queue") == []
        assert served.process.poll() is None
        _no_traceback(served.log())
    finally:
        served.stop()


def test_request_bodies_are_bounded_declared_or_streamed(tmp_path):
    served = Served(tmp_path).start()
    big = json.dumps({"plan_text": "x" * 300_000}).encode()

    def chunks():
        for k in range(0, len(big), 16_384):
            yield big[k:k + 16_384]

    try:
        for kwargs in ({"content": big}, {"content": chunks()}):
            r = httpx.post(served.url + "/api/queue", headers={**served.auth,
                           "content-type": "application/json"}, timeout=60, **kwargs)
            assert r.status_code == 413, r.text
            assert "over 262144 bytes" in r.json()["error"]
        assert served.get("/api/queue") == []
        _no_traceback(served.log())
    finally:
        served.stop()


class FakeSmtp(socketserver.ThreadingTCPServer):
    """A mail server that takes a login (AUTH PLAIN or LOGIN) and a message, and keeps the
    credentials it was sent: proof that the run really used the password."""

    daemon_threads = True
    allow_reuse_address = True

    def __init__(self) -> None:
        self.credentials: list[bytes] = []
        self.messages = 0
        super().__init__(("127.0.0.1", 0), FakeSmtpHandler)


class FakeSmtpHandler(socketserver.StreamRequestHandler):
    def reply(self, line: str) -> None:
        self.wfile.write(line.encode() + b"\r\n")

    def handle(self) -> None:
        server: FakeSmtp = self.server  # type: ignore[assignment]
        self.reply("220 fake ESMTP")
        in_data = False
        while line := self.rfile.readline():
            text = line.decode("latin-1").rstrip("\r\n")
            if in_data:
                if text == ".":
                    in_data = False
                    server.messages += 1
                    self.reply("250 queued")
                continue
            verb = text.split(" ", 1)[0].upper()
            if verb == "EHLO":
                self.wfile.write(b"250-fake\r\n250 AUTH PLAIN LOGIN\r\n")
            elif verb == "AUTH":
                parts = text.split()
                if parts[1].upper() == "PLAIN" and len(parts) > 2:
                    server.credentials.append(base64.b64decode(parts[2]))
                else:  # LOGIN: user and password asked for in turn
                    for _ in range(2 if len(parts) < 3 else 1):
                        self.reply("334 VXNlcm5hbWU6")
                        answer = self.rfile.readline().strip()
                        server.credentials.append(base64.b64decode(answer))
                self.reply("235 ok")
            elif verb == "DATA":
                in_data = True
                self.reply("354 go on")
            elif verb == "QUIT":
                self.reply("221 bye")
                return
            else:
                self.reply("250 ok")


def test_no_secret_in_status_queue_stream_logs_or_run_files(tmp_path):
    smtp_secret = "smtp-password-Zq81xKp3"
    smtp = FakeSmtp()
    threading.Thread(target=smtp.serve_forever, daemon=True).start()
    station = tmp_path / "station.yaml"
    station.write_text((ROOT / "configs" / "simulated.yaml").read_text() + f"""
notifications:
  smtp:
    host: 127.0.0.1
    port: {smtp.server_address[1]}
    from: stm@example.org
    to: [physicist@example.org]
    starttls: false
    username: stm
    password_env: STM_SMTP_PASSWORD
""")
    served = Served(tmp_path, "--station", str(station),
                    env={"STM_SMTP_PASSWORD": smtp_secret}).start()
    try:
        served.post("/api/queue", {"plan_text": sweep_plan("secrets")})
        served.wait_for(lambda s: s["queue_counts"] == {"finished": 1}, "the run's end")
        with httpx.stream("GET", served.url + "/api/stream", headers=served.auth,
                          timeout=30) as r:
            lines = []
            for line in r.iter_lines():
                lines.append(line)
                if line.startswith("data: ") and len(lines) > 6:
                    break
        texts = {
            "status": json.dumps(served.get("/api/status")),
            "queue": json.dumps(served.get("/api/queue")),
            "stream": "\n".join(lines),
            "serve log": served.log(),
            "queue file": served.queue.read_text(),
            "discovery file": Path(f"{served.queue}.service.json").read_text(),
        }
        for path in served.runs.rglob("*"):
            if path.is_file():
                texts[str(path)] = path.read_bytes().decode("latin-1")
        assert any(p.endswith(".h5") for p in texts), texts.keys()
        # The run really logged in with the password and sent its notification ...
        assert any(smtp_secret.encode() in c for c in smtp.credentials), smtp.credentials
        assert smtp.messages >= 1
        # ... and neither secret is anywhere a user or a file can see.
        for where, text in texts.items():
            for secret in (TOKEN, smtp_secret):
                assert secret not in text, f"{secret[:6]}... found in {where}"
    finally:
        served.stop()
        smtp.shutdown()
        smtp.server_close()


def test_a_loopback_service_answers_only_to_loopback_host_names(tmp_path):
    # DNS rebinding: a web page whose name resolves to 127.0.0.1 makes the lab PC's browser
    # send its own name as Host; open reads must not be readable that way.
    served = Served(tmp_path).start()
    try:
        for host in ("attacker.example", "attacker.example:80", "127.0.0.1.nip.io", ""):
            r = httpx.get(served.url + "/api/status", headers={"Host": host}, timeout=30)
            assert r.status_code == 421, (host, r.status_code, r.text[:200])
            assert "loopback" in r.json()["error"]
        for host in (f"127.0.0.1:{served.port}", f"localhost:{served.port}", "localhost"):
            r = httpx.get(served.url + "/api/status", headers={"Host": host}, timeout=30)
            assert r.status_code == 200, (host, r.text[:200])
        _no_traceback(served.log())
    finally:
        served.stop()
