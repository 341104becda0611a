"""Who may do what: named predicates, used by routes and templates alike. Deny by default.

Route-level rules are `Policy` objects; each route declares exactly one (the role-matrix test
fails for a route without). Object-level rules (is this *my* sign-up? do I run this
workshop?) are predicates taking (identity, object), checked by the dependency that loads the
object (`app.objects.Guard`: 404 for "not found" and "not yours" alike, or 403 where the
object's existence isn't secret) and callable from templates. What the admin role may and
may not do is written down at the end (`ADMIN_ROLE`).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from app.models import Role, Workshop
from app.services.identity import Identity


class NeedsSignIn(Exception):
    """Raised for an anonymous person on a page that needs them signed in."""

    def __init__(self, who: str) -> None:
        self.who = who


class Policy:
    def __init__(self, name: str, check: Callable[[Identity], bool], *, who: str = "") -> None:
        self.name = name
        self.check = check
        self.who = who  # "staff" or "participant": where an anonymous person is sent to sign in

    def __repr__(self) -> str:
        return f"Policy({self.name})"


def _anyone(_: Identity) -> bool:
    return True


def _participant(identity: Identity) -> bool:
    return identity.participant is not None


def _any_staff(identity: Identity) -> bool:
    return identity.staff is not None


def staff_with(*roles: Role) -> Callable[[Identity], bool]:
    def check(identity: Identity) -> bool:
        return identity.staff is not None and identity.has_any_role(*roles)

    return check


PUBLIC = Policy("public", _anyone)
PARTICIPANT = Policy("participant", _participant, who="participant")
ANY_STAFF = Policy("any_staff", _any_staff, who="staff")
ADMIN = Policy("admin", staff_with(Role.ADMIN), who="staff")
FACILITATOR = Policy("facilitator", staff_with(Role.ADMIN, Role.FACILITATOR), who="staff")
MODERATOR = Policy("moderator", staff_with(Role.MODERATOR, Role.SAFEGUARDING_LEAD), who="staff")
SAFEGUARDING = Policy("safeguarding", staff_with(Role.SAFEGUARDING_LEAD), who="staff")
ANALYST = Policy("analyst", staff_with(Role.ADMIN, Role.ANALYST), who="staff")
REVIEWER = Policy("reviewer", staff_with(Role.ADMIN, Role.REVIEWER), who="staff")
# Moderating spaces: moderators and safeguarding leads, and the staff who run a workshop
# (admins, its facilitators). Which spaces: `can_moderate`.
MODERATE = Policy(
    "moderate",
    staff_with(Role.ADMIN, Role.FACILITATOR, Role.MODERATOR, Role.SAFEGUARDING_LEAD),
    who="staff",
)
# The staff admin screen: admins everywhere only (a programme's admin can't grant roles).
MANAGE_STAFF = Policy("manage_staff", lambda identity: identity.has_role(Role.ADMIN), who="staff")
# Development helpers (the mail viewer): a 404 anywhere but development, whoever asks.
DEVELOPMENT_ONLY = Policy("development_only", _anyone)


# Predicates for templates and object-level checks.


def can_manage_staff(identity: Identity) -> bool:
    return identity.has_role(Role.ADMIN)


def can_see_staff_area(identity: Identity) -> bool:
    return identity.staff is not None


def can_view_audit_log(identity: Identity) -> bool:
    return identity.has_role(Role.ADMIN)


def can_facilitate(identity: Identity, programme_id: int | None = None) -> bool:
    """May set up and run workshops in this programme: an admin or facilitator of it, or of
    every programme. Without a programme: only someone who holds the role everywhere."""
    return identity.has_role(Role.ADMIN, programme_id) or identity.has_role(
        Role.FACILITATOR, programme_id
    )


def can_run_workshops_somewhere(identity: Identity) -> bool:
    """An admin or facilitator anywhere (in one programme will do): the staff workshop pages
    are theirs, showing only the workshops they run. The route policy asks the same."""
    return FACILITATOR.check(identity)


def can_change_consent(identity: Identity, participant_id: int | None) -> bool:
    """Only the person themselves changes their consents (a parent answers by their link)."""
    return owns(identity, participant_id)


def can_run_workshop(identity: Identity, programme_id: int, facilitator_ids: set[int]) -> bool:
    """A workshop's own staff: admins, and the facilitators assigned to that workshop."""
    if identity.staff is None:
        return False
    if identity.has_role(Role.ADMIN, programme_id):
        return True
    return identity.staff.id in facilitator_ids and identity.has_role(
        Role.FACILITATOR, programme_id
    )


def can_moderate(identity: Identity, programme_id: int, facilitator_ids: set[int]) -> bool:
    """May moderate a space: moderators and safeguarding leads of its programme (or of every
    programme), and the staff who run its workshop (its admins and assigned facilitators)."""
    return (
        identity.has_role(Role.MODERATOR, programme_id)
        or identity.has_role(Role.SAFEGUARDING_LEAD, programme_id)
        or can_run_workshop(identity, programme_id, facilitator_ids)
    )


def can_run_this_workshop(identity: Identity, workshop: Workshop) -> bool:
    """The staff workshop pages' rule, about one workshop (`workshops.may_run`: who is
    assigned is the workshop's own fact, read only when the answer depends on it)."""
    from app.services.workshops import may_run

    return may_run(identity, workshop)


def can_move_workshop(identity: Identity, workshop: Workshop, action: str) -> bool:
    """For buttons: the workshop workflow would let this person make this move now."""
    from app.services.workshops import WORKSHOP

    return WORKSHOP.can_do(identity, workshop, action)


