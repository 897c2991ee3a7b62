"""The backup file's format: one tar holding the database part, the media files and a manifest.

    manifest.json      first, so that reading it reads nothing else: the engine, the time the
                       backup was made, and the path, size and SHA-256 of every other member
    database.pgdump    PostgreSQL: pg_dump --format=custom, as pg_restore reads it
    database.sqlite3   SQLite: an online copy of the database file
    media/...          the uploaded files (Django's MEDIA_ROOT), by their path under it

The tar is not compressed: a custom-format dump is compressed already, and so are most
uploads (images, PDFs, videos), so gzip would cost time for little room; and an
uncompressed tar is checked member by member, and its manifest read, without inflating
anything. Only regular files go in: no directories, links or devices.

Nothing here extracts a media file on this machine: the checks read the members and
compare them with the manifest, and docker/dbtool.py unpacks the media in the web container.
"""

from __future__ import annotations

import hashlib
import io
import json
import re
import tarfile
from datetime import datetime
from pathlib import Path
from typing import BinaryIO, NamedTuple

# Changes with any change to the layout an older reader would misread: a reader refuses any other.
FORMAT = 1
MANIFEST = "manifest.json"
MEDIA = "media/"
DATABASE = {"postgres": "database.pgdump", "sqlite": "database.sqlite3"}
# Where every tar header (POSIX ustar, pax or GNU) carries its magic word.
_TAR_MAGIC_OFFSET = 257
_SHA256 = re.compile(r"[0-9a-f]{64}")


class Damaged(Exception):
    """What is wrong with an archive, in a few words for the end of an error line."""


class Entry(NamedTuple):
    path: str  # the database member's name, or a media file's path under the media directory
    size: int
    sha256: str


class Manifest(NamedTuple):
    engine: str
    created: str  # UTC, ISO 8601
    database: Entry
    media: tuple[Entry, ...]

    def members(self) -> dict[str, Entry]:
        """Every member the archive must hold besides the manifest, by its name in the tar."""
        return {self.database.path: self.database, **{MEDIA + entry.path: entry for entry in self.media}}

    def to_json(self) -> bytes:
        fields = {
            "format": FORMAT,
            "engine": self.engine,
            "created": self.created,
            "database": self.database._asdict(),
            "media": [entry._asdict() for entry in self.media],
        }
        return json.dumps(fields, indent=2).encode()


def _unsafe(path: str) -> bool:
    """Whether a media path could land outside the media directory, or names no file: absolute,
    or with a `..`, `.` or empty part."""
    return any(part in ("", ".", "..") for part in path.split("/"))


def is_archive(path: Path) -> bool:
    with open(path, "rb") as handle:
        return handle.read(_TAR_MAGIC_OFFSET + 5)[_TAR_MAGIC_OFFSET:] == b"ustar"


def read_manifest(path: Path) -> Manifest:
    """The archive's manifest, its first member, checked for sense; Damaged when there is none to trust."""
    try:
        with tarfile.open(path, "r:") as tar:
            first = tar.next()
            if first is None or first.name != MANIFEST or not first.isreg():
                raise Damaged(f"it does not start with a {MANIFEST}")
            return _parse_manifest(tar.extractfile(first).read())
    except tarfile.TarError as error:
        raise Damaged(f"not a readable tar: {error}") from None


def _parse_manifest(data: bytes) -> Manifest:
    try:
        fields = json.loads(data)
        if fields["format"] != FORMAT:
            raise Damaged(f"its {MANIFEST} is of format {fields['format']!r}, and these tasks read format {FORMAT}")
        manifest = Manifest(fields["engine"], fields["created"], _entry(fields["database"]),
                            tuple(_entry(item) for item in fields["media"]))
        if manifest.engine not in DATABASE:
            raise ValueError(f"no engine {manifest.engine!r}")
        if not isinstance(manifest.created, str):
            raise ValueError(f"created is {manifest.created!r}")
    except (ValueError, KeyError, TypeError) as error:
        raise Damaged(f"its {MANIFEST} is not one these tasks write ({error})") from None
    if manifest.database.path != DATABASE[manifest.engine]:
        raise Damaged(f"its {MANIFEST} names the database part {manifest.database.path!r}")
    problem = _paths_problem([entry.path for entry in manifest.media])
    if problem:
        raise Damaged(f"its {MANIFEST} {problem}")
    return manifest


