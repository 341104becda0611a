"""The development mail viewer reads the outbox (so mail shows even before it is sent)."""

from __future__ import annotations

import re

from sqlmodel import Session, col, select

from app.models import OutboxEmail

_URL = re.compile(r"(https?://[^\s<>\"]+)")


def recent(session: Session, limit: int = 50) -> list[OutboxEmail]:
    return list(session.exec(select(OutboxEmail).order_by(col(OutboxEmail.id).desc()).limit(limit)))


def get(session: Session, email_id: int) -> OutboxEmail | None:
    return session.get(OutboxEmail, email_id)


def linkify(text: str) -> list[tuple[str, bool]]:
    """Split text into (piece, is_link) so the template can make links without |safe."""
    parts: list[tuple[str, bool]] = []
    for index, piece in enumerate(_URL.split(text)):
        if piece:
            parts.append((piece, index % 2 == 1))
    return parts
