"""The role matrix: every route declares a policy, and every route lets in exactly whom it should.

Who is who: anonymous; a participant who owns the seeded sign-up and consent and is in the
seeded workshop's room; a participant of another workshop (owns nothing seeded); each staff
role everywhere; the facilitator assigned to the seeded workshop (a facilitator of its
programme); and a facilitator of another programme who is not assigned to it.

Path parameters are filled with REAL objects seeded for each test (SAMPLES), so an object
route is really reached: a route whose path has a parameter without a sample fails
`test_every_path_parameter_has_a_real_sample`.

Two tables, written out by hand, independently of the policy code:
- EXPECTED: the route-level policy -> who gets past it. Everyone else is refused (403, or
  sent to sign in). A new policy without a row fails `test_every_policy_has_a_row_in_the_matrix`.
- OBJECT: for routes whose access also depends on the object, who (of those the policy lets
  in) may reach that object. Everyone else gets a 404, never a 403 that confirms it exists.

Token routes (`/sign-ups/{token}…`) are public to whoever holds the token: the right one works
for everyone (EXPECTED "public"), and a wrong one is a 404 (`test_a_wrong_token_finds_nothing`).
"""

from __future__ import annotations

import io
import re
from dataclasses import dataclass, field
from datetime import timedelta
from types import SimpleNamespace
from typing import Any, NamedTuple

import pytest
from fastapi.routing import APIRoute
from sqlmodel import select

from app.deps import policy_of
from app.models import (
    Call,
    CallKind,
    ConsentPurpose,
    OutboxEmail,
    Participant,
    Programme,
    Role,
    StaffUser,
    WorkshopFacilitator,
)
from app.permissions import Policy
from app.security import csrf_token, new_token
from app.services import consent, rooms, signups
from tests.conftest import build_workshop
from tests.factories import (
    COOKIE,
    make_programme,
    make_programme_staff,
    make_staff,
    sign_in,
)

STAFF_ROLES = [f"staff:{role.value}" for role in Role]
WHO = [
    "anonymous",
    "participant",
    "other_participant",
    *STAFF_ROLES,
    "assigned_facilitator",
    "unassigned_facilitator",
]
PARTICIPANTS = {"participant", "other_participant"}
STAFF = {*STAFF_ROLES, "assigned_facilitator", "unassigned_facilitator"}
FACILITATORS = {"staff:facilitator", "assigned_facilitator", "unassigned_facilitator"}

# policy name -> who gets past it. Everyone else is refused (403, or sent to sign in).
EXPECTED: dict[str, set[str]] = {
    "public": set(WHO),
    "development_only": set(WHO),  # a 404 outside development, tested separately
    "participant": PARTICIPANTS,
    "any_staff": STAFF,
    "admin": {"staff:admin"},
    "manage_staff": {"staff:admin"},
    # Programme-scoped facilitators get past the route's policy; the object decides.
    "facilitator": {"staff:admin", *FACILITATORS},
    "moderator": {"staff:moderator", "staff:safeguarding_lead"},
    # Moderating spaces: moderators and leads, and staff who run workshops (the object decides).
    "moderate": {
        "staff:admin",
        "staff:moderator",
        "staff:safeguarding_lead",
        *FACILITATORS,
    },
    "safeguarding": {"staff:safeguarding_lead"},
    "analyst": {"staff:admin", "staff:analyst"},
    "reviewer": {"staff:admin", "staff:reviewer"},
}

# A path (and everything under it) -> who may reach the seeded object there. Of those the
# policy lets in, everyone else gets a 404.
RUNS_THE_WORKSHOP = {"staff:admin", "assigned_facilitator"}
OBJECT: dict[str, set[str]] = {
    "/staff/workshops/{workshop_id}": RUNS_THE_WORKSHOP,
    "/staff/check-in/{token}": RUNS_THE_WORKSHOP,  # an attendee's QR code
    "/me/consents/{consent_id}": {"participant"},  # only the owner
    "/workshops/{slug}/room": {"participant"},  # only people in that workshop
    # Live streams: exactly as the page they belong to.
    "/live/workshops/{slug}/room": {"participant"},
    "/live/staff/workshops/{workshop_id}": RUNS_THE_WORKSHOP,
    # Spaces: only people in the workshop's room; staff spaces: the staff who run it.
    "/spaces/{space_id}": {"participant"},
    "/workshops/{slug}/space": {"participant"},
    "/live/spaces/{space_id}": {"participant"},
    "/staff/spaces/{space_id}": RUNS_THE_WORKSHOP,
    # A post to moderate: moderators and leads everywhere, and the staff who run its workshop.
    "/moderation/posts/{post_id}": {
        "staff:admin",
        "staff:moderator",
        "staff:safeguarding_lead",
        "assigned_facilitator",
    },
}

