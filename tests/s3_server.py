"""A local S3-compatible server for tests: moto in server mode, as its own process on a free port.

No real S3 is reachable from CI; moto speaks the S3 REST protocol, so s3fs (news-etl) and DuckDB's
httpfs talk to it exactly as they would to AWS or MinIO."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

from airflow_server import free_port

KEY, SECRET, REGION = "news-etl-test", "news-etl-test-secret", "us-east-1"


def _forget_filesystems() -> None:
    """fsspec caches filesystem instances by their arguments: one made from the AWS variables
    alone would outlive this server and point the next test module at a port nobody listens on."""
    try:
        import s3fs
    except ImportError:
        return
    s3fs.S3FileSystem.clear_instance_cache()


class S3Server:
    def __init__(self, log_dir: Path):
        _forget_filesystems()
        self.port = free_port()
        self.endpoint = f"http://127.0.0.1:{self.port}"
        self.log = open(Path(log_dir) / "moto.log", "wb")
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(self.port)],
            stdout=self.log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        deadline = time.time() + 60
        while time.time() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"moto server exited with {self.proc.returncode}; see {self.log.name}")
            try:
                urllib.request.urlopen(self.endpoint + "/moto-api/", timeout=2).close()
                return
            except (urllib.error.URLError, OSError):
                time.sleep(0.3)
        raise TimeoutError(f"moto server not up after 60s; see {self.log.name}")

    @property
    def env(self) -> dict[str, str]:
        """The standard AWS variables that point botocore/s3fs (and our DuckDB secret) here."""
        return {
            "AWS_ACCESS_KEY_ID": KEY,
            "AWS_SECRET_ACCESS_KEY": SECRET,
            "AWS_DEFAULT_REGION": REGION,
            "AWS_ENDPOINT_URL": self.endpoint,
        }

    @property
    def storage_options(self) -> dict:
        return {"key": KEY, "secret": SECRET, "client_kwargs": {"endpoint_url": self.endpoint, "region_name": REGION}}

    def filesystem(self):
        import s3fs

        return s3fs.S3FileSystem(**self.storage_options)

    def create_bucket(self, name: str) -> None:
        import boto3

        boto3.client(
            "s3", endpoint_url=self.endpoint, aws_access_key_id=KEY, aws_secret_access_key=SECRET, region_name=REGION
        ).create_bucket(Bucket=name)

    def stop(self) -> None:
        _forget_filesystems()
        if self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
        self.log.close()


def duckdb_with_httpfs():
    """A DuckDB connection with httpfs loaded from its PyPI wheel (no download from DuckDB's server)."""
    import duckdb
    import duckdb_extension_httpfs

    path = next(Path(duckdb_extension_httpfs.__file__).parent.rglob("httpfs.duckdb_extension"))
    con = duckdb.connect()
    con.execute(f"LOAD '{path}'")
    return con