def _entry(fields: dict) -> Entry:
    entry = Entry(fields["path"], fields["size"], fields["sha256"])
    if not (isinstance(entry.path, str) and type(entry.size) is int and entry.size >= 0
            and isinstance(entry.sha256, str) and _SHA256.fullmatch(entry.sha256)):
        raise ValueError(f"a bad entry: {fields!r}")
    return entry


def _paths_problem(paths: list[str]) -> str:
    """What would stop these media paths from being unpacked as files side by side; "" when nothing."""
    bad = next((path for path in paths if _unsafe(path)), None)
    if bad is not None:
        return f"names {bad!r}, which is not a path inside the media directory"
    if len(set(paths)) != len(paths):
        return "names a media file twice"
    parents = {"/".join(path.split("/")[:depth]) for path in paths for depth in range(1, path.count("/") + 1)}
    clash = sorted(parents & set(paths))
    return f"names {clash[0]!r} as a file and as a folder" if clash else ""


def _digest(source: BinaryIO, copy_to: BinaryIO | None = None) -> tuple[int, str]:
    """The size and SHA-256 of what `source` holds, copied on to `copy_to` on the way when given."""
    sha256, size = hashlib.sha256(), 0
    for block in iter(lambda: source.read(1 << 20), b""):
        sha256.update(block)
        size += len(block)
        if copy_to is not None:
            copy_to.write(block)
    return size, sha256.hexdigest()


def _file(name: str, size: int, mtime: float, mode: int = 0o644) -> tarfile.TarInfo:
    # No owner: a restore never applies one, and the machine's user names are none of the backup's business.
    info = tarfile.TarInfo(name)
    info.size, info.mtime, info.mode = size, int(mtime), mode
    return info


def write(target: Path, engine: str, database: Path, media_stream: Path, created: datetime) -> None:
    """Write the archive at `target` from the database part and `media_stream`, a tar of the media
    directory with names relative to it (what dbtool.py media-tar writes)."""
    try:
        with tarfile.open(media_stream, "r:") as media:
            files = media.getmembers()
            stray = next((member.name for member in files if not member.isreg() or _unsafe(member.name)), None)
            if stray is not None:
                raise Damaged(f"the media stream holds {stray!r}, which is not a file inside the media directory")
            # The manifest goes first, so every file is read twice: once for its digest, once into the archive.
            entries = tuple(Entry(member.name, *_digest(media.extractfile(member))) for member in files)
            with open(database, "rb") as handle:
                manifest = Manifest(engine, created.strftime("%Y-%m-%dT%H:%M:%SZ"),
                                    Entry(DATABASE[engine], *_digest(handle)), entries)
            data = manifest.to_json()
            with tarfile.open(target, "w:", format=tarfile.PAX_FORMAT) as out:
                out.addfile(_file(MANIFEST, len(data), created.timestamp()), io.BytesIO(data))
                with open(database, "rb") as handle:
                    out.addfile(_file(DATABASE[engine], manifest.database.size, created.timestamp(), 0o600), handle)
                for member, entry in zip(files, entries):
                    out.addfile(_file(MEDIA + entry.path, entry.size, member.mtime, member.mode & 0o777),
                                media.extractfile(member))
    except tarfile.TarError as error:
        raise Damaged(f"the media stream is not a readable tar: {error}") from None


def unpack(path: Path, manifest: Manifest, database_to: Path) -> None:
    """Check every member of the archive at `path` against its `manifest`, and write the database part
    to `database_to`; Damaged at the first member that is missing, extra, not a file or not as listed."""
    expected = manifest.members()
    seen: set[str] = set()
    try:
        with tarfile.open(path, "r:") as tar, open(database_to, "wb") as database:
            members = iter(tar)
            next(members)  # the manifest, read already
            for member in members:
                name = member.name
                if not member.isreg():
                    raise Damaged(f"{name!r} is not a regular file (a link, a folder or a device)")
                if name not in expected or name in seen:
                    raise Damaged(f"{name!r} is {'in it twice' if name in seen else f'not in its {MANIFEST}'}")
                seen.add(name)
                copy_to = database if name == manifest.database.path else None
                size, sha256 = _digest(tar.extractfile(member), copy_to)
                if (size, sha256) != (expected[name].size, expected[name].sha256):
                    what = "size" if size != expected[name].size else "SHA-256"
                    raise Damaged(f"{name}'s {what} is not the one its {MANIFEST} gives")
    except tarfile.TarError as error:
        raise Damaged(f"it ends early or is not a tar: {error}") from None
    missing = sorted(set(expected) - seen)
    if missing:
        raise Damaged(f"{missing[0]} is in its {MANIFEST} but not in the file")