def can_moderate_somewhere(identity: Identity) -> bool:
    return MODERATE.check(identity)


def can_see_concerns(identity: Identity, programme_id: int | None) -> bool:
    """Concerns are for safeguarding leads only: of their programme, or of every one."""
    return identity.has_role(Role.SAFEGUARDING_LEAD, programme_id)


def can_see_concerns_somewhere(identity: Identity) -> bool:
    return SAFEGUARDING.check(identity)


def can_change_screening_words(identity: Identity) -> bool:
    return MODERATOR.check(identity)


def owns(identity: Identity, participant_id: int | None) -> bool:
    """A participant's own record, and nobody else's (changing an id in a URL gets a 404)."""
    return (
        identity.participant is not None
        and participant_id is not None
        and identity.participant.id == participant_id
    )


def can_read_calls_somewhere(identity: Identity) -> bool:
    return ANALYST.check(identity)


def can_review_somewhere(identity: Identity) -> bool:
    return REVIEWER.check(identity)


def can_run_programmes_somewhere(identity: Identity) -> bool:
    return ADMIN.check(identity)


TEMPLATE_PREDICATES = {
    "can_read_calls_somewhere": can_read_calls_somewhere,
    "can_review_somewhere": can_review_somewhere,
    "can_run_programmes_somewhere": can_run_programmes_somewhere,
    "can_manage_staff": can_manage_staff,
    "can_see_staff_area": can_see_staff_area,
    "can_view_audit_log": can_view_audit_log,
    "can_facilitate": can_facilitate,
    "can_run_workshops_somewhere": can_run_workshops_somewhere,
    "can_run_this_workshop": can_run_this_workshop,
    "can_move_workshop": can_move_workshop,
    "can_change_consent": can_change_consent,
    "can_moderate_somewhere": can_moderate_somewhere,
    "can_see_concerns_somewhere": can_see_concerns_somewhere,
    "can_change_screening_words": can_change_screening_words,
}


# --- what the admin role may and may not do ------------------------------------------------
#
# Written down so nobody has to read every predicate to know, and tested against them
# (tests/test_object_permissions.py walks the table). It states what is true today: an admin
# runs the programme's work, but safeguarding concerns are for safeguarding leads alone (an
# admin everywhere is only emailed that a concern is waiting when there is no lead, and the
# link still needs a lead), the screening words for moderators, and a reviewer's page never
# shows who applied.


@dataclass(frozen=True)
class AdminAnswer:
    """One question about the admin role: the answer for an admin of every programme, and
    for an admin of one programme asked about that programme; `ask` is the real rule."""

    question: str
    everywhere: bool
    own_programme: bool
    ask: Callable[[Identity, int], bool]


def _route(policy: Policy) -> Callable[[Identity, int], bool]:
    return lambda identity, _programme_id: policy.check(identity)


def _builds_calls(identity: Identity, programme_id: int) -> bool:
    from app.services import calls

    return calls.may_build(identity, programme_id)


def _reads_call_responses(identity: Identity, programme_id: int) -> bool:
    from app.services import calls

    return calls.may_read_responses(identity, programme_id)


def _decides_rounds(identity: Identity, _programme_id: int) -> bool:
    from app.services import rounds

    return rounds.may_build(identity)


def _reviews(identity: Identity, _programme_id: int) -> bool:
    from app.services import rounds

    return rounds.may_review(identity)


def _review_page_shows_names(_identity: Identity, _programme_id: int) -> bool:
    """Nobody's review page shows who applied: only what `rounds_review.blind` keeps."""
    from dataclasses import fields

    from app.services.rounds_review import BlindApplication

    return not {"name", "email", "reference"}.isdisjoint(f.name for f in fields(BlindApplication))


ADMIN_ROLE: tuple[AdminAnswer, ...] = (
    AdminAnswer(
        "Pass the admin policy of a staff page (each page may ask more)", True, True, _route(ADMIN)
    ),
    AdminAnswer("Give and take away staff roles", True, False, _route(MANAGE_STAFF)),
    AdminAnswer("Read the audit log", True, False, lambda who, _: can_view_audit_log(who)),
    AdminAnswer("Set up workshops in the programme", True, True, can_facilitate),
    AdminAnswer(
        "Run any workshop of the programme (attendees, check-in, publish, cancel)",
        True,
        True,
        lambda who, programme_id: can_run_workshop(who, programme_id, set()),
    ),
    AdminAnswer("Open the moderation queue", True, True, _route(MODERATE)),
    AdminAnswer(
        "Moderate any space of the programme",
        True,
        True,
        lambda who, programme_id: can_moderate(who, programme_id, set()),
    ),
    AdminAnswer("Change the screening words", False, False, _route(MODERATOR)),
    AdminAnswer("Open the safeguarding pages", False, False, _route(SAFEGUARDING)),
    AdminAnswer("Read a safeguarding concern", False, False, can_see_concerns),
    AdminAnswer(
        "Change a participant's consent (only the person themselves can)",
        False,
        False,
        lambda who, _: can_change_consent(who, 1),
    ),
    AdminAnswer("Set up calls for evidence", True, True, _builds_calls),
    AdminAnswer("Read and export call responses", True, True, _reads_call_responses),
    AdminAnswer(
        "Set up recruitment rounds, decide, and export applications with names and contact details",
        True,
        False,
        _decides_rounds,
    ),
    AdminAnswer("Score applications on the blind review page", True, False, _reviews),
    AdminAnswer(
        "See who applied on the blind review page (names only in the admins' export)",
        False,
        False,
        _review_page_shows_names,
    ),
)
