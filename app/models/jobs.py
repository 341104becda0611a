"""Scheduled jobs: the last minute each one ran, so two workers never run it twice a minute."""

from __future__ import annotations

from datetime import datetime

from sqlmodel import Field, SQLModel

from app.models.base import required_when_field


class JobRun(SQLModel, table=True):
    """One row per scheduled job. A worker runs a job only if it can move `minute` forward
    to the current minute, in the same transaction as the job's own work."""

    __tablename__ = "job_run"

    name: str = Field(primary_key=True, max_length=100)
    # The start (UTC) of the last minute the job ran in.
    minute: datetime = required_when_field()
