"""The skip policy for tests that need PostgreSQL or Redis: where a service is absent they skip
with a reason that says how to start it; under NEWS_ETL_REQUIRE_SERVICES=1 (CI) they fail."""

from __future__ import annotations

import socket

import conftest
import pytest


@pytest.fixture
def closed_port(monkeypatch):
    with socket.socket() as s:  # a port nothing listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    monkeypatch.setitem(conftest.SERVICES, "redis", ("127.0.0.1", port))
    return port


def test_absent_service_skips_with_how_to_start_it(closed_port, monkeypatch):
    monkeypatch.setattr(conftest, "REQUIRE_SERVICES", False)
    with pytest.raises(
        pytest.skip.Exception, match=f"redis is not listening on 127.0.0.1:{closed_port}; start it with: redis-server"
    ):
        conftest.require_service("redis")


def test_absent_service_fails_when_ci_requires_it(closed_port, monkeypatch):
    monkeypatch.setattr(conftest, "REQUIRE_SERVICES", True)
    with pytest.raises(pytest.fail.Exception, match="NEWS_ETL_REQUIRE_SERVICES=1 forbids skipping"):
        conftest.require_service("redis")


def test_present_service_neither_skips_nor_fails(monkeypatch):
    with socket.socket() as server:
        server.bind(("127.0.0.1", 0))
        server.listen()
        monkeypatch.setitem(conftest.SERVICES, "postgresql", server.getsockname())
        monkeypatch.setattr(conftest, "REQUIRE_SERVICES", True)
        conftest.require_service("postgresql")
