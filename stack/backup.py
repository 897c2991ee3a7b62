"""Backups of the site's database: `inv db.backup`, `db.restore`, `db.list`, `db.counts`.

A backup is one file under backups/: a custom-format `pg_dump` for PostgreSQL, an online
SQLite copy for SQLite. The tools run inside the containers (pg_dump next to its server,
SQLite's backup API next to the file), and the bytes travel through the shell's `>` and
`<` at the edge, because Invoke decodes what it captures as text. A file is checked on
this machine (its engine, by its first bytes; a SQLite copy, by SQLite's own quick check)
before anything touches the database, and a PostgreSQL restore runs in one transaction:
a bad file leaves the current database as it was.
"""

from __future__ import annotations

import sqlite3
from contextlib import closing
from datetime import datetime, timezone
from pathlib import Path
from typing import NamedTuple

from .compose import DB
from .errors import StackError
from .runner import Stack

BACKUP_DIR = "backups"
TOOL = ["python", "/usr/local/lib/django-docker/dbtool.py"]
# What each engine's backup file starts with, its suffix, and its name for people.
MAGIC = {"postgres": b"PGDMP", "sqlite": b"SQLite format 3\x00"}
SUFFIX = {"postgres": ".pgdump", "sqlite": ".sqlite3"}
ENGINE_NAME = {"postgres": "PostgreSQL", "sqlite": "SQLite"}


class Backup(NamedTuple):
    path: Path
    engine: str
    size: int
    modified: datetime


# ---- files on this machine ----


def backup_file(stack: Stack, name: str) -> Path:
    """The file a user named: relative to where they are, or else to the project (as `db.list` prints it)."""
    path = Path(name)
    in_project = stack.settings.root / path
    return in_project if not path.exists() and in_project.exists() else path


def engine_of(path: Path) -> str:
    """The engine whose backup this is, by its first bytes; "" when neither."""
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


def check_backup_file(path: Path, database: str) -> None:
    """One line on what is wrong with the file, before anything touches the database."""
    if not path.is_file():
        raise StackError(f"no backup file {path}: `inv db.list` shows the backups there are")
    if path.stat().st_size == 0:
        raise StackError(f"{path} is empty: it is not a backup; `inv db.list` shows the good ones")
    engine = engine_of(path)
    if not engine:
        raise StackError(f"{path} is neither a PostgreSQL nor a SQLite backup; nothing was restored")
    if engine != database:
        raise StackError(
            f"{path} is a {ENGINE_NAME[engine]} backup, but this stack runs {ENGINE_NAME[database]} "
            f"(DATABASE={database} in .env): restore it on a stack with DATABASE={engine}; nothing was restored"
        )
    problem = sqlite_problem(path) if engine == "sqlite" else ""
    if problem:
        raise StackError(f"{path} is truncated or damaged ({problem}); nothing was restored")


def list_backups(root: Path) -> list[Backup]:
    """Every backup file under the project's backups/, oldest first."""
    found = []
    folder = root / BACKUP_DIR
    for path in sorted(folder.glob("*")) if folder.is_dir() else []:
        if path.is_file() and not path.name.startswith("."):
            stat = path.stat()
            modified = datetime.fromtimestamp(stat.st_mtime, timezone.utc)
            found.append(Backup(path, engine_of(path) if stat.st_size else "", stat.st_size, modified))
    return sorted(found, key=lambda backup: backup.modified)


def human_size(size: int) -> str:
    for unit in ("bytes", "kB", "MB", "GB"):
        if size < 1000 or unit == "GB":
            return f"{size} {unit}" if unit == "bytes" else f"{size:.1f} {unit}"
        size /= 1000
    return ""


def describe_backup(backup: Backup, root: Path) -> str:
    engine = ENGINE_NAME.get(backup.engine, "unknown")
    when = backup.modified.strftime("%Y-%m-%d %H:%M:%S UTC")
    return f"{backup.path.relative_to(root)}  {engine}  {human_size(backup.size)}  {when}"


# ---- the database in the running stack ----


def require_db_running(stack: Stack) -> None:
    if stack.settings.database == "postgres" and not stack.dry and not stack.container_id(DB, running=True):
        raise StackError("the db service is not running: start the stack with `inv up` first")


def postgres_client(stack: Stack, program: str, *options: str) -> list[str]:
    """A PostgreSQL client in the db container, as the configured user on the configured database."""
    env = stack.settings.environment
    return [program, "--username", env["POSTGRES_USER"], "--dbname", env["POSTGRES_DB"], *options]


def backup(stack: Stack) -> Path:
    """Write a timestamped backup under backups/ and return its path; a failed one leaves no file."""
    database = stack.settings.database
    require_db_running(stack)
    folder = stack.settings.root / BACKUP_DIR
    stamp = datetime.now(timezone.utc).strftime("%Y%m%d-%H%M%S")
    path = folder / f"{stack.settings.project_name}-{stamp}{SUFFIX[database]}"
    # Two backups within a second get two files, never one overwriting the other.
    for number in range(2, 100):
        if not path.exists():
            break
        path = folder / f"{stack.settings.project_name}-{stamp}-{number}{SUFFIX[database]}"
    partial = folder / f".{path.name}.part"
    if not stack.dry:
        # Backups hold everything the database does, password hashes included: yours alone to read.
        folder.mkdir(mode=0o700, exist_ok=True)
    if database == "postgres":
        result = stack.exec(postgres_client(stack, "pg_dump", "--format=custom"), service=DB,
                            interactive=False, stdout_to=partial, warn=True)
    else:
        result = stack.in_web([*TOOL, "sqlite-backup"], interactive=False, stdout_to=partial, warn=True)
    if stack.dry:
        return path
    try:
        if result.failed:
            raise StackError(f"the backup failed (exit status {result.exited}): the reason is above; no file was kept")
        check_backup_file(partial, database)
        partial.rename(path)
    finally:
        partial.unlink(missing_ok=True)
    return path


def restore(stack: Stack, path: Path) -> None:
    """Replace the database with the backup's content; a failure leaves the current one in place."""
    database = stack.settings.database
    require_db_running(stack)
    if database == "postgres":
        command = postgres_client(
            stack, "pg_restore", "--clean", "--if-exists", "--no-owner", "--single-transaction", "--exit-on-error"
        )
        result = stack.exec(command, service=DB, interactive=False, stdin_from=path, warn=True)
        kept = "the restore ran in one transaction, so the database is as it was"
    else:
        result = stack.in_web([*TOOL, "sqlite-restore"], interactive=False, stdin_from=path, warn=True)
        kept = "the live database was not touched"
    if result.failed:
        raise StackError(f"restoring {path} failed (exit status {result.exited}): the reason is above; {kept}")


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
        print(f"{path.relative_to(root)} ({human_size(path.stat().st_size)})")
