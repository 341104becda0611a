"""Moderation: the queue (urgent first, then held, then reported, then waiting), decisions,
approving several at once, removing someone, screening words staff add, who may moderate
which space, counts that follow live, and one decision when two moderators act at once
(real concurrent HTTP requests against a real server, on SQLite and PostgreSQL)."""

from __future__ import annotations

import re
import secrets
import socket
import threading
import time
from collections import Counter
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import httpx
import pytest
from sqlmodel import Session, col, select

from app.config import Settings
from app.models import AuditEntry, Post, PostState, Programme, Role, SpaceMode, WorkshopFacilitator
from app.services import identity, moderation
from app.services.identity import Identity
from tests.conftest import BACKENDS
from tests.factories import COOKIE, make_programme, make_programme_staff, make_staff
from tests.live_processes import TIMEOUT, fresh_database, wait_until_up
from tests.spaces_support import a_room, as_person, as_staff, join, post, sent_id
from tests.test_events import Frames, stream

PHONE_POST = "ring me on 07700 900123 tonight"
DISCLOSURE = "my stepdad hurts me and i dont feel safe at home"


@pytest.fixture
def settings(settings: Settings) -> Settings:
    return settings.model_copy(
        update={
            "live_heartbeat_seconds": 0.3,
            "live_session_check_seconds": 600,
            "live_redis_channel": f"heard:test-moderation:{secrets.token_hex(4)}",
        }
    )


def _csrf(page_text: str) -> str:
    return re.search(r'name="csrf-token" content="([^"]+)"', page_text).group(1)


def _posted(client, room, session, clock, *texts):
    sky = join(session, room, f"Sky{secrets.token_hex(2)}", clock.now)
    as_person(client, session, sky, clock.now)
    return sky, [sent_id(post(client, room, text)) for text in texts]


# --- the queue -----------------------------------------------------------------------------


def test_the_queue_puts_urgent_first_then_held_reported_and_waiting(
    client, session, clock, settings
):
    room = a_room(session, clock.now)
    _, (waiting, held, urgent, shared) = _posted(
        client, room, session, clock, "Waiting post", PHONE_POST, DISCLOSURE, "Shared post"
    )
    lead = Identity(staff=room.admin, roles={(Role.ADMIN, None), (Role.SAFEGUARDING_LEAD, None)})
    found = session.get(Post, shared)
    moderation.decide(
        session, settings, found, room.space, "approve", found.version, lead, clock.now
    )
    reporter = join(session, room, "Robin", clock.now)
    as_person(client, session, reporter, clock.now)
    client.submit(f"/spaces/{room.space.id}/posts/{shared}/report", {"reason": "bullying"})

    lead_staff = make_staff(session, Role.SAFEGUARDING_LEAD)
    as_staff(client, session, lead_staff, clock.now)
    page = client.get("/moderation").text
    order = [page.index(h) for h in ("Urgent:", "Held by screening", "Reported", "Waiting to be")]
    assert order == sorted(order)
    assert "my stepdad hurts me" in page  # a safeguarding lead reads it
    assert "07700 900123" in page and "Waiting post" in page and "Shared post" in page
    assert "1 urgent, 1 held, 1 reported, 1 waiting" in page

    moderator = make_staff(session, Role.MODERATOR)
    as_staff(client, session, moderator, clock.now)
    page = client.get("/moderation").text
    assert "my stepdad hurts me" not in page  # only safeguarding leads see a concern's post
    assert "1 post has gone to a safeguarding lead" in page
    assert client.get(f"/moderation/posts/{urgent}").status_code == 404
    assert client.get(f"/moderation/posts/{held}").status_code == 200
    assert client.get(f"/moderation/posts/{waiting}").status_code == 200


