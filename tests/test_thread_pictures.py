"""A picture with a thread's prompt: checked by what the file holds, cleaned of anything hidden
in it, kept outside the web root, described for people who can't see it, and shown only to
the people in the space and the staff who run it."""

from __future__ import annotations

import io
import os
import re
import sys
from pathlib import Path

import pytest
from PIL import Image
from sqlmodel import select

from app import uploads
from app.models import Role, Thread
from app.services import jobs, spaces_staff
from app.services.identity import Identity
from tests.spaces_support import a_room, as_person, as_staff, join

GPS_IFD = 0x8825


def picture(kind: str = "PNG", size: tuple[int, int] = (40, 30), *, gps: bool = False) -> bytes:
    image = Image.new("RGB", size, (200, 80, 120))
    out = io.BytesIO()
    if gps:
        exif = Image.Exif()
        exif[0x010F] = "PhoneMaker"  # Make
        exif[GPS_IFD] = {1: "N", 2: (51.0, 30.0, 0.0)}  # where the photo was taken
        image.save(out, format=kind, exif=exif)
    else:
        image.save(out, format=kind)
    return out.getvalue()


def add(client, room, files=None, **fields):
    data = {"prompt": "What would help?", **fields}
    data.setdefault("csrf_token", client.csrf(f"/staff/spaces/{room.space.id}"))
    return client.post(f"/staff/spaces/{room.space.id}/threads", data=data, files=files)


def newest(session, room) -> Thread:
    session.expire_all()
    rows = session.exec(
        select(Thread).where(Thread.space_id == room.space.id).order_by(Thread.id.desc())
    ).all()
    return rows[0]


def test_staff_add_a_picture_that_people_in_the_space_see_with_its_description(
    client, session, clock, settings
):
    room = a_room(session, clock.now)
    as_staff(client, session, room.admin, clock.now)
    done = add(
        client,
        room,
        files={"picture": ("boxes.jpg", picture("JPEG", gps=True), "image/jpeg")},
        picture_alt="Two young people carrying boxes",
    )
    assert done.status_code == 303, done.text[:800]
    thread = newest(session, room)
    assert thread.picture_alt == "Two young people carrying boxes"
    assert (thread.picture_width, thread.picture_height) == (40, 30)
    stored = uploads.picture_path(settings, thread.picture_key)
    assert stored is not None and Path(settings.upload_dir) in stored.parents
    # Made again from its pixels: where it was taken (and the rest of its EXIF) is gone.
    with Image.open(stored) as kept:
        assert kept.format == "JPEG"
        assert not kept.getexif()
    staff_page = client.get(f"/staff/spaces/{room.space.id}")
    assert 'alt="Two young people carrying boxes"' in staff_page.text
    staff_copy = client.get(f"/staff/spaces/{room.space.id}/threads/{thread.id}/picture")
    assert staff_copy.status_code == 200

    person = join(session, room, "Sky", clock.now)
    as_person(client, session, person, clock.now)
    page = client.get(f"/spaces/{room.space.id}/threads/{thread.id}")
    src = f"/spaces/{room.space.id}/threads/{thread.id}/picture"
    assert f'src="{src}" alt="Two young people carrying boxes"' in page.text
    shown = client.get(src)
    assert shown.status_code == 200
    assert shown.headers["content-type"] == "image/jpeg"
    assert shown.headers["x-content-type-options"] == "nosniff"
    assert shown.content == stored.read_bytes()
    # Not for staff pages' address, nor for anyone outside the space.
    assert client.get(f"/staff/spaces/{room.space.id}/threads/{thread.id}/picture").status_code in (
        403,
        404,
    )
    other = a_room(session, clock.now)
    stranger = join(session, other, "Robin", clock.now)
    as_person(client, session, stranger, clock.now)
    assert client.get(src).status_code == 404


def test_a_picture_needs_words_and_a_mistake_keeps_everything_typed_and_chosen(
    client, session, clock, settings
):
    room = a_room(session, clock.now)
    as_staff(client, session, room.admin, clock.now)
    no_words = add(
        client,
        room,
        files={"picture": ("p.png", picture(), "image/png")},
        prompt="What made you feel at home?",
    )
    assert no_words.status_code == 200
    summary = no_words.text[no_words.text.index("error-summary") :]
    assert "Say what the picture shows, for people who cannot see it" in summary
    assert "What made you feel at home?" in no_words.text
    kept = re.search(r'name="picture_kept" value="([^"]+)"', no_words.text)
    assert kept, "the checked picture is kept while the words are put right"
    assert "Your picture is kept" in no_words.text
    done = add(
        client,
        room,
        prompt="What made you feel at home?",
        picture_alt="A sofa with cushions",
        picture_kept=kept.group(1),
    )
    assert done.status_code == 303
    thread = newest(session, room)
    assert thread.picture_key == kept.group(1) and thread.picture_alt == "A sofa with cushions"
    # Words without a picture, and a made-up kept picture, are put right too.
    alone = add(client, room, picture_alt="A sofa", picture_kept="../../etc/passwd")
    assert "Choose the picture, or leave the description empty" in alone.text


