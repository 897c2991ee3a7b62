"""Backups of the site's database: `inv db.backup`, `db.restore`, `db.list`, `db.counts`.

A backup is one file under backups/: a custom-format `pg_dump` for PostgreSQL, an online
SQLite copy for SQLite. The tools run inside the containers (pg_dump next to its server,
SQLite's backup API next to the file), and the bytes travel through the shell's `>` and
`<` at the edge, because Invoke decodes what it captures as text. A file is checked on
this machine (its engine, by its first bytes; a SQLite copy's length, by its header)
before anything touches the database, and a PostgreSQL restore runs in one transaction:
a bad file leaves the current database as it was.
"""

from __future__ import annotations

import sys
from datetime import datetime, timezone
from pathlib import Path
from typing import NamedTuple

from .errors import StackError
from .runner import Stack

BACKUP_DIR = "backups"
DB = "db"
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


def sqlite_length_problem(path: Path) -> str:
    """SQLite's header says how long the file must be: a shorter one was cut off."""
    with open(path, "rb") as handle:
        header = handle.read(100)
    if len(header) < 100:
        return "it ends inside its header"
    page_size = int.from_bytes(header[16:18], "big")
    page_size = 65536 if page_size == 1 else page_size
    pages = int.from_bytes(header[28:32], "big")
    # The page count is only trusted when the file's change counter says it is current.
    if header[24:28] != header[92:96] or not pages:
        return ""
    size = path.stat().st_size
    if size < page_size * pages:
        return f"it holds {size} bytes, but its header says {page_size * pages}"
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
    problem = sqlite_length_problem(path) if engine == "sqlite" else ""
    if problem:
        raise StackError(f"{path} is truncated ({problem}); nothing was restored")


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


# ---- asking first ----


def confirm_restore(stack: Stack, path: Path, yes: bool) -> None:
    """A restore replaces the database: it needs a yes, typed at a terminal or given as --yes."""
    if yes or stack.dry:
        return
    if not stack.interactive:
        raise StackError("a restore replaces the current database; add --yes to confirm when not at a terminal")
    print(f"This replaces the database of project {stack.settings.project_name} with {path}.")
    if input("Restore it? [y/N] ").strip().lower() not in ("y", "yes"):
        raise StackError("nothing restored: the answer was not yes")


def offer_backup_before_deletion(stack: Stack, yes: bool) -> None:
    """Before volumes go: at a terminal, offer a backup; with --yes, say where the last one is."""
    if stack.dry or not stack.volumes():
        return
    if yes:
        backups = [found for found in list_backups(stack.settings.root) if found.engine == stack.settings.database]
        if backups:
            where = describe_backup(backups[-1], stack.settings.root)
            print(f"the last backup is {where}; `inv db.restore` brings it back", file=sys.stderr)
        else:
            print(f"there is no {ENGINE_NAME[stack.settings.database]} backup in {BACKUP_DIR}/: "
                  "the data is gone for good", file=sys.stderr)
    elif stack.interactive:
        if input("Back up the database first (inv db.backup)? [y/N] ").strip().lower() in ("y", "yes"):
            report_backup(backup(stack), stack.settings.root)


def report_backup(path: Path, root: Path) -> None:
    if path.exists():
        print(f"{path.relative_to(root)} ({human_size(path.stat().st_size)})")
