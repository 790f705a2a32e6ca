"""Every endpoint of the service's HTTP API (TestClient, fake launcher, a real run file):
answers, auth, malformed and oversized bodies, no tracebacks, no token in any answer."""

from __future__ import annotations

import asyncio
import json

import pytest

pytest.importorskip("fastapi")
pytest.importorskip("httpx")

from fastapi.testclient import TestClient  # noqa: E402

from stm_andreev import cli  # noqa: E402
from stm_andreev.service.api import create_app  # noqa: E402
from stm_andreev.service.auth import (  # noqa: E402
    Auth,
    AuthConfigError,
    auth_for_bind,
)
from stm_andreev.service.core import StationService  # noqa: E402
from stm_andreev.service.limits import MAX_BODY_BYTES, host_name  # noqa: E402
from stm_andreev.service.streaming import event_stream  # noqa: E402

from .conftest import QUICK_PLAN, ROOT, plan_named  # noqa: E402

TOKEN = "t0ken-for-the-api-tests-0123456789"
AUTH = {"Authorization": f"Bearer {TOKEN}"}


@pytest.fixture(scope="module")
def finished_run(tmp_path_factory):
    out = tmp_path_factory.mktemp("run")
    code = cli.main(["run", str(ROOT / "configs" / "plans" / "quick.yaml"), "--out", str(out),
                     "--quiet", "--no-report"])
    assert code == 0
    return next(out.glob("*.h5"))


@pytest.fixture
def service(supervisor):
    return StationService(supervisor)


def client_for(service, *, open_reads: bool) -> TestClient:
    return TestClient(create_app(service, Auth(TOKEN, open_reads=open_reads)),
                      raise_server_exceptions=False)


@pytest.fixture
def client(service):
    return client_for(service, open_reads=False)


def _add(client, name="a") -> str:
    r = client.post("/api/queue", headers=AUTH, json={"plan_text": plan_named(name)})
    assert r.status_code == 201, r.text
    return r.json()["id"]


# ---------------------------------------------------------------------- reads
def test_page_static_files_and_openapi(client):
    assert "stm-andreev station" in client.get("/").text
    assert "EventSource" in client.get("/static/app.js").text
    assert client.get("/static/style.css").status_code == 200
    spec = client.get("/openapi.json").json()
    assert "/api/queue" in spec["paths"] and "/api/run/{command}" in spec["paths"]
    assert client.get("/docs").status_code == 200


def test_status_queue_spectrum_series_of_a_followed_run(client, service, finished_run):
    _add(client, "first")
    service.monitor.follow(finished_run)
    service.monitor.poll()
    status = client.get("/api/status", headers=AUTH).json()
    run = status["run"]
    assert (run["status"], run["done"], run["planned"]) == ("finished", 5, 5)
    assert run["eta_s"] == 0.0 and run["point"]["point_index"] == 4
    assert run["temperatures_K"]["after"] == pytest.approx(1.0, abs=0.1)
    assert run["film_R_ohm"] is None and "not recorded" in run["film_R_note"]
    assert [e["kind"] for e in run["events"]][0] == "start"
    assert run["interlock"]["level"] == ""
    assert status["queue_counts"] == {"queued": 1}
    queue = client.get("/api/queue", headers=AUTH).json()
    assert [i["plan_name"] for i in queue] == ["first"]
    spectrum = client.get("/api/spectrum", headers=AUTH).json()
    assert spectrum["row"] == 4 and len(spectrum["bias_V"]) == len(spectrum["G_G0"]) == 41
    series = client.get("/api/series", headers=AUTH).json()
    assert [r["point_index"] for r in series] == [0, 1, 2, 3, 4]
    assert series[0]["setpoint_A"] == pytest.approx(1e-9)


def test_event_stream_sends_series_status_and_spectrum(service, finished_run):
    service.monitor.follow(finished_run)
    service.monitor.poll()

    async def collect():
        async def never():
            return False
        return [c async for c in event_stream(service, never, tick_s=0.01, max_events=3)]

    chunks = asyncio.run(collect())
    kinds = [c.split("\n", 1)[0] for c in chunks]
    assert kinds == ["event: series", "event: status", "event: spectrum"]
    series = json.loads(chunks[0].split("data: ", 1)[1])
    assert len(series["rows"]) == 5
    spectrum = json.loads(chunks[2].split("data: ", 1)[1])
    assert spectrum["row"] == 4 and spectrum["new_rows"] == []


# ---------------------------------------------------------------------- changes
def test_add_edit_move_remove(client):
    a, b, c = (_add(client, n) for n in "abc")
    r = client.patch(f"/api/queue/{b}", headers=AUTH, json={"plan_text": plan_named("b2")})
    assert r.status_code == 200 and r.json()["plan_name"] == "b2"
    r = client.post(f"/api/queue/{c}/move", headers=AUTH, json={"index": 0})
    assert [i["id"] for i in r.json()] == [c, a, b]
    assert client.delete(f"/api/queue/{a}", headers=AUTH).json() == {"removed": a}
    assert [i["plan_name"] for i in client.get("/api/queue", headers=AUTH).json()] == ["c", "b2"]


