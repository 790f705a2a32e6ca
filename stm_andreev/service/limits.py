"""A bound on request bodies, enforced while they arrive (a missing or lying Content-Length
does not get past it)."""

from __future__ import annotations

import json

#: Largest request body (bytes): a plan YAML is a few kB.
MAX_BODY_BYTES = 256 * 1024


class BodyLimitMiddleware:
    """ASGI middleware answering 413 to a body over ``max_bytes``."""

    def __init__(self, app, max_bytes: int = MAX_BODY_BYTES) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = dict(scope.get("headers") or [])
        declared = headers.get(b"content-length")
        if declared is not None:
            try:
                too_big = int(declared) > self.max_bytes
            except ValueError:
                await _reply(send, 400, "bad Content-Length header")
                return
            if too_big:
                await _reply(send, 413, f"request body over {self.max_bytes} bytes")
                return
        # Read the whole body first (it is small by rule): a body that grows past the limit
        # is answered 413 before the application sees any of it.
        chunks: list[bytes] = []
        seen = 0
        while True:
            message = await receive()
            if message["type"] != "http.request":
                return  # the client went away
            chunk = message.get("body", b"")
            seen += len(chunk)
            if seen > self.max_bytes:
                await _reply(send, 413, f"request body over {self.max_bytes} bytes")
                return
            chunks.append(chunk)
            if not message.get("more_body", False):
                break
        body = b"".join(chunks)
        replayed = False

        async def replay():
            nonlocal replayed
            if not replayed:
                replayed = True
                return {"type": "http.request", "body": body, "more_body": False}
            return await receive()  # after the body: disconnect notices for streams

        await self.app(scope, replay, send)


async def _reply(send, status: int, message: str) -> None:
    body = json.dumps({"error": message}).encode()
    await send({"type": "http.response.start", "status": status,
                "headers": [(b"content-type", b"application/json"),
                            (b"content-length", str(len(body)).encode())]})
    await send({"type": "http.response.body", "body": body})


#: Host names a loopback-bound service answers to.
LOOPBACK_HOSTS = frozenset({"localhost", "127.0.0.1", "[::1]", "::1"})


def host_name(header: bytes | None) -> str | None:
    """The host part of a Host header (port removed; IPv6 keeps its brackets), lower case."""
    if not header:
        return None
    text = header.decode("latin-1").strip().lower()
    if text.startswith("["):
        end = text.find("]")
        return text[:end + 1] if end > 0 else None
    return text.rsplit(":", 1)[0] if text.count(":") == 1 else text


class LoopbackHostMiddleware:
    """ASGI middleware answering 421 to a request whose Host header is not a loopback name.

    Why: a service on 127.0.0.1 with open reads is reachable from any web page the lab PC's
    browser shows, by DNS rebinding (attacker.example resolving to 127.0.0.1): the browser then
    sends ``Host: attacker.example``. Checking the Host header closes that door; a service bound
    beyond loopback needs the token for everything anyway."""

    def __init__(self, app) -> None:
        self.app = app

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        host = host_name(dict(scope.get("headers") or []).get(b"host"))
        if host not in LOOPBACK_HOSTS:
            shown = (host or "none")[:80]
            await _reply(send, 421, f"Host {shown!r} is not this service's loopback address; "
                                    "use http://127.0.0.1:PORT/")
            return
        await self.app(scope, receive, send)