def test_approve_reject_hide_and_edit_are_what_the_author_and_others_see(client, session, clock):
    room = a_room(session, clock.now)
    sky, (one, two, three) = _posted(
        client, room, session, clock, "One thing", "Jo Bloggs was my worker", "Three"
    )
    robin = join(session, room, "Robin", clock.now)
    moderator = make_staff(session, Role.MODERATOR)
    as_staff(client, session, moderator, clock.now)

    def act(post_id: int, **form: str):
        page = client.get(f"/moderation/posts/{post_id}")
        version = re.search(r'name="version" value="(\d+)"', page.text).group(1)
        return client.post(
            f"/moderation/posts/{post_id}",
            data={"csrf_token": _csrf(page.text), "version": version, **form},
        )

    assert act(one, action="approve").headers["location"] == "/moderation"
    no_reason = act(three, action="reject")
    assert no_reason.status_code == 200 and "Choose a reason" in no_reason.text
    act(three, action="reject", reason="topic")
    # Edit with a note (a surname out), then share it.
    page = client.get(f"/moderation/posts/{two}")
    version = re.search(r'name="version" value="(\d+)"', page.text).group(1)
    no_note = client.post(
        f"/moderation/posts/{two}/edit",
        data={"csrf_token": _csrf(page.text), "version": version, "body": "Jo was my worker"},
    )
    assert no_note.status_code == 200 and "Say what you changed" in no_note.text
    edited = client.post(
        f"/moderation/posts/{two}/edit",
        data={
            "csrf_token": _csrf(page.text),
            "version": version,
            "body": "Jo was my worker",
            "note": "Took out a surname",
        },
    )
    assert edited.status_code == 303
    act(two, action="approve")

    as_person(client, session, robin, clock.now)
    page = client.get(room.thread_url).text
    assert "One thing" in page and "Jo was my worker" in page and "Bloggs" not in page
    assert "A moderator changed this post" in page and "Took out a surname" in page
    assert "Three" not in page
    as_person(client, session, sky, clock.now)
    page = client.get(room.thread_url).text
    assert "Not shared" in page and "It was not about this question" in page

    # Hide a shared post: gone for others, its author is told.
    as_staff(client, session, moderator, clock.now)
    act(one, action="hide")
    as_person(client, session, robin, clock.now)
    assert "One thing" not in client.get(room.thread_url).text
    actions = {e.action for e in session.exec(select(AuditEntry)).all()}
    assert {"post.approve", "post.reject", "post.hide", "post.edited_by_moderator"} <= actions
    for entry in session.exec(select(AuditEntry)).all():
        assert "Bloggs" not in str(entry.detail) and "One thing" not in str(entry.detail)


def test_approving_several_at_once(client, session, clock):
    room = a_room(session, clock.now)
    _, ids = _posted(client, room, session, clock, "A", "B", "C")
    moderator = make_staff(session, Role.MODERATOR)
    as_staff(client, session, moderator, clock.now)
    page = client.get("/moderation").text
    picks = re.findall(r'name="pick" value="(\d+:\d+)"', page)
    assert len(picks) == 3 and 'form="approve-several"' in page
    response = client.post(
        "/moderation/approve", data={"csrf_token": _csrf(page), "pick": picks[:2]}
    )
    assert response.status_code == 303
    states = [session.get(Post, i) for i in ids]
    for state in states:
        session.refresh(state)
    assert [s.state for s in states] == [PostState.SHARED, PostState.SHARED, PostState.WAITING]
    # The same picks again (a double tap): nothing more happens.
    client.post("/moderation/approve", data={"csrf_token": _csrf(page), "pick": picks[:2]})
    approvals = session.exec(select(AuditEntry).where(AuditEntry.action == "post.approve")).all()
    assert len(approvals) == 2


def test_a_moderator_removes_someone_from_the_space_at_once(client, session, clock):
    room = a_room(session, clock.now)
    sky, (post_id,) = _posted(client, room, session, clock, "hello")
    moderator = make_staff(session, Role.MODERATOR)
    as_staff(client, session, moderator, clock.now)
    page = client.get(f"/moderation/posts/{post_id}").text
    assert "Remove" in page and "from this space" in page
    response = client.post(f"/moderation/posts/{post_id}/remove", data={"csrf_token": _csrf(page)})
    assert response.status_code == 303
    as_person(client, session, sky, clock.now)
    assert client.get(room.thread_url).status_code == 403


def test_who_may_moderate_which_space(client, session, clock):
    room = a_room(session, clock.now)
    _, (post_id,) = _posted(client, room, session, clock, "hello")
    programme = session.get(Programme, room.workshop.programme_id)
    elsewhere = make_programme(session)
    cases = {
        "its programme's moderator": (
            make_programme_staff(session, Role.MODERATOR, programme),
            200,
        ),
        "another programme's moderator": (
            make_programme_staff(session, Role.MODERATOR, elsewhere),
            404,
        ),
        "an unassigned facilitator": (
            make_programme_staff(session, Role.FACILITATOR, programme),
            404,
        ),
        "a reviewer": (make_staff(session, Role.REVIEWER), 403),
    }
    assigned = make_programme_staff(session, Role.FACILITATOR, programme)
    session.add(WorkshopFacilitator(workshop_id=room.workshop.id, staff_id=assigned.id))
    cases["its assigned facilitator"] = (assigned, 200)
    session.commit()
    for name, (member, status) in cases.items():
        as_staff(client, session, member, clock.now)
        got = client.get(f"/moderation/posts/{post_id}").status_code
        assert got == status, name
        if status == 200:
            assert "hello" in client.get("/moderation").text, name
        elif status == 404:
            assert "hello" not in client.get("/moderation").text, name


