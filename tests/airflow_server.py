"""A real Airflow for tests: `airflow standalone` on SQLite in a temporary AIRFLOW_HOME, on a free
port, with a REST client that logs in like a user (simple auth manager, JWT)."""

from __future__ import annotations

import json
import os
import signal
import socket
import sqlite3
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

DAGS = Path(__file__).resolve().parent.parent / "dags"
REQUEST_TIMEOUT = 90
IDEMPOTENT = {"GET", "PATCH"}  # repeating one does what doing it once does (not PUT .../cancel)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def airflow_env(home: Path, **extra: str) -> dict:
    """The environment of ./dev's Airflow commands for AIRFLOW_HOME ``home``: INFO task logs, and the
    SQLite connect arguments ./dev writes to ``home/config`` (a 60 s busy timeout)."""
    (home / "config").mkdir(parents=True, exist_ok=True)
    (home / "config" / "news_etl_sqlite.py").write_text('CONNECT_ARGS = {"timeout": 60}\n')
    env = {k: v for k, v in os.environ.items() if not k.startswith("AIRFLOW")}
    env.update(
        {
            "AIRFLOW_HOME": str(home),
            "AIRFLOW__CORE__DAGS_FOLDER": str(DAGS),
            "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
            "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": f"sqlite:///{home}/airflow.db",
            "AIRFLOW__DATABASE__SQL_ALCHEMY_CONNECT_ARGS": "news_etl_sqlite.CONNECT_ARGS",
            "AIRFLOW__LOGGING__LOGGING_LEVEL": "INFO",
            "PATH": str(Path(sys.executable).parent) + os.pathsep + os.environ.get("PATH", ""),
        }
    )
    env.update(extra)
    if not env["AIRFLOW__DATABASE__SQL_ALCHEMY_CONN"].startswith("sqlite"):
        # The busy timeout is SQLite's: psycopg2 refuses an unknown "timeout" option ("invalid dsn").
        env.pop("AIRFLOW__DATABASE__SQL_ALCHEMY_CONNECT_ARGS")
    return env


# What airflow standalone's log says when its scheduler's loop has died (it is not restarted).
SCHEDULER_DIED = "Exception when executing SchedulerJob._run_scheduler_loop"