# Routes that only exist for machines or other hosts (no HTML, no person).
NOT_FOR_PEOPLE = {"/healthz", "/readyz"}
# Run last: they end the person (and so every later request as them).
LAST = {("POST", "/me/delete"), ("POST", "/spaces/{space_id}/posts/{post_id}/delete")}


@dataclass
class World:
    """The seeded objects, and who is who."""

    workshop: Any
    sign_up: Any
    manage_token: str
    check_in_token: str
    consent_id: int
    call: Any
    colleague: StaffUser
    email_id: int
    people: dict[str, dict[str, Any]] = field(default_factory=dict)
    discussion: Any = None  # the workshop's space, its thread, a post, a concern, a word
    following: Any = None  # "Keep me updated": a subscription's links, a published update
    recruiting: Any = None  # an open round, an application's number and its applicant's link


# The path up to a parameter -> its value in the seeded world. Every path parameter of every
# route needs one (a new prefix needs a new row here, with a real object behind it).
SAMPLES: dict[str, Any] = {
    "/programmes/{slug}": lambda w: "test-programme",
    "/calls/{slug}": lambda w: w.call.slug,
    "/calls/{slug}/answer/{step}": lambda w: "about-you",  # every call has this step
    "/staff/calls/{call_id}": lambda w: w.call.id,
    "/workshops/{slug}": lambda w: w.workshop.slug,
    "/workshops/{slug}/sign-up/{step}": lambda w: signups.STEP_ORDER[0],
    "/workshops/{slug}/family/{step}": lambda w: "children",
    "/sign-ups/{token}": lambda w: w.manage_token,
    "/subscribe/confirm/{token}": lambda w: w.following.confirm_token,
    "/unsubscribe/{token}": lambda w: w.following.unsubscribe_token,
    "/rounds/{slug}": lambda w: w.recruiting.round.slug,
    "/rounds/{slug}/apply/{step}": lambda w: "about-you",  # every round has this step
    "/staff/rounds/{round_id}": lambda w: w.recruiting.round.id,
    "/staff/rounds/{round_id}/review/{number}": lambda w: w.recruiting.number,
    "/applications/{token}": lambda w: w.recruiting.token,
    "/staff/programmes/{programme_id}": lambda w: w.workshop.programme_id,
    "/staff/programmes/{programme_id}/updates/{update_id}": lambda w: w.following.update_id,
    "/staff/check-in/{token}": lambda w: w.check_in_token,
    "/staff/workshops/{workshop_id}": lambda w: w.workshop.id,
    "/staff/workshops/{workshop_id}/sign-ups/{sign_up_id}": lambda w: w.sign_up.id,
    "/staff/people/{staff_id}": lambda w: w.colleague.id,
    "/me/consents/{consent_id}": lambda w: w.consent_id,
    "/dev/mail/{email_id}": lambda w: w.email_id,
    "/live/workshops/{slug}": lambda w: w.workshop.slug,
    "/live/staff/workshops/{workshop_id}": lambda w: w.workshop.id,
    "/spaces/{space_id}": lambda w: w.discussion.space.id,
    "/spaces/{space_id}/threads/{thread_id}": lambda w: w.discussion.thread.id,
    "/spaces/{space_id}/posts/{post_id}": lambda w: w.discussion.post.id,
    "/live/spaces/{space_id}": lambda w: w.discussion.space.id,
    "/live/spaces/{space_id}/threads/{thread_id}": lambda w: w.discussion.thread.id,
    "/staff/spaces/{space_id}": lambda w: w.discussion.space.id,
    "/staff/spaces/{space_id}/threads/{thread_id}": lambda w: w.discussion.thread.id,
    "/moderation/posts/{post_id}": lambda w: w.discussion.post.id,
    "/moderation/words/{term_id}": lambda w: w.discussion.term.id,
    "/safeguarding/concerns/{concern_id}": lambda w: w.discussion.concern.id,
}

_PARAM = re.compile(r"\{([^}]+)\}")


class Route(NamedTuple):
    path: str
    methods: set[str]
    policy: Policy | None


def app_routes(app) -> list[Route]:
    """Every APIRoute, flattened out of included routers (FastAPI keeps those whole)."""
    try:
        from fastapi.routing import iter_route_contexts
    except ImportError:  # older FastAPI: included routes are copied onto the app
        found = [(r, r) for r in app.routes if isinstance(r, APIRoute)]
    else:
        found = [(rc, rc.original_route) for rc in iter_route_contexts(app.routes)]
    return [
        Route(str(rc.path), set(rc.methods or ()), policy_of(api))
        for rc, api in found
        if isinstance(api, APIRoute)
    ]


