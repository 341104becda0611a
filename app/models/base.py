"""Column helpers shared by every model."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Column
from sqlmodel import Field

from app.db import UTCDateTime, utcnow


def utc_column(*, nullable: bool = False, index: bool = False) -> Any:
    return Column(UTCDateTime(), nullable=nullable, index=index)


def created_at_field() -> Any:
    return Field(default_factory=utcnow, sa_column=utc_column())


def when_field(*, nullable: bool = True, index: bool = False) -> Any:
    return Field(default=None, sa_column=utc_column(nullable=nullable, index=index))


def required_when_field(*, index: bool = False) -> Any:
    return Field(sa_column=utc_column(index=index))


__all__ = ["created_at_field", "datetime", "required_when_field", "utc_column", "when_field"]
