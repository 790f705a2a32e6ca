"""A small client of a running station service, for the GUI (standard library only).

A service announces itself beside the queue file (``<queue>.service.json``: its URL and the
path of its token file, never the token) and holds the queue's lock while it runs. A client
exists only while both are true, so a GUI falls back to running the queue itself the moment
the service is gone.
"""

from __future__ import annotations

import json
import logging
import os
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

from .queue_store import queue_owned

log = logging.getLogger(__name__)

#: Requests to a local service answer in milliseconds; a hung one must not freeze the GUI long.
TIMEOUT_S = 5.0


class ServiceError(Exception):
    """The service refused a request or could not be reached (message says which and why)."""


def discovery_path(queue_path: str | os.PathLike[str]) -> Path:
    return Path(f"{queue_path}.service.json")


def write_discovery(queue_path: str | os.PathLike[str], url: str, token_file: str) -> Path:
    path = discovery_path(queue_path)
    path.write_text(json.dumps({"url": url, "token_file": str(token_file)}), encoding="utf-8")
    return path


def remove_discovery(queue_path: str | os.PathLike[str]) -> None:
    discovery_path(queue_path).unlink(missing_ok=True)


class ServiceClient:
    def __init__(self, url: str, token: str) -> None:
        self.url = url.rstrip("/")
        self._token = token

    def __repr__(self) -> str:  # never the token
        return f"ServiceClient({self.url!r})"

    @classmethod
    def find(cls, queue_path: str | os.PathLike[str]) -> ServiceClient | None:
        """The service owning ``queue_path`` now, or None (no service: the GUI runs alone)."""
        if not queue_owned(queue_path):
            return None
        try:
            text = discovery_path(queue_path).read_text(encoding="utf-8")
        except FileNotFoundError:  # a GUI runs the queue alone: it announces no service
            log.debug("%s is run by a GUI, not a service", queue_path)
            return None
        except OSError as exc:
            log.warning("a service holds %s but cannot be reached: %s", queue_path, exc)
            return None
        try:
            info = json.loads(text)
            token = Path(info["token_file"]).read_text(encoding="utf-8").strip()
            return cls(str(info["url"]), token)
        except (OSError, ValueError, KeyError, TypeError) as exc:
            log.warning("a service holds %s but cannot be reached: %s", queue_path, exc)
            return None

    def _request(self, method: str, path: str, body: dict[str, Any] | None = None) -> Any:
        data = None if body is None else json.dumps(body).encode("utf-8")
        request = urllib.request.Request(
            self.url + path, data=data, method=method,
            headers={"Authorization": f"Bearer {self._token}",
                     "Content-Type": "application/json"})
        try:
            with urllib.request.urlopen(request, timeout=TIMEOUT_S) as response:
                return json.loads(response.read() or b"null")
        except urllib.error.HTTPError as exc:
            try:
                message = json.loads(exc.read())["error"]
            except (ValueError, KeyError, TypeError):
                message = exc.reason
            raise ServiceError(f"station service: {message}") from exc
        except (urllib.error.URLError, OSError) as exc:
            raise ServiceError(f"station service at {self.url} unreachable: {exc}") from exc

    def add(self, plan_text: str, station: str | None = None) -> dict[str, Any]:
        return self._request("POST", "/api/queue", {"plan_text": plan_text, "station": station})

    def remove(self, item_id: str) -> None:
        self._request("DELETE", f"/api/queue/{item_id}")

    def command(self, what: str) -> None:
        self._request("POST", f"/api/run/{what}")

    def resume_queue(self) -> None:
        self._request("POST", "/api/queue-control/resume")

    def status(self) -> dict[str, Any]:
        return self._request("GET", "/api/status")
