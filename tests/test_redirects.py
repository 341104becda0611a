"""`next`, where sign-in sends you back to: only ever a page of Heard itself."""

from __future__ import annotations

import pytest

from app.redirects import MAX_LENGTH, safe_next, with_next

LOCAL = [
    "/",
    "/staff",
    "/staff/check-in/Abc_123-xyz",
    "/staff/workshops?audience=young_people&page=2",
    "/me/details",
    "/workshops/caf%C3%A9?q=a%20b",
    "/" + "a" * (MAX_LENGTH - 1),
]

HOSTILE = [
    None,
    42,
    "",
    "staff",  # relative: not a path from the root
    "//evil.example",
    "//evil.example/staff",
    "///evil.example",
    "https://evil.example",
    "http:/evil.example",
    "HTTPS://evil.example/staff",
    "/\\evil.example",
    "/\\/evil.example",
    "\\\\evil.example",
    "/staff\\..\\..\\evil",
    "javascript:alert(1)",
    "JavaScript:alert(1)",
    "data:text/html,<script>alert(1)</script>",
    "%2F%2Fevil.example",
    "%2f%2fevil.example",
    " /staff",
    "/staff\r\nSet-Cookie: heard_session=stolen",
    "/staff\nLocation: https://evil.example",
    "/\t/evil.example",
    "/staff\x00",
    "/staff\x7f",
    "/staff\x85",
    "/staff page",
    "/caf\u00e9",
    "/\u2215\u2215evil.example",  # division slashes
    "/" + "a" * MAX_LENGTH,  # one character too long
    "/staff?next=" + "x" * 600,
]


@pytest.mark.parametrize("value", LOCAL)
def test_a_local_path_is_kept(value):
    assert safe_next(value) == value


@pytest.mark.parametrize("value", HOSTILE)
def test_anything_else_is_dropped(value):
    assert safe_next(value) is None


def test_with_next_adds_an_encoded_next_only_when_there_is_one():
    assert with_next("/staff/sign-in", None) == "/staff/sign-in"
    assert with_next("/staff/sign-in", "") == "/staff/sign-in"
    assert (
        with_next("/staff/sign-in", "/staff/workshops?a=1&b=2")
        == "/staff/sign-in?next=%2Fstaff%2Fworkshops%3Fa%3D1%26b%3D2"
    )
    assert with_next("/x?token=t", "/me") == "/x?token=t&next=%2Fme"