class Airflow:
    def __init__(self, home: Path, env_extra: dict[str, str]):
        self.home = home
        self.port = free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        self.env = airflow_env(
            home,
            **{
                "AIRFLOW__API__PORT": str(self.port),
                "AIRFLOW__API__BASE_URL": self.base,
                "AIRFLOW__CORE__EXECUTION_API_SERVER_URL": f"{self.base}/execution/",
                "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_USERS": "admin:admin",
                "AIRFLOW__CORE__DAGS_ARE_PAUSED_AT_CREATION": "True",
                "AIRFLOW__DAG_PROCESSOR__REFRESH_INTERVAL": "5",
                "AIRFLOW__SCHEDULER__SCHEDULER_IDLE_SLEEP_TIME": "1",
                "AIRFLOW__CORE__PARALLELISM": "4",
                # Its own log-server ports, so that two test Airflows on one machine cannot collide.
                "AIRFLOW__LOGGING__WORKER_LOG_SERVER_PORT": str(free_port()),
                "AIRFLOW__LOGGING__TRIGGER_LOG_SERVER_PORT": str(free_port()),
                **env_extra,
            },
        )
        self.log = open(home / "standalone.log", "wb")
        self.proc: subprocess.Popen | None = None
        self.token: str | None = None

    def start(self, timeout: float = 240) -> None:
        subprocess.run(["airflow", "db", "migrate"], env=self.env, check=True, capture_output=True, timeout=300)
        # WAL journal mode, as ./dev ui sets it (stored in the database file).
        sqlite3.connect(self.home / "airflow.db", timeout=60).execute("PRAGMA journal_mode=WAL").fetchall()
        self.proc = subprocess.Popen(
            ["airflow", "standalone"],
            env=self.env,
            stdout=self.log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
            cwd=self.home,
        )
        self.wait_ready(timeout)

    def exited(self) -> str | None:
        """What has died, if anything (checked while waiting). ``airflow standalone`` keeps running
        when its scheduler's loop dies (and never restarts it): its log says so."""
        if self.proc and self.proc.poll() is not None:
            return f"airflow standalone exited with {self.proc.returncode}; see {self.log.name}"
        if not self.log.closed:
            self.log.flush()
        path = Path(self.log.name)
        if path.exists() and SCHEDULER_DIED.encode() in path.read_bytes():
            return f"the scheduler of airflow standalone stopped ({SCHEDULER_DIED!r}); see {self.log.name}"
        return None

    def unpause(self, dag_id: str, timeout: float = 180) -> dict:
        """Unpause ``dag_id`` and wait until the scheduler has created and finished the scheduled
        run that unpausing a scheduled DAG makes (catchup off: its latest interval). A backfill
        posted while the scheduler creates that run can crash the scheduler's loop (Airflow's
        ``StaleDataError`` on ``dag_run``, seen on SQLite): let the scheduler's write land first."""
        self.request("PATCH", f"/api/v2/dags/{dag_id}", {"is_paused": False})

        def scheduled_done():
            runs = self.request("GET", f"/api/v2/dags/{dag_id}/dagRuns?limit=100")["dag_runs"]
            done = [r for r in runs if r["run_type"] == "scheduled" and r["state"] in ("success", "failed")]
            return done[0] if done else None

        return self.wait_for(
            scheduled_done,
            timeout,
            every=2,
            what=f"the scheduled run of {dag_id} after unpausing",
            state=lambda: self.runs_state(dag_id),
        )

    def wait_ready(self, timeout: float) -> None:
        deadline = time.time() + timeout
        while time.time() < deadline:
            if self.exited():
                raise RuntimeError(self.exited())
            try:
                with urllib.request.urlopen(f"{self.base}/api/v2/monitor/health", timeout=5) as r:
                    if r.status == 200:
                        break
            except (urllib.error.URLError, OSError):
                pass
            time.sleep(2)
        else:
            raise TimeoutError(f"Airflow API not healthy after {timeout}s; see {self.log.name}")
        self.password = self._password(deadline)
        self.token = self.request("POST", "/auth/token", {"username": "admin", "password": self.password}, auth=False)[
            "access_token"
        ]

    def _password(self, deadline: float) -> str:
        path = self.home / "simple_auth_manager_passwords.json.generated"
        while time.time() < deadline:
            if path.exists():
                return json.loads(path.read_text())["admin"]
            time.sleep(1)
        raise TimeoutError("no generated password file")

    def request(self, method: str, path: str, body: dict | None = None, auth: bool = True):
        data = json.dumps(body).encode() if body is not None else None
        headers = {"Content-Type": "application/json"}
        if auth:
            headers["Authorization"] = f"Bearer {self.token}"
        timeouts = 0
        for attempt in range(20):
            req = urllib.request.Request(self.base + path, data=data, method=method, headers=headers)
            started = time.monotonic()
            try:
                # Longer than SQLite's busy timeout (60 s, see airflow_env): a request waiting for the
                # scheduler's write lock gets its 503 "locked" from the server, and is retried below.
                with urllib.request.urlopen(req, timeout=REQUEST_TIMEOUT) as r:
                    raw = r.read()
                    self._timed(method, path, started)
                    return json.loads(raw) if raw else None
            except TimeoutError:
                self._timed(method, path, started, "timed out")
                timeouts += 1
                if method in IDEMPOTENT and timeouts < 3:
                    continue
                raise TimeoutError(
                    f"{method} {path}: no answer in {REQUEST_TIMEOUT}s; last lines of {self.log.name}:\n"
                    + self.log_tail()
                ) from None
            except urllib.error.HTTPError as exc:
                detail = exc.read()[:500]
                self._timed(method, path, started, f"HTTP {exc.code}")
                # SQLite: "Database is locked" (503) while the scheduler writes; nothing was done, so retry.
                if exc.code == 503 and b"locked" in detail and attempt < 19:
                    time.sleep(1 + attempt)
                    continue
                raise RuntimeError(f"{method} {path}: {exc.code} {detail!r}") from None

    def _timed(self, method: str, path: str, started: float, outcome: str = "ok") -> None:
        """One line per request in ``requests.log`` beside the server's log: slow answers show there."""
        with open(self.home / "requests.log", "a") as f:
            f.write(f"{time.strftime('%H:%M:%S')} {time.monotonic() - started:7.2f}s {method} {path} {outcome}\n")

    def log_tail(self, lines: int = 60) -> str:
        if not self.log.closed:
            self.log.flush()
        path = Path(self.log.name)
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:]) if path.exists() else ""

    def wait_for(self, predicate, timeout: float, every: float = 3, what: str = "condition", state=None):
        """``predicate()``'s first true value within ``timeout`` seconds. On timeout the error says
        what ``state()`` (when given: the runs and their tasks, say) shows at that moment and ends
        with the server's last log lines: a run that never finished must say where it stood."""
        deadline = time.time() + timeout
        last = None
        while time.time() < deadline:
            last = predicate()
            if last:
                return last
            died = self.exited()
            if died:
                raise RuntimeError(f"{what}: {died}; last lines of {self.log.name}:\n{self.log_tail(40)}")
            time.sleep(every)
        try:
            where = state() if state is not None else last
        except Exception as exc:  # the server may be what broke
            where = f"state unavailable: {exc!r}"
        raise TimeoutError(
            f"{what} not reached after {timeout}s: {where!r}; last lines of {self.log.name}:\n{self.log_tail(40)}"
        )

    def runs_state(self, dag_id: str) -> list[str]:
        """One line a run of ``dag_id``: its date, type and state, and the state of each task
        instance (a ``wait_for`` ``state``: where runs that never finished stood)."""
        lines = []
        for r in self.request("GET", f"/api/v2/dags/{dag_id}/dagRuns?limit=100")["dag_runs"]:
            tis = self.request("GET", f"/api/v2/dags/{dag_id}/dagRuns/{r['dag_run_id']}/taskInstances?limit=1000")
            tasks = ", ".join(
                f"{t['task_id']}[{t.get('map_index', -1)}]={t['state']}@{t.get('hostname') or '-'}"
                for t in tis["task_instances"]
            )
            lines.append(f"{r['logical_date'][:10]} {r['run_type']} {r['state']}: {tasks}")
        return lines

    def stop(self) -> None:
        if self.proc and self.proc.poll() is None:
            for sig, wait in ((signal.SIGTERM, 30), (signal.SIGKILL, 10)):
                try:
                    os.killpg(self.proc.pid, sig)
                except ProcessLookupError:
                    break
                try:
                    self.proc.wait(wait)
                    break
                except subprocess.TimeoutExpired:
                    continue
        self.log.close()
