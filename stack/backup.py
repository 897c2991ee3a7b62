"""Backups of the site's data: `inv db.backup`, `db.restore`, `db.list`, `db.counts`.

A backup is one tar file under backups/ (its layout: stack/archive.py): the database
part, a custom-format `pg_dump` for PostgreSQL or an online SQLite copy for SQLite, and
the uploaded files, with a manifest. The tools run inside the containers (pg_dump next to
its server, SQLite's backup API next to the file, docker/dbtool.py beside the media), and
the bytes travel through the shell's `>` and `<` at the edge, because Invoke decodes what it
captures as text. The archive is put together and checked on this machine: every member
against the manifest, the database part by its first bytes and, for SQLite, by SQLite's
own quick check. A backup is kept only once it passes the very checks a restore makes, and
a restore touches nothing until the whole file has passed them. A PostgreSQL restore runs
in one transaction, and the media go in place of the old ones by renames, once unpacked
and checked beside them. Backups made before media were included, the database part
alone, still restore.
"""

from __future__ import annotations

import sqlite3
import tempfile
from contextlib import closing, contextmanager, nullcontext
from datetime import datetime, timezone
from pathlib import Path
from typing import Iterator, NamedTuple

from . import archive
from .compose import DB
from .errors import StackError
from .runner import Stack

BACKUP_DIR = "backups"
SUFFIX = ".tar"
TOOL = ["python", "/usr/local/lib/django-docker/dbtool.py"]
# What each engine's database part starts with, and its name for people.
MAGIC = {"postgres": b"PGDMP", "sqlite": b"SQLite format 3\x00"}
ENGINE_NAME = {"postgres": "PostgreSQL", "sqlite": "SQLite"}


class Backup(NamedTuple):
    """A file under backups/, as `db.list` shows it."""

    path: Path
    engine: str  # "" when it is no backup these tasks can read
    size: int
    modified: datetime
    media: int | None  # media files in it; None for a backup of the database alone


class Contents(NamedTuple):
    """A backup that passed every check, ready to restore."""

    path: Path
    engine: str
    database: Path  # the database part on its own: the file itself, or a copy unpacked from the archive
    media: int | None  # media files in it; None for a backup of the database alone


class Unusable(Exception):
    """Why a file cannot be restored here, as the rest of a sentence that starts with its name."""


# ---- files on this machine ----


def backup_file(stack: Stack, name: str) -> Path:
    """The file a user named: relative to where they are, or else to the project (as `db.list` prints it)."""
    path = Path(name)
    in_project = stack.settings.root / path
    return in_project if not path.exists() and in_project.exists() else path


def engine_of(path: Path) -> str:
    """The engine whose database part this is, by its first bytes; "" when neither."""
    with open(path, "rb") as handle:
        head = handle.read(16)
    return next((engine for engine, magic in MAGIC.items() if head.startswith(magic)), "")


def sqlite_problem(path: Path) -> str:
    """What SQLite finds wrong with the database file at `path`, on one line; "" when nothing.

    The file is opened read-only and immutable: no lock, journal, -wal or -shm file is made
    beside it, and it is left byte for byte as it was.
    """
    try:
        with closing(sqlite3.connect(f"{path.absolute().as_uri()}?mode=ro&immutable=1", uri=True)) as database:
            # One problem is enough to refuse the file, and the first one names it.
            (verdict,) = database.execute("PRAGMA quick_check(1)").fetchone()
            pages, page_size = database.execute("SELECT * FROM pragma_page_count, pragma_page_size").fetchone()
    except sqlite3.DatabaseError as error:
        return f"SQLite: {error}"
    if verdict != "ok":
        # The problem comes after a "*** in database main ***" line.
        return f"SQLite: {verdict.splitlines()[-1].strip()}"
    # A file cut inside its last page passes the quick check: SQLite reads the missing bytes as zeros.
    size = path.stat().st_size
    if size < pages * page_size:
        return f"it holds {size} bytes, but its {pages} pages of {page_size} make {pages * page_size}"
    return ""


def database_contents(path: Path, database: str) -> Contents:
    """A backup of the database alone (made before media were included), checked; Unusable says why not."""
    engine = engine_of(path)
    if not engine:
        raise Unusable("is neither a PostgreSQL nor a SQLite backup")
    _refuse_other_engine(engine, database)
    _refuse_damaged_database(path, engine)
    return Contents(path, engine, path, None)


def archive_contents(path: Path, database: str, unpack_to: Path) -> Contents:
    """A backup archive, checked whole, with its database part unpacked to `unpack_to` for the checks
    and for the restore to read; Unusable says why not."""
    try:
        manifest = archive.read_manifest(path)
        _refuse_other_engine(manifest.engine, database)
        archive.unpack(path, manifest, unpack_to)
    except archive.Damaged as error:
        raise Unusable(f"is truncated or damaged ({error})") from None
    if engine_of(unpack_to) != manifest.engine:
        name = ENGINE_NAME[manifest.engine]
        raise Unusable(f"is truncated or damaged ({manifest.database.path} is not a {name} backup)")
    _refuse_damaged_database(unpack_to, manifest.engine)
    return Contents(path, manifest.engine, unpack_to, len(manifest.media))


