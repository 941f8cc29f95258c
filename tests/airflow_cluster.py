"""Airflow as production runs it, as local processes: the metadata database on PostgreSQL, the
CeleryExecutor with a Redis broker, and api-server, scheduler, dag-processor and named Celery
workers as separate processes (or the same without workers on the LocalExecutor).

Each cluster gets a fresh database and a Redis database index of its own, and ``cleanup``
removes both and every process it started, whatever happened before. ``COMMANDS`` and
``PRODUCTION_ENV`` are what docker/compose.yaml must run too: tests/test_docker.py compares them,
so the deployment and this test cannot drift apart.
"""

from __future__ import annotations

import os
import secrets
import signal
import subprocess
import time
from pathlib import Path

from airflow_server import Airflow, free_port

POSTGRES = os.environ.get("NEWS_ETL_TEST_POSTGRES", "postgresql://postgres@127.0.0.1:5432")
REDIS = os.environ.get("NEWS_ETL_TEST_REDIS", "redis://127.0.0.1:6379")
TESTS = Path(__file__).resolve().parent

# The Airflow components, as `airflow ...` commands (the official image's entrypoint adds the
# `airflow`). {worker} is the Celery node name: one per worker process here, `worker` in compose,
# where each replica's container hostname (%h) keeps the names apart.
COMMANDS: dict[str, list[str]] = {
    "airflow-init": ["airflow", "db", "migrate"],
    "api-server": ["airflow", "api-server"],
    "scheduler": ["airflow", "scheduler"],
    "dag-processor": ["airflow", "dag-processor"],
    "triggerer": ["airflow", "triggerer"],
    "worker": ["airflow", "celery", "worker", "--celery-hostname", "{worker}@%h"],
}

# Settings a production deployment must make (names; values are the deployment's). Every
# component of docker/compose.yaml gets these, and this harness sets each of them.
PRODUCTION_ENV = (
    "AIRFLOW__CORE__EXECUTOR",
    "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN",
    "AIRFLOW__CELERY__BROKER_URL",
    "AIRFLOW__CELERY__RESULT_BACKEND",
    "AIRFLOW__CELERY__EXTRA_CELERY_CONFIG",
    "AIRFLOW__WORKERS__MIN_HEARTBEAT_INTERVAL",
    "AIRFLOW__CORE__EXECUTION_API_SERVER_URL",
    "AIRFLOW__API_AUTH__JWT_SECRET",
    "AIRFLOW__API__SECRET_KEY",
    "AIRFLOW__CORE__FERNET_KEY",
    "AIRFLOW__CORE__LOAD_EXAMPLES",
    "AIRFLOW__CORE__DAGS_FOLDER",
    "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_USERS",
    "NEWS_ETL_SOURCE",
    "NEWS_ETL_OUTPUT",
)


def _pg(db: str = "postgres"):
    import psycopg2

    con = psycopg2.connect(f"{POSTGRES}/{db}")
    con.autocommit = True
    return con


def _redis(index: int = 0):
    import redis

    return redis.Redis.from_url(f"{REDIS}/{index}")


def claim_redis_index() -> int:
    """A Redis database index nobody uses (empty), claimed with a marker key."""
    for index in range(1, 16):
        r = _redis(index)
        if r.dbsize() == 0 and r.set("news-etl-test-claim", "1", nx=True):
            return index
    raise RuntimeError("no free Redis database index (1-15 all hold keys)")


def cluster_settings(executor: str, db: str, redis_index: int | None, worker_concurrency: int = 1) -> dict[str, str]:
    """The production settings of one test cluster (Airflow() adds API, auth and DAG folder)."""
    dsn = f"{POSTGRES.replace('postgresql://', 'postgresql+psycopg2://')}/{db}"
    env = {
        "AIRFLOW__CORE__EXECUTOR": executor,
        "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": dsn,
        "AIRFLOW__API_AUTH__JWT_SECRET": secrets.token_hex(32),
        "AIRFLOW__API__SECRET_KEY": secrets.token_hex(16),
        "AIRFLOW__CORE__FERNET_KEY": "",
        "AIRFLOW__CORE__PARALLELISM": "8",
        "AIRFLOW__CELERY__WORKER_CONCURRENCY": str(worker_concurrency),
        # Workers on one machine share its hostname; cluster_hostname names each task instance's
        # host after its worker (in compose every worker container has a hostname of its own).
        "PYTHONPATH": str(TESTS) + os.pathsep + os.environ.get("PYTHONPATH", ""),
    }
    if redis_index is not None:
        env["AIRFLOW__CELERY__BROKER_URL"] = f"{REDIS}/{redis_index}"
        env["AIRFLOW__CELERY__RESULT_BACKEND"] = "db+" + dsn
        env["AIRFLOW__WORKERS__MIN_HEARTBEAT_INTERVAL"] = "1"
        env["AIRFLOW__CELERY__EXTRA_CELERY_CONFIG"] = (
            '{"imports": ["pipeline.preload"], "worker_disable_prefetch": true}'
        )
    return env


