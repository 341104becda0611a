"""Migrations go all the way down and back up on both databases, and leave nothing behind.

On a database of its own (never the shared test database): upgrade to the newest revision,
downgrade to nothing, upgrade again, and compare with the models (`alembic check`).
"""

from __future__ import annotations

from pathlib import Path

import pytest
from alembic import command
from alembic.config import Config
from sqlalchemy import inspect

from app.config import ROOT
from app.db import make_engine
from tests.conftest import BACKENDS
from tests.live_processes import fresh_database


def _config(url: str) -> Config:
    config = Config(str(ROOT / "alembic.ini"))
    config.set_main_option("script_location", str(ROOT / "migrations"))
    config.attributes["skip_logging"] = True
    config.attributes["url"] = url
    return config


ENUM_TYPES = (
    "SELECT typname FROM pg_type t JOIN pg_namespace n ON n.oid = t.typnamespace "
    "WHERE n.nspname = 'public' AND t.typtype = 'e'"
)


@pytest.mark.parametrize("backend", BACKENDS)
def test_down_to_nothing_and_up_again(backend: str, tmp_path: Path) -> None:
    with fresh_database(backend, tmp_path, prefix="heard_migrations") as url:
        config = _config(url)
        command.downgrade(config, "base")
        engine = make_engine(url)
        try:
            left = set(inspect(engine).get_table_names()) - {"alembic_version"}
            assert not left, f"tables left after downgrading to base: {sorted(left)}"
            if engine.dialect.name == "postgresql":
                with engine.connect() as conn:
                    types = conn.exec_driver_sql(ENUM_TYPES).scalars().all()
                assert not types, f"enum types left after downgrading to base: {types}"
        finally:
            engine.dispose()
        command.upgrade(config, "head")
        command.check(config)


def test_one_line_of_migrations() -> None:
    from alembic.script import ScriptDirectory

    script = ScriptDirectory.from_config(_config("sqlite://"))
    assert len(script.get_heads()) == 1, script.get_heads()
    empty = [
        rev.revision
        for rev in script.walk_revisions()
        if "def upgrade() -> None:\n    pass" in Path(rev.path).read_text().replace("# noqa", "")
    ]
    assert not empty, f"empty migrations: {empty}"