def missing_samples(path: str) -> list[str]:
    return [
        path[: match.end()] for match in _PARAM.finditer(path) if path[: match.end()] not in SAMPLES
    ]


def real_path(path: str, world: World) -> str:
    """The route's path with every parameter filled from the seeded world."""
    missing = missing_samples(path)
    assert not missing, f"{path}: no sample for {missing}; add them to SAMPLES"
    return _PARAM.sub(
        lambda match: str(SAMPLES[path[: match.end()]](world)),
        path,
    )


def object_rule(path: str) -> set[str] | None:
    """Who may reach this route's object (the longest matching OBJECT prefix), if it has one."""
    keys = [k for k in OBJECT if path == k or path.startswith(k + "/")]
    return OBJECT[max(keys, key=len)] if keys else None


# --- the seeded world ------------------------------------------------------------------


def _answers(name: str, email: str) -> dict[str, Any]:
    return {
        "display_name": name,
        "age_band": "16_17",  # the seeded workshops are for young people aged 13 to 17
        "whose": "mine",
        "email": email,
        "agree": ["yes"],
    }


def _in_the_room(session, settings, workshop, name: str, email: str, now) -> Any:
    """A confirmed sign-up, used to come into the room (so they are in that workshop)."""
    outcome = signups.sign_up(session, settings, workshop.id, _answers(name, email), now)
    assert outcome.result == "confirmed" and outcome.sign_up is not None
    entry = rooms.enter_with_sign_up(session, settings, workshop, outcome.sign_up, now)
    assert entry.result == "in", entry.result
    return outcome


@pytest.fixture
def world(session, settings, clock) -> World:
    now = clock.now
    # Starts soon: sign-up is open, the join code works, and people can be in the room.
    workshop = build_workshop(
        session, now, title="Matrix workshop", starts_at=now + timedelta(minutes=5)
    )
    other_programme = make_programme(session, "Another programme")
    elsewhere = build_workshop(
        session,
        now,
        title="Another workshop",
        programme_id=other_programme.id,
        starts_at=now + timedelta(minutes=5),
    )
    mine = _in_the_room(session, settings, workshop, "Sky", "sky@example.org", now)
    theirs = _in_the_room(session, settings, elsewhere, "Robin", "robin@example.org", now)
    owner = session.get(Participant, mine.sign_up.participant_id)
    take_part = consent.latest(session, owner.id, ConsentPurpose.TAKE_PART)
    call = Call(
        programme_id=workshop.programme_id,
        slug="matrix-call",
        kind=CallKind.IDEAS,
        title="Ideas for the matrix",
        summary="For tests",
        opens_at=now - timedelta(days=1),
        closes_at=now + timedelta(days=30),
    )
    session.add(call)
    # A facilitator of the workshop's own programme, assigned to it.
    assigned = make_programme_staff(
        session, Role.FACILITATOR, session.get(Programme, workshop.programme_id)
    )
    session.add(WorkshopFacilitator(workshop_id=workshop.id, staff_id=assigned.id))
    unassigned = make_programme_staff(session, Role.FACILITATOR, other_programme)
    email = session.exec(select(OutboxEmail)).first()
    people: dict[str, dict[str, Any]] = {
        "participant": {"participant": owner},
        "other_participant": {
            "participant": session.get(Participant, theirs.sign_up.participant_id)
        },
        "assigned_facilitator": {"staff": assigned},
        "unassigned_facilitator": {"staff": unassigned},
    }
    for role in Role:
        people[f"staff:{role.value}"] = {"staff": make_staff(session, role)}
    seeded = World(
        workshop=workshop,
        sign_up=mine.sign_up,
        manage_token=mine.manage_token,
        check_in_token=signups.check_in_token(settings, mine.sign_up),
        consent_id=take_part.id,
        call=call,
        colleague=make_staff(session, Role.REVIEWER),
        email_id=email.id,
        people=people,
        discussion=_discussion(session, settings, workshop, owner, now),
        following=_following(session, settings, workshop.programme_id, now),
        recruiting=_recruiting(session, now),
    )
    session.commit()
    return seeded


