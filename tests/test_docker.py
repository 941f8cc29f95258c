"""docker/: no Docker engine runs here, so these tests read the files. The compose file must parse
(anchors merged, every ${VAR} resolvable from .env.example), and its Airflow services must run the
commands and settings that tests/test_distributed.py runs as processes; the image must be the
official Airflow image of the pinned version and install the lock file's pins."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
import yaml
from airflow_cluster import COMMANDS, PRODUCTION_ENV

DOCKER = Path(__file__).resolve().parent.parent / "docker"
AIRFLOW_SERVICES = ("airflow-init", "api-server", "scheduler", "dag-processor", "triggerer", "worker")
LONG_RUNNING = ("postgres", "redis", "api-server", "scheduler", "dag-processor", "triggerer", "worker")
VAR = re.compile(r"\$\{(\w+)(?:(:?[-?])([^}]*))?\}")


def _env_example() -> dict[str, str]:
    out = {}
    for line in (DOCKER / ".env.example").read_text().splitlines():
        if line.strip() and not line.lstrip().startswith("#"):
            key, _, value = line.partition("=")
            out[key.strip()] = value
    return out


def interpolate(text: str, env: dict[str, str]) -> str:
    """Compose's variable substitution: ${V}, ${V:-default}, ${V-default}, ${V:?error}, $$."""

    def sub(m: re.Match) -> str:
        name, op, arg = m.group(1), m.group(2), m.group(3)
        value = env.get(name)
        if op in (":?", "?") and not value:
            raise KeyError(f"${{{name}}} is required ({arg}) and .env.example does not set it")
        if op == ":-" and not value:
            return arg
        if op == "-" and value is None:
            return arg
        return value or ""

    return VAR.sub(sub, text.replace("$$", "\0")).replace("\0", "$")


@pytest.fixture(scope="module")
def compose() -> dict:
    return yaml.safe_load(interpolate((DOCKER / "compose.yaml").read_text(), _env_example()))


def test_compose_parses_with_the_example_env_and_has_every_component(compose):
    services = compose["services"]
    assert set(services) >= {"postgres", "redis", *AIRFLOW_SERVICES}
    for name in LONG_RUNNING:
        assert services[name].get("healthcheck", {}).get("test"), f"{name} has no health check"
    assert int(services["worker"]["deploy"]["replicas"]) >= 2
    for name in ("api-server", "scheduler", "dag-processor", "triggerer", "worker"):
        assert services[name]["depends_on"]["airflow-init"]["condition"] == "service_completed_successfully"
        assert services[name]["depends_on"]["postgres"]["condition"] == "service_healthy"


def test_a_required_secret_missing_from_the_env_is_an_error():
    env = _env_example()
    del env["AIRFLOW_JWT_SECRET"]
    with pytest.raises(KeyError, match="AIRFLOW_JWT_SECRET"):
        interpolate((DOCKER / "compose.yaml").read_text(), env)


def test_compose_runs_the_commands_and_settings_of_the_distributed_test(compose):
    services = compose["services"]
    for name in AIRFLOW_SERVICES:
        expected = [a.format(worker="worker") for a in COMMANDS[name]]
        assert expected[0] == "airflow"
        # The official image's entrypoint runs `airflow <command>`.
        assert services[name]["command"] == expected[1:], name
        env = services[name]["environment"]
        missing = [k for k in PRODUCTION_ENV if k not in env]
        assert not missing, f"{name} lacks {missing}"
        assert env["AIRFLOW__CORE__EXECUTOR"] == "CeleryExecutor"
        assert env["AIRFLOW__DATABASE__SQL_ALCHEMY_CONN"].startswith("postgresql+psycopg2://")
        assert env["AIRFLOW__CELERY__RESULT_BACKEND"].startswith("db+postgresql+psycopg2://")
        assert env["AIRFLOW__CELERY__BROKER_URL"].startswith("redis://redis:")
        assert env["AIRFLOW__CORE__EXECUTION_API_SERVER_URL"] == "http://api-server:8080/execution/"
        assert env["AIRFLOW__CORE__DAGS_FOLDER"] == "/opt/news-etl/dags"
        assert json.loads(env["AIRFLOW__CELERY__EXTRA_CELERY_CONFIG"]) == {
            "imports": ["pipeline.preload"],
            "worker_disable_prefetch": True,
        }
        for volume in ("news-etl-output:/data/output",):
            assert volume in services[name]["volumes"]


def test_the_distributed_test_sets_every_production_setting(tmp_path):
    from airflow_cluster import cluster_settings
    from airflow_server import Airflow

    af = Airflow(
        tmp_path,
        {**cluster_settings("CeleryExecutor", "news_etl_x", 3), "NEWS_ETL_SOURCE": "landing", "NEWS_ETL_OUTPUT": "out"},
    )
    af.log.close()
    missing = [k for k in PRODUCTION_ENV if k not in af.env]
    assert not missing, f"the distributed test does not set {missing}"
    assert af.env["AIRFLOW__CORE__EXECUTION_API_SERVER_URL"] == f"{af.base}/execution/"
    assert af.env["AIRFLOW__CELERY__BROKER_URL"].endswith("/3")


def _pins(path: Path) -> dict[str, str]:
    pins = {}
    for line in path.read_text().splitlines():
        m = re.match(r"^([A-Za-z0-9_.\-]+)==([^\s;]+)", line)
        if m:
            pins[m.group(1).lower().replace("_", "-")] = m.group(2)
    return pins


def test_image_is_the_official_airflow_of_the_pinned_version_and_installs_the_lock():
    dockerfile = (DOCKER / "Dockerfile").read_text()
    lock = _pins(DOCKER.parent / "requirements.lock")
    version = re.search(r"^ARG AIRFLOW_VERSION=(\S+)", dockerfile, re.M).group(1)
    python = re.search(r"^ARG PYTHON_VERSION=(\S+)", dockerfile, re.M).group(1)
    assert version == lock["apache-airflow"]
    assert re.search(r"^FROM apache/airflow:\$\{AIRFLOW_VERSION\}-python\$\{PYTHON_VERSION\}$", dockerfile, re.M)
    assert python == "3.11"
    assert (
        "pip install --no-cache-dir --disable-pip-version-check -r /opt/news-etl/docker/requirements.lock" in dockerfile
    )
    # The output volume's mount point exists and belongs to the user the components run as.
    assert "chown -R airflow:root /opt/news-etl /data" in dockerfile
    assert re.findall(r"^USER (\S+)", dockerfile, re.M)[-1] == "airflow"
    image = _pins(DOCKER / "requirements.lock")
    assert image["apache-airflow"] == version
    for extra in ("apache-airflow-providers-celery", "psycopg2-binary", "asyncpg", "redis", "s3fs", "celery"):
        assert extra in image, f"{extra} is not in docker/requirements.lock"
    drift = {k: (v, lock.get(k)) for k, v in image.items() if lock.get(k) != v}
    assert not drift, f"docker/requirements.lock disagrees with requirements.lock: {drift} (run ./dev lock)"
    for test_only in ("pytest", "moto", "selenium"):
        assert test_only not in image
