"""Django's PostgreSQL backend, with a health check that asks the socket instead of the server.

With CONN_HEALTH_CHECKS, Django runs `SELECT 1` before the first query of every request on a
persistent connection: a round trip per request, a quarter of the database round trips of an
accepted trigger (`bench_latency` showed each one costing 0.3-0.5 ms of wall time at light load).
A server has nothing to say to an idle connection unless it is going away — a restart, a terminated
backend, an idle timeout all send an error and close — so a connection whose socket is readable
while idle is treated as unusable and replaced. A false alarm (say, a parameter report after a
configuration reload) costs one reconnect.
"""

from __future__ import annotations

import select

from django.db.backends.postgresql import base


class DatabaseWrapper(base.DatabaseWrapper):
    def is_usable(self) -> bool:
        conn = self.connection
        if conn is None or conn.closed or conn.broken:
            return False
        try:
            poller = select.poll()
            poller.register(conn.fileno(), select.POLLIN | select.POLLPRI)
            if poller.poll(0):
                return False  # the server spoke first: an error before closing, or the close itself
        except (OSError, ValueError):
            return False
        return True