def _refuse_other_engine(engine: str, database: str) -> None:
    if engine != database:
        raise Unusable(
            f"is a {ENGINE_NAME[engine]} backup, but this stack runs {ENGINE_NAME[database]} "
            f"(DATABASE={database} in .env): restore it on a stack with DATABASE={engine}"
        )


def _refuse_damaged_database(part: Path, engine: str) -> None:
    problem = sqlite_problem(part) if engine == "sqlite" else ""
    if problem:
        raise Unusable(f"is truncated or damaged ({problem})")


@contextmanager
def checked_backup(stack: Stack, path: Path) -> Iterator[Contents]:
    """The backup at `path`, checked whole before anything touches the data; StackError with one line if not.

    An archive's database part is unpacked into a private folder in backups/, gone afterwards.
    """
    if not path.is_file():
        raise StackError(f"no backup file {path}: `inv db.list` shows the backups there are")
    if path.stat().st_size == 0:
        raise StackError(f"{path} is empty: it is not a backup; `inv db.list` shows the good ones")
    database = stack.settings.database
    with private_scratch(stack) if archive.is_archive(path) else nullcontext() as scratch:
        try:
            checked = (archive_contents(path, database, scratch / "database") if scratch
                       else database_contents(path, database))
        except Unusable as reason:
            raise StackError(f"{path} {reason}; nothing was restored") from None
        yield checked


@contextmanager
def private_scratch(stack: Stack) -> Iterator[Path]:
    """A folder only you can read (it holds a copy of the database), in backups/, removed afterwards."""
    folder = stack.settings.root / BACKUP_DIR
    folder.mkdir(mode=0o700, exist_ok=True)
    # The dot keeps it out of `db.list`.
    with tempfile.TemporaryDirectory(prefix=".unpacked-", dir=folder) as scratch:
        yield Path(scratch)


def summary(path: Path) -> tuple[str, int | None]:
    """The engine of the backup at `path` ("" when it is none) and its number of media files (None: not
    an archive), read from its first bytes or its manifest alone."""
    if path.stat().st_size == 0:
        return "", None
    if not archive.is_archive(path):
        return engine_of(path), None
    try:
        manifest = archive.read_manifest(path)
    except archive.Damaged:
        return "", None
    return manifest.engine, len(manifest.media)


def list_backups(root: Path) -> list[Backup]:
    """Every backup file under the project's backups/, oldest first."""
    found = []
    folder = root / BACKUP_DIR
    for path in sorted(folder.glob("*")) if folder.is_dir() else []:
        if path.is_file() and not path.name.startswith("."):
            stat = path.stat()
            modified = datetime.fromtimestamp(stat.st_mtime, timezone.utc)
            engine, media = summary(path)
            found.append(Backup(path, engine, stat.st_size, modified, media))
    return sorted(found, key=lambda backup: backup.modified)


def human_size(size: int) -> str:
    for unit in ("bytes", "kB", "MB", "GB"):
        if size < 1000 or unit == "GB":
            return f"{size} {unit}" if unit == "bytes" else f"{size:.1f} {unit}"
        size /= 1000
    return ""


def media_count(media: int | None) -> str:
    if media is None:
        return "database only"
    return f"{media or 'no'} media file{'' if media == 1 else 's'}"


def describe_backup(backup: Backup, root: Path) -> str:
    engine = ENGINE_NAME.get(backup.engine, "unknown")
    when = backup.modified.strftime("%Y-%m-%d %H:%M:%S UTC")
    media = f"  {media_count(backup.media)}" if backup.engine else ""
    return f"{backup.path.relative_to(root)}  {engine}  {human_size(backup.size)}  {when}{media}"


# ---- the data in the stack ----


def require_db_running(stack: Stack) -> None:
    if stack.settings.database == "postgres" and not stack.dry and not stack.container_id(DB, running=True):
        raise StackError("the db service is not running: start the stack with `inv up` first")


def postgres_client(stack: Stack, program: str, *options: str) -> list[str]:
    """A PostgreSQL client in the db container, as the configured user on the configured database."""
    env = stack.settings.environment
    return [program, "--username", env["POSTGRES_USER"], "--dbname", env["POSTGRES_DB"], *options]