def _recruiting(session, now) -> SimpleNamespace:
    """An open round with one application (its applicant's own link is a token route)."""
    from app.models import Application, Group, Round, RoundStatus
    from app.security import token_hash

    group = Group(slug="matrix-group", name="Matrix group")
    session.add(group)
    session.flush()
    round_ = Round(
        group_id=group.id,
        slug="matrix-round",
        title="Join the matrix group",
        summary="For tests",
        time_asked="An hour",
        in_return="Thanks",
        who_can_apply="Anyone",
        how_info_used="To choose",
        criteria=["Experience"],
        opens_at=now - timedelta(days=1),
        closes_at=now + timedelta(days=30),
        status=RoundStatus.OPEN,
    )
    session.add(round_)
    session.flush()
    token = new_token()
    session.add(
        Application(
            round_id=round_.id,
            number=12345,
            reference="HRD-MTRX-22",
            submit_token_hash=token_hash(new_token()),
            manage_token_hash=token_hash(token),
            name="Robin",
            email="robin@example.org",
            age=18,
            consent_wording="I agree",
            submitted_at=now,
        )
    )
    session.flush()
    return SimpleNamespace(round=round_, number=12345, token=token)


def _discussion(session, settings, workshop, owner, now) -> SimpleNamespace:
    """The workshop room's space with a question, the owner's shared post (still theirs to
    change), a concern about another of their posts, and a screening word."""
    from PIL import Image as PILImage

    from app import uploads
    from app.models import ConcernSource, Post, PostState, ScreenTerm, ScreenTermKind
    from app.services import safeguarding, spaces_staff
    from app.services.identity import Identity

    staff = Identity(staff=make_staff(session, Role.ADMIN), roles={(Role.ADMIN, None)})
    space = spaces_staff.open_for_workshop(session, workshop, staff, now)
    picture = io.BytesIO()
    PILImage.new("RGB", (8, 8), (0, 128, 0)).save(picture, format="PNG")
    thread = spaces_staff.add_thread(
        session,
        space,
        "What would help?",
        staff,
        now,
        picture=uploads.store_picture(settings, picture.getvalue()),
        picture_alt="A green square",
    )
    posts = [
        Post(
            space_id=space.id,
            thread_id=thread.id,
            participant_id=owner.id,
            body=body,
            state=state,
            created_at=now,
        )
        for body, state in (("A shared post", PostState.SHARED), ("Worrying", PostState.CONCERN))
    ]
    session.add_all(posts)
    session.flush()
    concern = safeguarding.raise_concern(
        session, settings, post=posts[1], space=space, source=ConcernSource.STAFF, now=now
    )
    term = ScreenTerm(kind=ScreenTermKind.ABUSE, phrase="a made up insult", created_at=now)
    session.add(term)
    session.flush()
    return SimpleNamespace(space=space, thread=thread, post=posts[0], concern=concern, term=term)


def _following(session, settings, programme_id: int, now) -> SimpleNamespace:
    """Someone who asked for the programme's updates (their confirm and unsubscribe links),
    and a published update staff can send."""
    from app.models import ProgrammeUpdate, Subscription
    from app.security import token_hash
    from app.services import outbox, subscriptions

    confirm = new_token()
    row = Subscription(
        programme_id=programme_id,
        email="follower@example.org",
        email_key=outbox.recipient_key("follower@example.org"),
        nonce=new_token(),
        unsubscribe_hash="",
        confirm_token_hash=token_hash(confirm),
        confirm_expires_at=now + timedelta(days=1),
        confirm_sent_at=now,
        created_at=now,
    )
    unsubscribe = subscriptions.unsubscribe_token(settings, row)
    row.unsubscribe_hash = token_hash(unsubscribe)
    update = ProgrammeUpdate(
        programme_id=programme_id, you_said="Said", we_did="Did", created_at=now, published_at=now
    )
    session.add_all([row, update])
    session.flush()
    return SimpleNamespace(
        confirm_token=confirm, unsubscribe_token=unsubscribe, update_id=update.id
    )


def _become(who: str, client, session, world: World, app, now) -> str:
    """Sign the client in afresh as `who` (the last route may have signed it out, or in as
    someone else); returns the CSRF token this browser's pages carry."""
    if who == "anonymous":
        client.cookies.clear()
        token = new_token()
        client.cookies.set(COOKIE, token, domain="testserver.local")
    else:
        token = sign_in(client, session, now=now, **world.people[who])
    return csrf_token(SimpleNamespace(app=app, state=SimpleNamespace(browser_token=token)))


def _refused(response, policy: Policy) -> bool:
    """A 403, or (for a policy that asks people to sign in) a redirect to sign in. A public
    page may send people to sign in for its own reasons (OIDC switched off, say)."""
    if response.status_code == 403:
        return True
    location = response.headers.get("location", "") or response.headers.get("hx-redirect", "")
    return bool(policy.who) and response.status_code in {302, 303} and "sign-in" in location


