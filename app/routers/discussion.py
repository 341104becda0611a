"""Discussion in spaces, moderation and safeguarding (issue 11): one router for the app to
include, made of each part's own router."""

from __future__ import annotations

from app import routing
from app.routers import live_spaces, moderation, safeguarding, space_posts, spaces, staff_spaces

router = routing.router()
for part in (spaces, space_posts, staff_spaces, moderation, safeguarding, live_spaces):
    router.include_router(part.router)
