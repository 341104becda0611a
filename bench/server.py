"""The app as the bench runs it: Heard's own factory, with a PostgreSQL pool sized for the load.

SQLAlchemy's default pool keeps 5 connections and opens up to 10 more, closing each extra
one as soon as it is returned; with 32 requests in flight that means a new PostgreSQL
connection (a new server process) for most requests. HEARD_BENCH_POOL_SIZE keeps enough
connections open instead. SQLite is unaffected.
"""

from __future__ import annotations

import os
from typing import Any

from app.config import get_settings
from app.db import is_sqlite, make_engine
from app.log import configure_logging
from app.main import create_app


def build() -> Any:
    configure_logging()
    settings = get_settings()
    size = int(os.environ.get("HEARD_BENCH_POOL_SIZE", "0"))
    if size and not is_sqlite(settings.database_url):
        engine = make_engine(settings.database_url, pool_size=size, max_overflow=size)
        return create_app(settings, engine=engine)
    return create_app(settings)