def test_screening_words_staff_add_work_at_once(client, session, clock):
    room = a_room(session, clock.now, mode=SpaceMode.POST_MODERATED, audience="young_adults")
    moderator = make_staff(session, Role.MODERATOR)
    as_staff(client, session, moderator, clock.now)
    page = client.get("/moderation/words")
    assert page.status_code == 200
    missing = client.submit("/moderation/words", {"phrase": "  "})
    assert "Choose what the word or phrase is a sign of" in missing.text
    client.submit("/moderation/words", {"phrase": "Purple Lanyard", "kind": "disclosure"})
    client.submit("/moderation/words", {"phrase": "pineapplehead", "kind": "abuse"})
    assert "purple lanyard" in client.get("/moderation/words").text
    _, (flagged, insulted, fine) = _posted(
        client,
        room,
        session,
        clock,
        "they gave me the purple lanyard again",
        "you pineapplehead",
        "pineapples are nice",
    )
    states = [session.get(Post, i).state for i in (flagged, insulted, fine)]
    assert states == [PostState.CONCERN, PostState.HELD, PostState.SHARED]
    # A facilitator can't change the lists.
    facilitator = make_staff(session, Role.FACILITATOR)
    as_staff(client, session, facilitator, clock.now)
    assert client.get("/moderation/words").status_code == 403


def test_the_queue_counts_follow_live(app, client, session, clock):
    now = datetime.now(UTC)
    clock.now = now
    room = a_room(session, now)
    sky = join(session, room, "Sky", now)
    moderator = make_staff(session, Role.MODERATOR)
    as_staff(client, session, moderator, now)
    page = client.get("/moderation").text
    assert "Nothing to check" in page
    path = re.search(r'sse-connect="([^"]+)"', page).group(1).replace("&amp;", "&")
    with stream(client, path) as response:
        frames = Frames(response)
        frames.next("live")
        time.sleep(0.5)  # its first read (tests share one connection between threads)
        from app.services import spaces

        spaces.write(session, app.state.settings, room.space, room.thread, sky, "New one", now)
        session.commit()
        frame = frames.next("queue-counts")
        assert 'id="queue-counts"' in frame.data and "1 waiting" in frame.data
        assert 'data-live-announce="1 waiting"' in frame.data
        assert "New one" not in frame.data  # counts only: nothing anyone wrote


def test_staff_of_a_live_workshop_are_told_without_the_text(client, session, clock):
    room = a_room(session, clock.now, starts_at=clock.now - timedelta(minutes=10))
    programme = session.get(Programme, room.workshop.programme_id)
    facilitator = make_programme_staff(session, Role.FACILITATOR, programme)
    session.add(WorkshopFacilitator(workshop_id=room.workshop.id, staff_id=facilitator.id))
    session.commit()
    from app import events

    sky = join(session, room, "Sky", clock.now)
    as_person(client, session, sky, clock.now)
    recorded: list = []
    original = events.record

    def spy(db, name, **data):
        recorded.append((name, data))
        return original(db, name, **data)

    events.record = spy
    try:
        post(client, room, DISCLOSURE)
    finally:
        events.record = original
    alerted = [data for name, data in recorded if name == "safeguarding.alerted"]
    assert alerted and alerted[0]["workshop_id"] == room.workshop.id
    assert all("stepdad" not in str(data) for _, data in recorded)
    as_staff(client, session, facilitator, clock.now)
    page = client.get("/moderation").text
    assert "a safeguarding lead has been alerted about a post" in page
    assert "stepdad" not in page


# --- two moderators, one post, at the same moment ------------------------------------------


@pytest.fixture(scope="module", params=BACKENDS)
def server(request, tmp_path_factory) -> Iterator[tuple[str, str]]:
    import uvicorn

    from app.main import create_app

    with fresh_database(
        request.param, tmp_path_factory.mktemp("moderation"), prefix="heard_spaces_mod"
    ) as url:
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(("127.0.0.1", 0))
        base = f"http://127.0.0.1:{sock.getsockname()[1]}"
        app = create_app(
            Settings(
                env="test",
                database_url=url,
                secret_key=secrets.token_urlsafe(36),
                base_url=base,
                mail_dir=tmp_path_factory.mktemp("moderation-mail"),
            )
        )
        uv = uvicorn.Server(
            uvicorn.Config(app, log_config=None, log_level="warning", lifespan="on")
        )
        thread = threading.Thread(target=uv.run, kwargs={"sockets": [sock]}, daemon=True)
        thread.start()
        try:
            wait_until_up(f"{base}/healthz", thread.is_alive)
            yield base, url
        finally:
            uv.should_exit = True
            thread.join(timeout=15)
            sock.close()
            app.state.engine.dispose()


