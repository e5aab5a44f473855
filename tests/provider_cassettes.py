"""Replays tests/recorded/http/*.json through httpx.MockTransport, on a fake clock.

A cassette is {"description", "interactions": [{"name", "note", "request": {"method",
"path", "query"}, "response": {"status", "headers", "json" | "text"}}]}. A request is
answered by the first interaction whose path equals the request's path and whose
query items are all in the request's query; path "*" entries (error bodies) are only
used through a script. A script ({path or "*": [interaction name | exception, ...]})
answers the next matching requests first, so "429, then the recorded answer" is
`{"/v2/aggs/ticker/AAPL/...": ["error_429"]}`. An unrecorded request fails the test.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import httpx

CASSETTES = Path(__file__).parent / "recorded" / "http"


def cassette(name: str) -> dict[str, dict[str, Any]]:
    data = json.loads((CASSETTES / f"{name}.json").read_text())
    return {i["name"]: i for i in data["interactions"]}


def response_of(interaction: dict[str, Any]) -> httpx.Response:
    r = interaction["response"]
    if "json" in r:
        return httpx.Response(r["status"], json=r["json"], headers=r["headers"])
    return httpx.Response(r["status"], text=r["text"], headers=r["headers"])


class FakeClock:
    """monotonic() and sleep() for the code under test: sleeping advances time at once."""

    def __init__(self) -> None:
        self.now = 0.0
        self.sleeps: list[float] = []

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        assert seconds >= 0, seconds
        self.sleeps.append(seconds)
        self.now += seconds


class Replay:
    """An httpx handler over one cassette; remembers every request (and when, on `clock`)."""

    def __init__(self, name: str, script: dict[str, list[Any]] | None = None,
                 clock: FakeClock | None = None) -> None:
        self.interactions = cassette(name)
        self.script = {k: list(v) for k, v in (script or {}).items()}
        self.clock = clock
        self.requests: list[httpx.Request] = []
        self.times: list[float] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        self.times.append(self.clock() if self.clock else 0.0)
        path = request.url.path
        for key in (path, "*"):
            queue = self.script.get(key)
            if queue:
                item = queue.pop(0)
                if isinstance(item, BaseException):
                    raise item
                return response_of(self.interactions[item])
        query = dict(request.url.params)
        for inter in self.interactions.values():
            want = inter["request"]
            if want["path"] == path and all(query.get(k) == v for k, v in want["query"].items()):
                return response_of(inter)
        raise AssertionError(f"unrecorded request {request.method} {path}?{request.url.query!r}")

    def client(self) -> httpx.Client:
        return httpx.Client(transport=httpx.MockTransport(self))

    def paths(self) -> list[str]:
        return [r.url.path for r in self.requests]