def backup(stack: Stack) -> Path:
    """Write a timestamped backup under backups/ and return its path; a failed or unverified one leaves no file."""
    database = stack.settings.database
    require_db_running(stack)
    folder = stack.settings.root / BACKUP_DIR
    created = datetime.now(timezone.utc)
    stamp = created.strftime("%Y%m%d-%H%M%S")
    path = folder / f"{stack.settings.project_name}-{stamp}{SUFFIX}"
    # Two backups within a second get two files, never one overwriting the other.
    for number in range(2, 100):
        if not path.exists():
            break
        path = folder / f"{stack.settings.project_name}-{stamp}-{number}{SUFFIX}"
    # Beside the backup, hidden from `db.list` by the dot: the parts as they come, the archive
    # until it passed its checks, and the database part unpacked again for them.
    dump, media, partial, unpacked = (folder / f".{path.name}.{part}.part"
                                      for part in ("database", "media", "tar", "check"))
    if not stack.dry:
        # Backups hold everything the database does, password hashes included: yours alone to read.
        folder.mkdir(mode=0o700, exist_ok=True)
    try:
        if database == "postgres":
            result = stack.exec(postgres_client(stack, "pg_dump", "--format=custom"), service=DB,
                                interactive=False, stdout_to=dump, warn=True)
        else:
            result = stack.in_web([*TOOL, "sqlite-backup"], interactive=False, stdout_to=dump, warn=True)
        if result.failed:
            raise StackError(f"the backup failed (exit status {result.exited}): the reason is above; no file was kept")
        # The media after the database: a row names a file only once it was written, so every
        # file a row of the dump names is there (unless it was deleted in between).
        result = stack.in_web([*TOOL, "media-tar"], interactive=False, stdout_to=media, warn=True)
        if result.failed:
            raise StackError(f"copying the media files failed (exit status {result.exited}): the reason is above; "
                             "no file was kept")
        if stack.dry:
            return path
        try:
            archive.write(partial, database, dump, media, created)
        except archive.Damaged as error:
            raise StackError(f"the backup could not be put together ({error}); no file was kept") from None
        # Gone before the check makes its copy: the parts, the archive and the copy would need three times the room.
        dump.unlink()
        media.unlink()
        try:
            archive_contents(partial, database, unpacked)
        except Unusable as reason:
            raise StackError(f"the new backup {reason}; no file was kept") from None
        partial.rename(path)
    finally:
        for scratch in (dump, media, partial, unpacked):
            scratch.unlink(missing_ok=True)
    return path


def restore(stack: Stack, backup: Contents) -> None:
    """Replace the database, then the media files when the backup has them, with the backup's;
    a failure leaves the current ones in place."""
    database = stack.settings.database
    require_db_running(stack)
    if database == "postgres":
        command = postgres_client(
            stack, "pg_restore", "--clean", "--if-exists", "--no-owner", "--single-transaction", "--exit-on-error"
        )
        result = stack.exec(command, service=DB, interactive=False, stdin_from=backup.database, warn=True)
        kept = "the restore ran in one transaction, so the database is as it was"
    else:
        result = stack.in_web([*TOOL, "sqlite-restore"], interactive=False, stdin_from=backup.database, warn=True)
        kept = "the live database was not touched"
    if result.failed:
        raise StackError(f"restoring {backup.path} failed (exit status {result.exited}): the reason is above; {kept}")
    if backup.media is None:
        return
    # The archive itself goes in, not a media tar made from it: the container checks what it unpacks
    # against the manifest in the same stream, and no copy of the media is written here. It skips the
    # database part, which costs only the time to read past it.
    result = stack.in_web([*TOOL, "media-restore"], interactive=False, stdin_from=backup.path, warn=True)
    if result.failed:
        raise StackError(f"restoring the media files of {backup.path} failed (exit status {result.exited}): the "
                         "reason is above; the database was restored, the media files are as they were")


def restored_media(backup: Contents) -> str:
    """The line a restore ends with, on the media files."""
    if backup.media is None:
        return (f"{backup.path} is a backup of the database alone, with no media files: "
                "the media files were left as they were")
    return f"{media_count(backup.media)} restored"


def table_counts(stack: Stack) -> list[tuple[str, int]]:
    """(table, rows) for every table of the site's database, asked of Django in the web container."""
    result = stack.in_web([*TOOL, "counts"], interactive=False, hide="out", warn=True)
    if result.failed:
        raise StackError(f"counting the rows failed (exit status {result.exited}): the reason is above")
    rows = []
    for line in result.stdout.splitlines():
        table, _, count = line.partition("\t")
        if count.strip().isdigit():
            rows.append((table, int(count)))
    return rows


def print_counts(counts: list[tuple[str, int]]) -> None:
    width = max([len("table"), *(len(table) for table, _ in counts)])
    print(f"{'table':<{width}}  rows")
    for table, count in counts:
        print(f"{table:<{width}}  {count}")


def report_backup(path: Path, root: Path) -> None:
    if path.exists():
        _, media = summary(path)
        print(f"{path.relative_to(root)} ({human_size(path.stat().st_size)}, {media_count(media)})")
