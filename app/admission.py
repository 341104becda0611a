"""What lets a request in: a bound on requests in flight, and a cap on request bodies.

Why a bound: each request in flight can hold one worker thread and up to two database
connections (its unit of work, and the occasional "still here" touch of its session). Letting
in more requests than there are threads or connections is what stalled a process under a
burst: requests holding connections waited for threads while threads waited for connections,
until the pool's 30-second timeout turned them all into errors. Waiting *here* costs neither a
thread nor a connection, so a burst of 300 phones queues for a moment and is served in order.
A request that would wait too long gets a kind "try again in a few seconds" page at once.

Why a cap before reading: a 200 MB form body used to be read whole (and grow the process by
as much) before the CSRF check refused it.
"""

from __future__ import annotations

import asyncio
import logging
import re
from collections import deque
from collections.abc import Callable, Sequence
from typing import Any

from starlette.requests import Request
from starlette.types import ASGIApp, Message, Receive, Scope, Send

log = logging.getLogger("heard.admission")

# Never queued: the process's own health (must answer during any burst, without the
# database), static files (no thread, no database) and held-open live streams (they hold no
# connection and manage their own limits).
EXEMPT_PREFIXES = ("/healthz", "/static/", "/live/")

READS = {"GET", "HEAD", "OPTIONS"}
Renderer = Callable[[Request, int], Any]


class AdmissionGate:
    """At most `limit` requests inside the app at once; the rest wait their turn, briefly.

    With `writes_only`, a gate for writing requests alone: SQLite has one writer, and a
    writing request takes the lock at its first query and then needs more worker threads (the
    route, then the commit). With 50 people pressing "Sign up" at once, every thread could end
    up waiting for the lock while the request holding it waits for a thread. Writers wait at
    this gate instead, outside the main one, so they never keep readers out.

    Waiters are served first come, first served; a freed slot is handed straight to the next
    waiter. A waiter not let in within `max_wait` seconds, or arriving when `max_queue` are
    already waiting, gets the 503 page instead.
    """

    def __init__(
        self,
        app: ASGIApp,
        *,
        limit: int,
        max_wait: float,
        max_queue: int,
        refuse: Renderer,
        writes_only: bool = False,
    ) -> None:
        self.app = app
        self.writes_only = writes_only
        self.limit = max(limit, 1)
        self.max_wait = max_wait
        self.max_queue = max_queue
        self.refuse = refuse
        self.in_flight = 0
        self.queue: deque[asyncio.Future[bool]] = deque()
        self.refused = 0

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if (
            scope["type"] != "http"
            or scope.get("path", "").startswith(EXEMPT_PREFIXES)
            or (self.writes_only and scope.get("method") in READS)
        ):
            await self.app(scope, receive, send)
            return
        if not await self._enter():
            self.refused += 1
            log.warning("request refused: busy", extra={"count": self.refused})
            response = self.refuse(Request(scope), 503)
            response.headers["Retry-After"] = "5"
            await response(scope, receive, send)
            return
        try:
            await self.app(scope, receive, send)
        finally:
            self._leave()

    async def _enter(self) -> bool:
        if self.in_flight < self.limit and not self.queue:
            self.in_flight += 1
            return True
        if len(self.queue) >= self.max_queue:
            return False
        loop = asyncio.get_running_loop()
        turn: asyncio.Future[bool] = loop.create_future()
        self.queue.append(turn)
        timer = loop.call_later(self.max_wait, self._expire, turn)
        try:
            return await turn
        except asyncio.CancelledError:
            # The phone went away while waiting. If a slot was handed over meanwhile, pass it on.
            if turn.done() and not turn.cancelled() and turn.result():
                self._leave()
            raise
        finally:
            timer.cancel()

    def _expire(self, turn: asyncio.Future[bool]) -> None:
        if not turn.done():
            turn.set_result(False)
            self.queue.remove(turn)

    def _leave(self) -> None:
        while self.queue:
            turn = self.queue.popleft()
            if not turn.done():
                turn.set_result(True)  # the slot moves to the next in line
                return
        self.in_flight -= 1


class BodyLimit:
    """Refuse a request body over `max_bytes` with 413, before reading it into memory.

    A declared Content-Length over the limit is refused without reading a byte; a body sent
    without one (chunked) is counted as it arrives and cut off at the limit.
    """

    def __init__(
        self,
        app: ASGIApp,
        *,
        max_bytes: int,
        refuse: Renderer,
        larger: Sequence[tuple[re.Pattern[str], int]] = (),
    ) -> None:
        self.app = app
        self.max_bytes = max_bytes
        self.refuse = refuse
        # Forms that take a file (their addresses, and the most each may send).
        self.larger = tuple(larger)

    def limit(self, path: str) -> int:
        for pattern, max_bytes in self.larger:
            if pattern.fullmatch(path):
                return max_bytes
        return self.max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope.get("method") in READS:
            await self.app(scope, receive, send)
            return
        max_bytes = self.limit(scope.get("path", ""))
        declared = _content_length(scope)
        if declared is not None and declared > max_bytes:
            await self._refuse(scope, receive, send)
            return
        received = 0
        too_big = False
        started = False

        async def counted_receive() -> Message:
            nonlocal received, too_big
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > max_bytes:
                    too_big = True
                    raise BodyTooLarge
            return message

        async def watched_send(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            await self.app(scope, counted_receive, watched_send)
        except BodyTooLarge:
            if not started:
                await self._refuse(scope, receive, send)
        except Exception:
            # The app may wrap our signal in its own error while parsing a form.
            if too_big and not started:
                await self._refuse(scope, receive, send)
                return
            raise

    async def _refuse(self, scope: Scope, receive: Receive, send: Send) -> None:
        response = self.refuse(Request(scope), 413)
        response.headers["Connection"] = "close"
        await response(scope, receive, send)


class BodyTooLarge(Exception):
    pass


def _content_length(scope: Scope) -> int | None:
    for key, value in scope.get("headers", []):
        if key == b"content-length":
            try:
                return int(value)
            except ValueError:
                return None
    return None
