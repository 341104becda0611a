"""Pictures people upload: checked by what they contain, never by their name or the type the
browser claims; size-limited; made again from their pixels, so nothing hidden in the file
(where a phone took the photo, a script dressed as a picture) survives; stored outside the
web root under a random name; and handed to a scanning hook a deployment can plug in
(`HEARD_UPLOAD_SCAN_COMMAND`, for example `clamdscan --no-summary`).

Pillow reads and writes the pictures. A file is refused with words a person can act on.
"""

from __future__ import annotations

import io
import os
import re
import secrets
import shlex
import subprocess
import warnings
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from PIL import Image, ImageOps, UnidentifiedImageError

from app.config import Settings

# What a picture may be, by what Pillow finds inside it, and how it is kept.
KEPT_AS = {"JPEG": "JPEG", "PNG": "PNG", "WEBP": "WEBP", "GIF": "PNG"}
CONTENT_TYPES = {"JPEG": "image/jpeg", "PNG": "image/png", "WEBP": "image/webp"}
SUFFIXES = {"JPEG": ".jpg", "PNG": ".png", "WEBP": ".webp"}
# A picture may not claim more pixels than this (a tiny file can claim billions).
MAX_PIXELS = 40_000_000
# Pictures are shown on phones: anything larger is made smaller, keeping its shape.
LONGEST_SIDE = 2000
KEY = re.compile(r"^[A-Za-z0-9_-]{22}\.(jpg|png|webp)$")

NOT_A_PICTURE = "The file must be a picture: a photo or image saved as JPEG, PNG, WebP or GIF"
REFUSED_BY_SCAN = "We could not accept this file. Try a different picture."


class UploadError(Exception):
    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


@dataclass(frozen=True)
class StoredPicture:
    key: str
    content_type: str
    width: int
    height: int


def picture_folder(settings: Settings) -> Path:
    return Path(settings.upload_dir) / "pictures"


def too_big_words(settings: Settings) -> str:
    return f"The picture must be smaller than {settings.picture_max_bytes // 1_000_000} MB"


def store_picture(settings: Settings, data: bytes) -> StoredPicture:
    """Check, clean and keep a picture; raises UploadError with what to do instead."""
    if not data:
        raise UploadError("Choose a picture")
    if len(data) > settings.picture_max_bytes:
        raise UploadError(too_big_words(settings))
    cleaned, kind, width, height = _clean(data)
    folder = picture_folder(settings)
    folder.mkdir(parents=True, exist_ok=True)
    key = secrets.token_urlsafe(16) + SUFFIXES[kind]
    path = folder / key
    partial = folder / f".{key}.part"
    partial.write_bytes(cleaned)
    try:
        scan(settings, partial)
    except UploadError:
        partial.unlink(missing_ok=True)
        raise
    os.replace(partial, path)
    return StoredPicture(key, CONTENT_TYPES[kind], width, height)


def _clean(data: bytes) -> tuple[bytes, str, int, int]:
    """The picture made again from its pixels alone (no metadata, no trailing bytes)."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(io.BytesIO(data)) as probe:
                found = probe.format or ""
                if found not in KEPT_AS or probe.width * probe.height > MAX_PIXELS:
                    raise UploadError(NOT_A_PICTURE)
                probe.verify()
            with Image.open(io.BytesIO(data)) as picture:
                picture.load()
                upright = ImageOps.exif_transpose(picture)
    except UploadError:
        raise
    except (
        UnidentifiedImageError,
        Image.DecompressionBombError,
        Image.DecompressionBombWarning,
        OSError,
        SyntaxError,
        ValueError,
        EOFError,
    ) as error:
        raise UploadError(NOT_A_PICTURE) from error
    kind = KEPT_AS[found]
    if max(upright.size) > LONGEST_SIDE:
        upright.thumbnail((LONGEST_SIDE, LONGEST_SIDE))
    if kind == "JPEG":
        upright = upright.convert("RGB")
    elif upright.mode not in ("RGB", "RGBA", "L", "LA"):
        upright = upright.convert("RGBA")
    out = io.BytesIO()
    options = {"quality": 85} if kind in ("JPEG", "WEBP") else {"optimize": True}
    upright.save(out, format=kind, **options)
    return out.getvalue(), kind, upright.width, upright.height


def scan(settings: Settings, path: Path) -> None:
    """The deployment's scanner, if one is set: exit status 0 means clean. Anything else, a
    scanner that can't be run or one that takes too long, refuses the file."""
    command = settings.upload_scan_command.strip()
    if not command:
        return
    try:
        finished = subprocess.run(  # noqa: S603 - the deployment's own command, no shell
            [*shlex.split(command), str(path)],
            capture_output=True,
            timeout=settings.upload_scan_seconds,
            check=False,
        )
    except (OSError, subprocess.TimeoutExpired) as error:
        raise UploadError(REFUSED_BY_SCAN) from error
    if finished.returncode != 0:
        raise UploadError(REFUSED_BY_SCAN)


def picture_path(settings: Settings, key: str | None) -> Path | None:
    """Where a stored picture is, for a key made by store_picture (anything else: None)."""
    if not key or not KEY.fullmatch(key):
        return None
    path = picture_folder(settings) / key
    return path if path.is_file() else None


def kept_picture(settings: Settings, key: str | None) -> StoredPicture | None:
    """A picture stored a moment ago (kept while the rest of its form is put right)."""
    path = picture_path(settings, key)
    if path is None or key is None:
        return None
    try:
        with Image.open(path) as picture:
            width, height = picture.size
    except (OSError, ValueError):
        return None
    return StoredPicture(key, content_type(key), width, height)


def content_type(key: str) -> str:
    return {".jpg": "image/jpeg", ".png": "image/png", ".webp": "image/webp"}[
        key[key.rindex(".") :]
    ]


def delete_picture(settings: Settings, key: str | None) -> None:
    path = picture_path(settings, key)
    if path is not None:
        path.unlink(missing_ok=True)


def sweep(settings: Settings, keep: set[str], older_than: datetime | None = None) -> int:
    """Remove stored pictures nothing points at any more, stored before `older_than` (a
    picture kept while its form is put right is not swept from under it): how many went."""
    folder = picture_folder(settings)
    if not folder.is_dir():
        return 0
    before = older_than.timestamp() if older_than is not None else None
    gone = 0
    for path in folder.iterdir():
        if not path.is_file() or path.name in keep:
            continue
        if not (KEY.fullmatch(path.name) or path.name.endswith(".part")):
            continue
        if before is not None and path.stat().st_mtime >= before:
            continue
        path.unlink(missing_ok=True)
        gone += 1
    return gone