def _send(client, method: str, path: str, token: str):
    if method == "GET" and path.startswith("/live/"):
        # A live stream never ends by itself: read its status and headers, then hang up.
        with client.stream("GET", path) as response:
            return response
    if method == "GET":
        return client.get(path)
    return client.request(method, path, data={"csrf_token": token})


def _requests(app) -> list[tuple[str, Route]]:
    """Each (method, route) a person can call: reading before writing, the ending ones last."""
    found = [
        (method, route)
        for route in app_routes(app)
        if route.path not in NOT_FOR_PEOPLE
        and route.policy is not None
        and route.policy.name != "development_only"
        for method in sorted(route.methods - {"HEAD"})
    ]
    return sorted(found, key=lambda mr: ((mr[0], mr[1].path) in LAST, mr[0] != "GET"))


# --- the tests -------------------------------------------------------------------------


def test_the_matrix_sees_every_route(app):
    """Guards the walk itself: it once found no routes at all, and so passed for nothing."""
    paths = {route.path for route in app_routes(app)}
    assert len(paths) > 40
    assert {"/staff/workshops/{workshop_id}", "/me/consents/{consent_id}/withdraw"} <= paths


def test_every_route_declares_a_policy(app):
    missing = [f"{sorted(r.methods)} {r.path}" for r in app_routes(app) if r.policy is None]
    assert not missing, f"routes without a declared policy: {missing}"


def test_every_policy_has_a_row_in_the_matrix(app):
    names = {r.policy.name for r in app_routes(app) if r.policy}
    assert names <= set(EXPECTED), f"add these policies to EXPECTED: {names - set(EXPECTED)}"


def test_every_path_parameter_has_a_real_sample(app):
    missing = sorted({p for r in app_routes(app) for p in missing_samples(r.path)})
    assert not missing, (
        f"no sample value for the path parameter(s) ending {missing}: add a row to SAMPLES "
        "with a real object seeded in `world`"
    )
    paths = [r.path for r in app_routes(app)]
    for table in (SAMPLES, OBJECT):
        unused = [k for k in table if not any(p == k or p.startswith(k + "/") for p in paths)]
        assert not unused, f"rows for routes that no longer exist: {unused}"


@pytest.mark.parametrize("who", WHO)
def test_each_route_lets_in_exactly_whom_it_should(who, app, client, session, world, clock):
    wrong: list[str] = []
    for method, route in _requests(app):
        assert route.policy is not None
        token = _become(who, client, session, world, app, clock.now)
        response = _send(client, method, real_path(route.path, world), token)
        status = response.status_code
        passes_policy = who in EXPECTED[route.policy.name]
        may_reach = object_rule(route.path)
        where = f"{method} {route.path}: {who}"
        if status >= 500:
            wrong.append(f"{where} got a {status}")
        elif not passes_policy:
            if not _refused(response, route.policy):
                wrong.append(f"{where} got past the {route.policy.name} policy ({status})")
        elif may_reach is not None and who not in may_reach:
            if status != 404:
                wrong.append(f"{where} reached someone else's object ({status}, not 404)")
        elif _refused(response, route.policy):
            wrong.append(f"{where} was refused ({status})")
        elif status == 404 and "{" in route.path:
            wrong.append(f"{where} found nothing at a real object (404)")
    assert not wrong, "\n".join(wrong)


def test_a_wrong_token_finds_nothing(app, client, session, world, clock):
    """Token routes: the token is the key. A made-up one is a 404, even for an admin."""
    checked = 0
    for method, route in _requests(app):
        if "{token}" not in route.path:
            continue
        for who in ("anonymous", "staff:admin"):
            if who not in EXPECTED[route.policy.name]:
                continue
            token = _become(who, client, session, world, app, clock.now)
            path = (
                real_path(route.path, world)
                .replace(world.manage_token, "made-up-token")
                .replace(world.check_in_token, "made-up-token")
                .replace(world.following.confirm_token, "made-up-token")
                .replace(world.following.unsubscribe_token, "made-up-token")
                .replace(world.recruiting.token, "made-up-token")
            )
            response = _send(client, method, path, token)
            assert response.status_code == 404, f"{method} {route.path} as {who}"
            checked += 1
    assert checked >= 8


def test_development_pages_are_not_found_outside_development(app, client, world):
    for route in app_routes(app):
        if route.policy is not None and route.policy.name == "development_only":
            assert client.get(real_path(route.path, world)).status_code == 404, route.path