def test_two_moderators_acting_on_one_post_at_once_get_one_decision(server):
    from app.db import make_engine

    base, url = server
    engine = make_engine(url)
    now = datetime.now(UTC)
    actions = ("approve", "reject", "hide", "approve", "hide", "approve")
    with Session(engine) as session:
        room = a_room(session, now)
        person = join(session, room, "Sky", now)
        ids = []
        for n in range(len(actions)):
            session.add(
                Post(
                    space_id=room.space.id,
                    thread_id=room.thread.id,
                    participant_id=person.id,
                    body=f"post {n}",
                    state=PostState.WAITING,
                    created_at=now,
                )
            )
            session.flush()
            ids.append(session.exec(select(Post.id).order_by(col(Post.id).desc())).first())
        browsers = []
        for _ in range(2):
            member = make_staff(session, Role.MODERATOR)
            token = secrets.token_urlsafe(32)
            identity.start_session(session, token, now, timedelta(hours=1), staff=member)
            browsers.append(httpx.Client(base_url=base, cookies={COOKIE: token}, timeout=TIMEOUT))
        session.commit()
    outcomes: list[str] = []
    try:
        for post_id, action in zip(ids, actions, strict=True):
            forms = []
            for browser in browsers:
                page = browser.get(f"/moderation/posts/{post_id}").text
                forms.append({"csrf_token": _csrf(page), "version": "1", "action": action})
            if action == "reject":
                for form in forms:
                    form["reason"] = "topic"
            barrier = threading.Barrier(2)
            results: list[httpx.Response] = []

            def press(browser: httpx.Client, form: dict, barrier=barrier, results=results) -> None:
                barrier.wait(timeout=TIMEOUT)
                results.append(browser.post(f"/moderation/posts/{post_id}", data=form))

            pressing = [
                threading.Thread(target=press, args=(b, f))
                for b, f in zip(browsers, forms, strict=True)
            ]
            for t in pressing:
                t.start()
            for t in pressing:
                t.join(timeout=TIMEOUT)
            kinds = Counter("decided" if r.status_code == 303 else "told" for r in results)
            assert kinds == Counter({"decided": 1, "told": 1}), [r.status_code for r in results]
            told = next(r for r in results if r.status_code != 303)
            assert told.status_code == 200 and "Someone else has already decided" in told.text
            outcomes.append(action)
    finally:
        for browser in browsers:
            browser.close()
    with Session(engine) as session:
        for post_id, action in zip(ids, actions, strict=True):
            entries = session.exec(
                select(AuditEntry).where(
                    AuditEntry.record_type == "post", AuditEntry.record_id == str(post_id)
                )
            ).all()
            assert [e.action for e in entries] == [f"post.{action}"]
            stored = session.get(Post, post_id)
            assert stored.version == 2
    engine.dispose()
    assert outcomes == list(actions)


def test_a_long_queue_shows_the_oldest_first_and_says_how_many(client, session, clock):
    from app.services import moderation_queue

    room = a_room(session, clock.now)
    sky = join(session, room, "Sky", clock.now)
    for n in range(moderation_queue.SHOWN + 5):
        session.add(
            Post(
                space_id=room.space.id,
                thread_id=room.thread.id,
                participant_id=sky.id,
                body=f"waiting post {n}",
                state=PostState.WAITING,
                created_at=clock.now + timedelta(seconds=n),
            )
        )
    session.commit()
    moderator = make_staff(session, Role.MODERATOR)
    as_staff(client, session, moderator, clock.now)
    page = client.get("/moderation").text
    assert f"{moderation_queue.SHOWN + 5} waiting" in page
    assert f"The oldest {moderation_queue.SHOWN} of {moderation_queue.SHOWN + 5}" in page
    assert "waiting post 0<" in page and f"waiting post {moderation_queue.SHOWN + 4}<" not in page
    # Sharing them all at once is one short write.
    picks = re.findall(r'name="pick" value="(\d+:\d+)"', page)
    client.post("/moderation/approve", data={"csrf_token": _csrf(page), "pick": picks})
    page = client.get("/moderation").text
    assert "5 waiting" in page
