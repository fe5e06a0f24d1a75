"""gunicorn for the trigger API (`/api/v1/`) in the scaled set-up: sync workers, chosen by measurement.

A sync worker runs Django's request cycle on its own thread with no event loop in between; on two
cores it accepts several times what one daphne or uvicorn process does for the same view (the ASGI
path pays thread hops per request: docs/deployment.md has the numbers). daphne keeps serving the
websockets and the admin. Everything here can be overridden on the command line or with
GUNICORN_CMD_ARGS.
"""

import multiprocessing
import os

bind = os.environ.get("API_BIND", "127.0.0.1:8001")
worker_class = "sync"
# Two per core: while one waits on PostgreSQL or Redis, the other computes.
workers = int(os.environ.get("WEB_CONCURRENCY", multiprocessing.cpu_count() * 2))
# Connections wait in the kernel's backlog while every worker is busy (a logon storm).
backlog = 2048
timeout = 30
graceful_timeout = 20
# Behind nginx: trust its X-Forwarded-* only from the proxy on this host (TRUST_PROXY_HEADERS does the rest).
forwarded_allow_ips = os.environ.get("FORWARDED_ALLOW_IPS", "127.0.0.1")
accesslog = None  # nginx logs requests; the API logs one line per trigger decision
errorlog = "-"
loglevel = "warning"
proc_name = "heartbeat-api"
# systemd manages gunicorn (reload is SIGHUP): no gunicornc control socket in the service account's home.
control_socket_disable = True

# prometheus_client's multiprocess mode (PROMETHEUS_MULTIPROC_DIR, set by heartbeat-api.service): each
# worker writes its counters to files there and /metrics sums them (heartbeat_site/metrics.py).
MULTIPROC_DIR = os.environ.get("PROMETHEUS_MULTIPROC_DIR", "")


def on_starting(server) -> None:
    """Start from an empty directory: files of an earlier run would be summed into this one's counters."""
    if MULTIPROC_DIR:
        os.makedirs(MULTIPROC_DIR, exist_ok=True)
        for name in os.listdir(MULTIPROC_DIR):
            if name.endswith(".db"):
                os.remove(os.path.join(MULTIPROC_DIR, name))


def child_exit(server, worker) -> None:
    """A dead worker's live gauges must not be reported; its counters stay in the sums."""
    if MULTIPROC_DIR:
        from prometheus_client import multiprocess

        multiprocess.mark_process_dead(worker.pid)
