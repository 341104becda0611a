"""A live Heard with settings of its own, for the single sign-on browser test.

The shared live server (tests/browser/conftest.py) has no OpenID settings, and a provider
must know the redirect URI before Heard starts, so this test runs its own server on a port
chosen first. Pages on it are checked with the shared `check_page` like any other.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import uvicorn
from sqlalchemy.engine import Engine
from sqlmodel import Session

from app.cli import upgrade_database
from app.config import Settings
from app.db import make_engine
from app.main import create_app


@dataclass
class LiveServer:
    url: str
    settings: Settings
    engine: Engine
    app: Any

    @contextmanager
    def db(self) -> Iterator[Session]:
        with Session(self.engine, expire_on_commit=False) as session:
            yield session
            session.commit()


@contextmanager
def live_server(tmp: Path, port: int, **settings_values: Any) -> Iterator[LiveServer]:
    url = f"sqlite:///{tmp / 'live.db'}"
    upgrade_database(url)
    engine = make_engine(url)
    settings = Settings(
        env="test",
        database_url=url,
        secret_key="live-test-secret-key-that-is-long-enough-0123",
        mail_dir=tmp / "mail",
        base_url=f"http://127.0.0.1:{port}",
        exit_url=f"http://127.0.0.1:{port}/healthz",
        **settings_values,
    )
    app = create_app(settings, engine=engine)
    server = uvicorn.Server(
        uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", lifespan="on")
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 15
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            raise RuntimeError("live server did not start")
        time.sleep(0.05)
    try:
        yield LiveServer(url=settings.base_url, settings=settings, engine=engine, app=app)
    finally:
        server.should_exit = True
        thread.join(timeout=10)
        engine.dispose()