def test_skip_retry_and_queue_control(client, supervisor, launcher):
    a = _add(client, "a")
    _add(client, "b")
    supervisor.step()
    launcher.end(a, 1)
    supervisor.step()
    assert "skip or retry" in client.get("/api/status", headers=AUTH).json()["queue_hold"]
    r = client.post(f"/api/queue/{a}/retry", headers=AUTH)
    assert r.status_code == 201 and r.json()["retry_of"] == a
    retry_id = r.json()["id"]
    supervisor.step()
    launcher.end(retry_id, 1)
    supervisor.step()
    assert client.post(f"/api/queue/{retry_id}/skip", headers=AUTH).json() == {
        "skipped": retry_id}
    r = client.post("/api/queue-control/stop-after-current", headers=AUTH)
    assert r.status_code == 200 and "stopped after" in r.json()["queue_hold"]
    assert client.post("/api/queue-control/resume", headers=AUTH).json() == {"queue_hold": ""}


def test_run_commands_go_to_the_control_file(client, supervisor, finished_run):
    a = _add(client, "a")
    assert client.post("/api/run/pause", headers=AUTH).status_code == 409  # nothing running
    supervisor.step()
    supervisor.queue.update(supervisor.queue.get(a), run_path=str(finished_run))
    for command in ("pause", "resume", "abort"):
        r = client.post(f"/api/run/{command}", headers=AUTH)
        assert r.status_code == 200 and r.json()["sent"] == command
    control = finished_run.with_name(finished_run.name + ".control")
    assert control.read_text().split() == ["pause", "resume", "abort"]


# ---------------------------------------------------------------------- auth
MUTATIONS = [
    ("post", "/api/queue", {"plan_text": QUICK_PLAN}),
    ("delete", "/api/queue/x", None),
    ("patch", "/api/queue/x", {"plan_text": QUICK_PLAN}),
    ("post", "/api/queue/x/move", {"index": 0}),
    ("post", "/api/queue/x/skip", None),
    ("post", "/api/queue/x/retry", None),
    ("post", "/api/queue-control/stop-after-current", None),
    ("post", "/api/queue-control/resume", None),
    ("post", "/api/run/pause", None),
    ("post", "/api/run/resume", None),
    ("post", "/api/run/abort", None),
]
READS = ["/api/status", "/api/queue", "/api/spectrum", "/api/series", "/api/stream"]


@pytest.mark.parametrize("open_reads", [False, True])
@pytest.mark.parametrize("headers", [{}, {"Authorization": "Bearer wrong-token-xxxxxxxxxx"},
                                     {"Authorization": f"Basic {TOKEN}"}])
@pytest.mark.parametrize(("method", "path", "body"), MUTATIONS)
def test_every_change_needs_the_token(service, open_reads, headers, method, path, body):
    client = client_for(service, open_reads=open_reads)
    r = client.request(method, path, headers=headers, json=body)
    assert r.status_code == 401 and "token" in r.json()["error"]
    assert service.supervisor.queue.items == []


@pytest.mark.parametrize("path", READS)
def test_reads_need_the_token_unless_opened(service, path):
    closed = client_for(service, open_reads=False)
    assert closed.get(path).status_code == 401
    if path != "/api/stream":  # an endless stream; its opening is tested with a server
        assert closed.get(path, headers=AUTH).status_code == 200
        assert closed.get(path, params={"token": TOKEN}).status_code == 200
        assert client_for(service, open_reads=True).get(path).status_code == 200


def test_beyond_loopback_needs_a_token_file_and_closes_reads(tmp_path):
    with pytest.raises(AuthConfigError, match="beyond loopback"):
        auth_for_bind("0.0.0.0", None, open_status=False, default_token_file=tmp_path / "t")
    short = tmp_path / "short"
    short.write_text("abc")
    with pytest.raises(AuthConfigError, match="at least 16"):
        auth_for_bind("192.168.1.5", str(short), open_status=False,
                      default_token_file=tmp_path / "t")
    good = tmp_path / "good"
    good.write_text(TOKEN + "\n")
    auth, where = auth_for_bind("192.168.1.5", str(good), open_status=False,
                                default_token_file=tmp_path / "t")
    assert auth.valid(TOKEN) and not auth.open_reads and where == str(good)
    assert auth_for_bind("0.0.0.0", str(good), open_status=True,
                         default_token_file=tmp_path / "t")[0].open_reads
    assert TOKEN not in repr(auth)