@pytest.mark.parametrize(
    ("name", "content", "claimed"),
    [
        ("notes.png", b"<script>alert(1)</script>", "image/png"),
        ("page.jpg", b"<!doctype html><html><body>hi</body></html>", "image/jpeg"),
        ("empty.png", b"", "image/png"),
        ("half.png", picture()[:60], "image/png"),
        ("doc.pdf", b"%PDF-1.4\n1 0 obj<<>>endobj\n", "application/pdf"),
        ("tiff.png", picture("TIFF"), "image/png"),
    ],
)
def test_files_that_are_not_pictures_are_refused_kindly(
    client, session, clock, settings, name, content, claimed
):
    room = a_room(session, clock.now)
    as_staff(client, session, room.admin, clock.now)
    refused = add(
        client,
        room,
        files={"picture": (name, content, claimed)},
        picture_alt="A picture",
        prompt="Kept words",
    )
    assert refused.status_code == 200
    summary = refused.text[refused.text.index("error-summary") :]
    assert "The file must be a picture" in summary or "Choose a picture" in summary
    assert "Kept words" in refused.text
    assert not list(uploads.picture_folder(settings).glob("*"))


def test_a_picture_claiming_billions_of_pixels_is_refused_without_being_opened(settings):
    # A PNG header that claims 100,000 × 100,000 pixels in a few dozen bytes.
    import struct
    import zlib

    def chunk(kind: bytes, body: bytes) -> bytes:
        return (
            struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))
        )

    bomb = (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", struct.pack(">IIBBBBB", 100_000, 100_000, 8, 2, 0, 0, 0))
        + chunk(b"IDAT", zlib.compress(b"\x00" * 1000))
        + chunk(b"IEND", b"")
    )
    with pytest.raises(uploads.UploadError) as refused:
        uploads.store_picture(settings, bomb)
    assert "must be a picture" in refused.value.message


def test_too_big_pictures_are_refused_with_the_limit_and_huge_bodies_get_413(
    client, session, clock, settings
):
    room = a_room(session, clock.now)
    as_staff(client, session, room.admin, clock.now)
    settings.picture_max_bytes = 1_000_000
    big = picture("PNG", (1200, 1200)) + b"\0" * 1_100_000
    refused = add(client, room, files={"picture": ("big.png", big, "image/png")}, picture_alt="x")
    assert refused.status_code == 200
    assert "The picture must be smaller than 1 MB" in refused.text
    # A body far past any picture's limit is refused before it is read.
    huge = add(
        client,
        room,
        files={"picture": ("huge.png", b"\0" * 6_000_000, "image/png")},
        picture_alt="x",
    )
    assert huge.status_code == 413


def test_large_pictures_are_made_phone_sized_and_gifs_become_pngs(settings):
    stored = uploads.store_picture(settings, picture("PNG", (4000, 1000)))
    assert (stored.width, stored.height) == (2000, 500)
    gif = uploads.store_picture(settings, picture("GIF"))
    assert gif.content_type == "image/png" and gif.key.endswith(".png")


def test_a_deployments_scanner_decides_and_a_refused_file_is_not_kept(settings, tmp_path):
    clean, infected = tmp_path / "clean.py", tmp_path / "infected.py"
    clean.write_text("import sys; sys.exit(0)\n")
    infected.write_text("import sys; sys.exit(1)\n")
    settings.upload_scan_command = f"{sys.executable} {clean}"
    assert uploads.store_picture(settings, picture()).key
    settings.upload_scan_command = f"{sys.executable} {infected}"
    with pytest.raises(uploads.UploadError) as refused:
        uploads.store_picture(settings, picture())
    assert refused.value.message == uploads.REFUSED_BY_SCAN
    settings.upload_scan_command = "/no/such/scanner"
    with pytest.raises(uploads.UploadError):
        uploads.store_picture(settings, picture())
    assert len(list(uploads.picture_folder(settings).iterdir())) == 1


def test_pictures_nothing_points_at_are_swept_by_the_worker_once_a_day_old(
    session, clock, settings
):
    room = a_room(session, clock.now)
    staff = Identity(staff=room.admin, roles={(Role.ADMIN, None)})
    used = uploads.store_picture(settings, picture())
    spaces_staff.add_thread(
        session, room.space, "With a picture", staff, clock.now, picture=used, picture_alt="A"
    )
    abandoned = uploads.store_picture(settings, picture())  # a form never finished
    just_now = uploads.store_picture(settings, picture())  # a form being put right
    day_old = clock.now.timestamp() - 2 * 86400
    for key in (used.key, abandoned.key):
        path = uploads.picture_path(settings, key)
        assert path is not None
        os.utime(path, (day_old, day_old))
    assert "unused pictures" in dict(jobs.load())
    assert spaces_staff.sweep_pictures(session, settings, clock.now) == 1
    assert uploads.picture_path(settings, used.key) is not None
    assert uploads.picture_path(settings, just_now.key) is not None
    assert uploads.picture_path(settings, abandoned.key) is None
    assert uploads.picture_path(settings, "../../etc/passwd") is None


def test_hostile_words_with_a_picture_are_inert(client, session, clock, settings, hostile_inputs):
    room = a_room(session, clock.now)
    as_staff(client, session, room.admin, clock.now)
    for value in hostile_inputs[:12]:
        response = add(
            client,
            room,
            files={"picture": ("p.png", picture(), "image/png")},
            picture_alt=value,
            prompt=value,
        )
        assert response.status_code in (200, 303), value
        assert "<script>alert" not in response.text
