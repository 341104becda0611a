"""Join codes: 6 characters from an alphabet without look-alikes (no 0/O, 1/I/L)."""

from __future__ import annotations

import secrets

ALPHABET = "ABCDEFGHJKMNPQRSTUVWXYZ23456789"
CODE_LENGTH = 6


def new_code() -> str:
    return "".join(secrets.choice(ALPHABET) for _ in range(CODE_LENGTH))


def normalise_code(value: str) -> str:
    """Case and spaces (and dashes people add when reading it out) don't matter."""
    return "".join(ch for ch in value.upper() if ch.isalnum())
