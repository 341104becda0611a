"""Join codes: 6 characters from an alphabet without look-alikes (no 0/O, 1/I/L)."""

from __future__ import annotations

import hmac
import secrets
from datetime import datetime

ALPHABET = "ABCDEFGHJKMNPQRSTUVWXYZ23456789"
CODE_LENGTH = 6


def new_code() -> str:
    return "".join(secrets.choice(ALPHABET) for _ in range(CODE_LENGTH))


def normalise_code(value: str) -> str:
    """Case and spaces (and dashes people add when reading it out) don't matter."""
    return "".join(ch for ch in value.upper() if ch.isalnum())


# --- joining on the day ----------------------------------------------------------------
# After a code works, the next page carries a short-lived signed "ticket" for it, so the
# name-and-house-rules page can be reloaded without counting as another guess.

TICKET_LIFETIME_SECONDS = 30 * 60


def make_ticket(secret_key: str, code: str, now: datetime) -> str:
    expires = int(now.timestamp()) + TICKET_LIFETIME_SECONDS
    payload = f"{code}.{expires}"
    return f"{payload}.{_sign(secret_key, payload)}"


def read_ticket(secret_key: str, ticket: str, now: datetime) -> str | None:
    """The code a ticket was made for, if it is genuine and not expired; otherwise None."""
    parts = ticket.split(".")
    if len(parts) != 3 or len(ticket) > 100:
        return None
    code, expires, signature = parts
    if not hmac.compare_digest(signature, _sign(secret_key, f"{code}.{expires}")):
        return None
    if not expires.isdigit() or int(expires) < now.timestamp():
        return None
    return code


def _sign(secret_key: str, payload: str) -> str:
    return hmac.new(secret_key.encode(), b"join|" + payload.encode(), "sha256").hexdigest()[:32]


def brute_force_years(per_minute: int, live_codes: int = 1) -> float:
    """Expected years for one address to hit a live code by guessing (half the space)."""
    space = len(ALPHABET) ** CODE_LENGTH
    minutes = (space / 2) / live_codes / per_minute
    return minutes / (60 * 24 * 365)