class Cluster(Airflow):
    def __init__(
        self,
        home: Path,
        executor: str,
        workers: tuple[str, ...] = (),
        env_extra: dict | None = None,
        worker_concurrency: int = 1,
    ):
        self.db = f"news_etl_test_{secrets.token_hex(4)}"
        self.redis_index = claim_redis_index() if workers else None
        self.executor = executor
        self.workers = workers
        self.procs: dict[str, subprocess.Popen] = {}
        env = cluster_settings(executor, self.db, self.redis_index, worker_concurrency)
        env.update(env_extra or {})
        home.mkdir(parents=True, exist_ok=True)
        super().__init__(home, env)
        self.log.close()
        self.logs = home / "logs-of-processes"
        self.logs.mkdir(exist_ok=True)

    # -- lifecycle ------------------------------------------------------------------------------
    def start(self, timeout: float = 300) -> None:
        with _pg().cursor() as cur:
            cur.execute(f'CREATE DATABASE "{self.db}"')
        self._run_once("airflow-init")
        for name in ("api-server", "scheduler", "dag-processor"):
            self._spawn(name, COMMANDS[name])
        for worker in self.workers:
            self._spawn(
                worker,
                [a.format(worker=worker) for a in COMMANDS["worker"]],
                {
                    "NEWS_ETL_TEST_WORKER": worker,
                    "AIRFLOW__CORE__HOSTNAME_CALLABLE": "cluster_hostname.worker_name",
                    "AIRFLOW__LOGGING__WORKER_LOG_SERVER_PORT": str(free_port()),
                },
            )
        self.log = open(self.logs / "api-server.log", "ab")  # what Airflow.wait_ready names in errors
        self.wait_ready(timeout)

    def _run_once(self, name: str) -> None:
        with open(self.logs / f"{name}.log", "wb") as log:
            p = subprocess.run(
                COMMANDS[name], env=self.env, stdout=log, stderr=subprocess.STDOUT, cwd=self.home, timeout=600
            )
        if p.returncode:
            raise RuntimeError(f"{' '.join(COMMANDS[name])} failed ({p.returncode}); see {self.logs / (name + '.log')}")

    def _spawn(self, name: str, argv: list[str], extra: dict | None = None) -> None:
        log = open(self.logs / f"{name}.log", "wb")
        self.procs[name] = subprocess.Popen(
            argv,
            env={**self.env, **(extra or {})},
            stdout=log,
            stderr=subprocess.STDOUT,
            cwd=self.home,
            start_new_session=True,
        )
        log.close()

    def exited(self) -> str | None:
        for name, p in self.procs.items():
            if p.poll() is not None:
                return f"{name} exited with {p.returncode}; see {self.logs / (name + '.log')}"
        return None

    def stop_process(self, name: str) -> None:
        p = self.procs.get(name)
        if p is None or p.poll() is not None:
            return
        for sig, wait in ((signal.SIGTERM, 30), (signal.SIGKILL, 10)):
            try:
                os.killpg(p.pid, sig)
            except ProcessLookupError:
                return
            try:
                p.wait(wait)
                return
            except subprocess.TimeoutExpired:
                continue

    def stop(self) -> None:
        # Workers first (they finish or abandon their tasks), then the scheduler side.
        for name in [*self.workers, "scheduler", "dag-processor", "api-server"]:
            self.stop_process(name)
        if self.log and not self.log.closed:
            self.log.close()

    def cleanup(self) -> None:
        """Stop every process, drop the database, empty the Redis index. Safe to call twice."""
        self.stop()
        try:
            with _pg().cursor() as cur:
                cur.execute(f'DROP DATABASE IF EXISTS "{self.db}" WITH (FORCE)')
        finally:
            if self.redis_index is not None:
                _redis(self.redis_index).flushdb()

    # -- what is left behind ---------------------------------------------------------------------
    def leftovers(self) -> list[str]:
        left = [f"process {n} (pid {p.pid})" for n, p in self.procs.items() if p.poll() is None]
        with _pg().cursor() as cur:
            cur.execute("SELECT 1 FROM pg_database WHERE datname = %s", (self.db,))
            if cur.fetchall():
                left.append(f"database {self.db}")
        if self.redis_index is not None and _redis(self.redis_index).dbsize():
            left.append(f"{_redis(self.redis_index).dbsize()} keys in Redis database {self.redis_index}")
        return left

    # -- the news_etl DAG -------------------------------------------------------------------------
    def backfill(
        self, dag_id: str, first: str, last: str, max_active_runs: int = 4, conf: dict | None = None
    ) -> list[dict]:
        self.wait_for(lambda: self._dag_known(dag_id), 180, what=f"DAG {dag_id} parsed")
        self.unpause(dag_id)
        self.request(
            "POST",
            "/api/v2/backfills",
            {
                "dag_id": dag_id,
                "from_date": f"{first}T00:00:00Z",
                "to_date": f"{last}T00:00:00Z",
                "max_active_runs": max_active_runs,
                "reprocess_behavior": "none",
                "dag_run_conf": conf or {},
            },
        )
        expected = (
            time.mktime(time.strptime(last, "%Y-%m-%d")) - time.mktime(time.strptime(first, "%Y-%m-%d"))
        ) // 86400 + 1

        def finished():
            if self.exited():
                raise RuntimeError(self.exited())
            runs = [
                r
                for r in self.request("GET", f"/api/v2/dags/{dag_id}/dagRuns?limit=100")["dag_runs"]
                if r["run_type"] == "backfill"
            ]
            done = [r for r in runs if r["state"] in ("success", "failed")]
            return runs if len(runs) == expected and len(done) == expected else None

        return self.wait_for(
            finished,
            900,
            every=3,
            what=f"{int(expected)} backfill runs finished",
            state=lambda: self.runs_state(dag_id),
        )

    def task_instances(self, dag_id: str, run_id: str) -> list[dict]:
        return self.request("GET", f"/api/v2/dags/{dag_id}/dagRuns/{run_id}/taskInstances?limit=1000")["task_instances"]

    def _dag_known(self, dag_id: str) -> bool:
        try:
            return self.request("GET", f"/api/v2/dags/{dag_id}")["dag_id"] == dag_id
        except RuntimeError:
            return False
