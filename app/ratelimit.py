"""Rate limits on anything guessable, with the `limits` library.

In memory on one machine; shared through Redis when HEARD_REDIS_URL is set, so several
processes count together.
"""

from __future__ import annotations

import hashlib

from fastapi import HTTPException, Request
from limits import RateLimitItem, parse
from limits.storage import MemoryStorage, Storage, storage_from_string
from limits.strategies import MovingWindowRateLimiter


class RateLimits:
    def __init__(self, redis_url: str | None, namespace: str = "heard") -> None:
        storage = (
            storage_from_string(redis_url, key_prefix=f"{namespace}-limits")
            if redis_url
            else MemoryStorage()
        )
        assert isinstance(storage, Storage)
        self.storage: Storage = storage
        self.limiter = MovingWindowRateLimiter(self.storage)

    def hit(self, rate: str | RateLimitItem, *keys: str) -> bool:
        item = parse(rate) if isinstance(rate, str) else rate
        return self.limiter.hit(item, *keys)

    def check(self, rate: str, *keys: str) -> None:
        """Count one try; refuse with a 429 page once the limit is reached."""
        if not self.hit(rate, *keys):
            raise HTTPException(status_code=429)

    def refuse_if_spent(self, rate: str, *keys: str) -> None:
        """Refuse (429) when the limit is already used up, without counting this try.

        With `hit` after a failure, this limits failures only: a class of 30 on one school
        Wi-Fi address all typing the right code is never stopped, a guesser is.
        """
        if not self.limiter.test(parse(rate), *keys):
            raise HTTPException(status_code=429)

    def reset(self) -> None:
        self.storage.reset()


def email_key(email: str) -> str:
    """An email address as a limiter key: hashed, so the store never holds the address."""
    return hashlib.sha256(email.strip().lower().encode()).hexdigest()[:24]


def client_key(request: Request) -> str:
    """Who is asking, by IP, hashed so the limiter's store never holds an address."""
    host = request.client.host if request.client else "unknown"
    return hashlib.sha256(host.encode()).hexdigest()[:24]