def test_loopback_makes_a_private_token_and_keeps_it(tmp_path):
    path = tmp_path / "d" / "service.token"
    auth, where = auth_for_bind("127.0.0.1", None, open_status=False, default_token_file=path)
    token = path.read_text().strip()
    assert auth.valid(token) and auth.open_reads and where == str(path)
    assert path.stat().st_mode & 0o777 == 0o600
    again, _ = auth_for_bind("localhost", None, open_status=False, default_token_file=path)
    assert again.valid(token)


def test_serve_refuses_a_wide_bind_without_a_token(tmp_path, capsys):
    code = cli.main(["serve", "--bind", "0.0.0.0:8719", "--queue", str(tmp_path / "q.json")])
    assert code == 2
    assert "needs --token-file" in capsys.readouterr().err
    code = cli.main(["serve", "--bind", "nonsense", "--queue", str(tmp_path / "q.json")])
    assert code == 2 and "HOST:PORT" in capsys.readouterr().err


# ---------------------------------------------------------------------- bad requests
@pytest.mark.parametrize(("method", "path", "kwargs", "status", "words"), [
    ("post", "/api/queue", {"content": b"{not json", "headers": {"Content-Type":
                                                                  "application/json"}},
     422, "JSON"),
    ("post", "/api/queue", {"json": {"plan": "x"}}, 422, "plan_text"),
    ("post", "/api/queue", {"json": {"plan_text": ""}}, 422, "plan_text"),
    ("post", "/api/queue", {"json": ["a list"]}, 422, "bad request"),
    ("post", "/api/queue", {"json": {"plan_text": "name: x\nsteps: []"}}, 422, "steps"),
    ("post", "/api/queue", {"json": {"plan_text": "!!python/object:os.system 'ls'"}}, 422,
     "plan refused"),
    ("post", "/api/queue", {"json": {"plan_text": QUICK_PLAN, "station": "no-such"}}, 422,
     "no-such"),
    ("post", "/api/queue/x/move", {"json": {"index": -1}}, 422, "index"),
    ("post", "/api/queue/x/move", {"json": {"index": "first"}}, 422, "index"),
    ("post", "/api/queue/x/move", {"json": {"index": 0}}, 404, "no queue item"),
    ("patch", "/api/queue/x", {"json": {}}, 422, "nothing to change"),
    ("patch", "/api/queue/x", {"json": {"plan_text": QUICK_PLAN}}, 404, "no queue item"),
    ("delete", "/api/queue/x", {}, 404, "no queue item"),
    ("post", "/api/queue/x/skip", {}, 404, "no queue item"),
    ("post", "/api/run/explode", {}, 422, "pause"),
    ("get", "/api/nothing", {}, 404, "Not Found"),
])
def test_bad_requests_get_4xx_json_without_a_traceback(client, method, path, kwargs, status,
                                                       words):
    headers = {**AUTH, **kwargs.pop("headers", {})}
    r = client.request(method, path, headers=headers, **kwargs)
    assert r.status_code == status, r.text
    message = r.json()["error"]
    assert words in message
    assert "Traceback" not in r.text and TOKEN not in r.text


def test_oversized_bodies_are_refused_before_they_are_read(client):
    big = {"plan_text": "#" * (MAX_BODY_BYTES + 10)}
    r = client.post("/api/queue", headers=AUTH, json=big)
    assert r.status_code == 413 and "body over" in r.json()["error"]

    def chunks():  # no Content-Length: counted as it arrives
        for _ in range(MAX_BODY_BYTES // 4096 + 2):
            yield b" " * 4096

    r = client.post("/api/queue", headers={**AUTH, "Content-Type": "application/json"},
                    content=chunks())
    assert r.status_code == 413


def test_an_unexpected_error_is_a_500_with_a_message_not_a_traceback(client, supervisor,
                                                                     monkeypatch, caplog):
    def broken():
        raise RuntimeError("disk on fire")

    monkeypatch.setattr(supervisor, "resume_queue", broken)
    r = client.post("/api/queue-control/resume", headers=AUTH)
    assert r.status_code == 500 and r.json()["error"].startswith("internal error (RuntimeError)")
    assert "disk on fire" not in r.text and "disk on fire" in caplog.text


def test_status_and_queue_carry_no_token(client, service, finished_run):
    _add(client)
    service.monitor.follow(finished_run)
    service.monitor.poll()
    for path in READS[:-1]:
        assert TOKEN not in client.get(path, headers=AUTH).text


def test_host_name_of_a_host_header():
    assert host_name(b"localhost:8000") == "localhost"
    assert host_name(b"[::1]:8000") == "[::1]"
    assert host_name(b"127.0.0.1") == "127.0.0.1"
    assert host_name(b"Evil.Example:80") == "evil.example"
    assert host_name(b"") is None and host_name(None) is None
