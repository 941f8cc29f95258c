"""Shared fixtures and the skip policy.

- ``corpora``: tests that read ../shared/corpora skip where it is absent.
- ``services``: tests that need PostgreSQL/Redis on localhost skip where they are absent, with a
  reason that says how to start them. With NEWS_ETL_REQUIRE_SERVICES=1 (CI sets it) such a skip
  becomes a failure, so CI cannot go green by skipping.
"""

from __future__ import annotations

import os
import socket
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
SAMPLES = REPO / "samples" / "landing"
CORPORA = Path(os.environ.get("NEWS_ETL_CORPORA", REPO.parent / "shared" / "corpora"))
REQUIRE_SERVICES = os.environ.get("NEWS_ETL_REQUIRE_SERVICES") == "1"

SERVICES = {"postgresql": ("127.0.0.1", 5432), "redis": ("127.0.0.1", 6379)}
START_HINT = {
    "postgresql": "pg_ctlcluster $(ls /etc/postgresql) main start",
    "redis": "redis-server --daemonize yes --port 6379",
}


def service_up(name: str) -> bool:
    host, port = SERVICES[name]
    try:
        with socket.create_connection((host, port), timeout=1):
            return True
    except OSError:
        return False


def require_service(name: str) -> None:
    """Skip (or, under NEWS_ETL_REQUIRE_SERVICES=1, fail) when a service is not listening."""
    if service_up(name):
        return
    host, port = SERVICES[name]
    msg = f"{name} is not listening on {host}:{port}; start it with: {START_HINT[name]}"
    if REQUIRE_SERVICES:
        pytest.fail(msg + " (NEWS_ETL_REQUIRE_SERVICES=1 forbids skipping)")
    pytest.skip(msg)


def corpus(name: str) -> Path:
    path = CORPORA / name
    if not path.is_dir():
        if os.environ.get("NEWS_ETL_REQUIRE_CORPORA") == "1":
            pytest.fail(f"corpus {name} not found at {path} (NEWS_ETL_REQUIRE_CORPORA=1)")
        pytest.skip(f"corpus {name} not found at {path}: tests on real corpora run where ../shared/corpora exists")
    return path


@pytest.fixture(scope="session")
def repo() -> Path:
    return REPO


@pytest.fixture(scope="session")
def samples() -> Path:
    return SAMPLES


@pytest.fixture(scope="session")
def python() -> str:
    return sys.executable


@pytest.fixture(scope="module")
def s3_server(tmp_path_factory):
    """A real S3-compatible server (moto, tests/s3_server.py) for the tests of one module."""
    from s3_server import S3Server

    server = S3Server(tmp_path_factory.mktemp("moto"))
    try:
        yield server
    finally:
        server.stop()


def pytest_runtest_setup(item):
    marker = item.get_closest_marker("services")
    if marker is not None:
        for name in marker.args or ("postgresql", "redis"):
            require_service(name)  # skip with how to start it, or fail under NEWS_ETL_REQUIRE_SERVICES=1
