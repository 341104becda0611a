"""Short-lived copies of what a whole room reads at the same moment.

When 300 phones open the home page, a workshop page or their room together, they all ask the
database the same questions within a second. This keeps each answer for a moment
(HEARD_READ_CACHE_SECONDS, default 2) so the database is asked once.

Staying right:
- any request in this process that commits a write empties the cache at once, so a person
  always sees their own change (and everyone else's made through this process);
- a write made by another process (another web worker, the worker, a command) shows within
  the cache's few seconds;
- a load that started before an emptying is never stored (the generation check).
Values must be plain data or detached rows that are never changed by their readers; rows
are attached to a request's database session with `merge(load=False)` before use.
"""

from __future__ import annotations

import asyncio
import secrets
import threading
import time
from collections.abc import Awaitable, Callable, Hashable
from typing import Any, TypeVar

from starlette.concurrency import run_in_threadpool

T = TypeVar("T")
_FAILED = object()  # what a run that raised leaves for those waiting on it

# The live-update topic on which a process says it wrote (app/routing.py) and the others
# empty their caches (app/main.py).
WRITTEN_TOPIC = "read-cache"


class ReadCache:
    def __init__(
        self, seconds: float, max_entries: int = 20_000, personal_seconds: float | None = None
    ) -> None:
        self.seconds = seconds
        # One person's own entries (who a browser is, what their room shows): asked for by
        # that one phone only, so kept longer to be worth keeping at all; emptied by writes
        # like the rest (app/main.py keeps them this long only where every write is heard).
        self.personal_seconds = (
            seconds if personal_seconds is None or seconds <= 0 else personal_seconds
        )
        self.max_entries = max_entries
        self.generation = 0
        # Names this process in the "written" events other processes hear (app/main.py).
        self.process = secrets.token_hex(8)
        self._entries: dict[Hashable, tuple[float, int, Any]] = {}
        self._lock = threading.Lock()
        self._running: dict[Hashable, asyncio.Future[Any]] = {}

    @property
    def enabled(self) -> bool:
        return self.seconds > 0

    def get(self, key: Hashable, load: Callable[[], T], *, personal: bool = False) -> T:
        if self.seconds <= 0:
            return load()
        hit = self._entries.get(key)
        now = time.monotonic()
        if hit is not None and hit[0] > now and hit[1] == self.generation:
            value: T = hit[2]
            return value
        generation = self.generation
        value = load()
        self.put(key, value, generation, personal=personal)
        return value

    async def load(self, key: Hashable, load: Callable[[], T], *, personal: bool = False) -> T:
        """`get` for async routes: a hit costs no thread; a miss loads in a worker thread,
        once: requests that miss while it loads wait for that load instead of starting their
        own (a phone on bad signal sending the same request again, a page and its poll)."""
        hit = self.peek(key)
        if hit is not None:
            value: T = hit
            return value
        return await self.once(
            key, lambda: run_in_threadpool(lambda: self.get(key, load, personal=personal))
        )

    async def once(self, key: Hashable, start: Callable[[], Awaitable[T]]) -> T:
        """Run `start()` for this key unless a run for it is already under way in this event
        loop, in which case wait for that one's answer. If that run fails or is cancelled,
        each waiter runs its own."""
        loop = asyncio.get_running_loop()
        running = self._running.get(key)
        if running is not None and running.get_loop() is loop:
            answer = await asyncio.shield(running)
            if answer is not _FAILED:
                shared: T = answer
                return shared
            return await start()
        future: asyncio.Future[Any] = loop.create_future()
        self._running[key] = future
        try:
            value = await start()
        except BaseException:
            future.set_result(_FAILED)
            raise
        else:
            future.set_result(value)
            return value
        finally:
            if self._running.get(key) is future:
                del self._running[key]

    def peek(self, key: Hashable) -> Any:
        """The stored value, or None (for callers that must load on another thread)."""
        hit = self._entries.get(key)
        if hit is None or hit[0] <= time.monotonic() or hit[1] != self.generation:
            return None
        return hit[2]

    def put(
        self, key: Hashable, value: Any, generation: int | None = None, *, personal: bool = False
    ) -> None:
        if self.seconds <= 0:
            return
        keep = self.personal_seconds if personal else self.seconds
        with self._lock:
            if generation is not None and generation != self.generation:
                return  # emptied while this was loading: it may be out of date
            if len(self._entries) >= self.max_entries:
                self._entries.clear()
            self._entries[key] = (time.monotonic() + keep, self.generation, value)

    def forget(self, key: Hashable) -> None:
        with self._lock:
            self._entries.pop(key, None)

    def clear(self) -> None:
        with self._lock:
            self.generation += 1
            self._entries.clear()
