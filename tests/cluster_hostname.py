"""``[core] hostname_callable`` for test workers that share one machine: each task instance is
recorded with its worker's name (NEWS_ETL_TEST_WORKER) instead of the machine's hostname."""

import os
import socket


def worker_name() -> str:
    return os.environ.get("NEWS_ETL_TEST_WORKER") or socket.getfqdn()
