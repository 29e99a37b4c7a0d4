"""Django's PostgreSQL backend, with the connection pool told to stop waiting in an outage.

With the pool on, a request that needs the database asks psycopg's pool for a connection and
waits up to DATABASE_POOL_TIMEOUT seconds for one. When PostgreSQL is down, no connection can
come: every request would wait the whole timeout before its 503, and since Django runs
synchronous views one at a time per process under ASGI, requests pile up behind each other.

So once a request has waited in vain (the pool raised PoolTimeout), later requests wait only
OUTAGE_WAIT_SECONDS: long enough for a connection to be opened if the database is back (each
wait also asks the pool to open one), short enough to answer 503 at once if it is not. The
first request that gets a connection ends the outage. Recovery itself is the pool's: it drops
the connections the outage cut (CONN_HEALTH_CHECKS checks each one it lends) and opens new ones;
DATABASE_POOL_RECONNECT_TIMEOUT in settings keeps its retries from backing off for minutes.
"""

import logging
import time
from typing import Any

from django.db.backends.postgresql import base
from psycopg_pool import PoolTimeout

logger = logging.getLogger(__name__)

OUTAGE_WAIT_SECONDS = 0.5

# Database alias -> when a request first waited for a pooled connection in vain (monotonic).
_outages: dict[str, float] = {}


class DatabaseWrapper(base.DatabaseWrapper):
    def get_new_connection(self, conn_params: dict[str, Any]) -> Any:
        pool = self.pool  # type: ignore[attr-defined]  # Django's stubs do not know pools
        if pool is None:
            return super().get_new_connection(conn_params)
        options = self.settings_dict["OPTIONS"]["pool"]
        configured = options.get("timeout", 30.0) if isinstance(options, dict) else 30.0
        # A plain attribute that the pool reads in each getconn(). Threads sharing the pool
        # set it from the same shared state, so their writes agree.
        pool.timeout = OUTAGE_WAIT_SECONDS if self.alias in _outages else configured
        try:
            connection = super().get_new_connection(conn_params)
        except PoolTimeout:
            if self.alias not in _outages:
                _outages[self.alias] = time.monotonic()
                logger.warning(
                    "No database connection within %.1f s: until one is made, requests wait "
                    "%.1f s for one before their 503",
                    configured,
                    OUTAGE_WAIT_SECONDS,
                )
            raise
        started = _outages.pop(self.alias, None)
        if started is not None:
            logger.warning(
                "Database connection made again after %.1f s", time.monotonic() - started
            )
        pool.timeout = configured
        return connection
