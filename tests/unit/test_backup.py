"""db.backup, db.restore, db.list, db.counts, and what `down --volumes` says first: exact commands and errors.

The backup archives here are real tar files, built by hand (not by stack/archive.py) so that
each test says exactly which bytes, members and manifest the file holds.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import shlex
import sqlite3
import tarfile
from datetime import datetime
from pathlib import Path

import pytest
from invoke import Result

import tasks
from stack import backup as backups
from stack.errors import StackError
from stack.runner import Stack
from stack.settings import load_settings

from .conftest import BUILD_WEB, calls, mock_context, ran, write

DB_RUNNING = (r"docker compose .*ps --status running --format .* db$", Result("d0d0\n"))
WEB_RUNNING = (r"docker compose .*ps --status running --format .* web$", Result("c0ffee\n"))
VOLUMES = (r"docker volume ls ", Result("proj_data\n"))
COUNTS = (r".*dbtool\.py counts", Result("auth_user\t2\nguestbook_entry\t12\n"))
PG_ENV = ["DATABASE=postgres", "POSTGRES_PASSWORD=s3cret", "POSTGRES_USER=site", "POSTGRES_DB=guests"]
TOOL = ["python", "/usr/local/lib/django-docker/dbtool.py"]
PGDUMP = b"PGDMP" + b"\0" * 100
# Uploads with a nested folder, a space in a name and bytes that are no text.
MEDIA = {"a b.txt": b"hello\n", "photos/2026/cat.jpg": bytes(range(256)) * 40}
DATABASE_PART = {"postgres": "database.pgdump", "sqlite": "database.sqlite3"}


def sqlite_file(path: Path, rows: int = 3) -> bytes:
    """A real SQLite database file's bytes, as `db.backup` would write them."""
    database = sqlite3.connect(path)
    database.execute("CREATE TABLE entry (text TEXT)")
    database.executemany("INSERT INTO entry VALUES (?)", [("x" * 2000,)] * rows)
    database.commit()
    database.close()
    return path.read_bytes()


def member(name: str, data: bytes = b"", kind: bytes = tarfile.REGTYPE, link: str = "") -> tuple[tarfile.TarInfo, bytes]:
    info = tarfile.TarInfo(name)
    info.type, info.linkname = kind, link
    info.size = len(data) if kind == tarfile.REGTYPE else 0
    return info, data


def tar_of(*members: tuple[tarfile.TarInfo, bytes] | tuple[str, bytes]) -> bytes:
    """A tar holding these members, in this order: (name, bytes) for a file, or what `member` makes."""
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w", format=tarfile.PAX_FORMAT) as tar:
        for info, data in (item if isinstance(item[0], tarfile.TarInfo) else member(*item) for item in members):
            tar.addfile(info, io.BytesIO(data))
    return buffer.getvalue()


def entry(path: str, data: bytes) -> dict:
    return {"path": path, "size": len(data), "sha256": hashlib.sha256(data).hexdigest()}


def manifest(engine: str, database: bytes, media: dict[str, bytes], **changes) -> bytes:
    fields = {"format": 1, "engine": engine, "created": "2026-01-01T12:00:00Z",
              "database": entry(DATABASE_PART[engine], database),
              "media": [entry(path, data) for path, data in media.items()]}
    return json.dumps({**fields, **changes}).encode()


def archive_of(engine: str, database: bytes, media: dict[str, bytes]) -> bytes:
    """A backup archive as `db.backup` writes it: the manifest, the database part, the media files."""
    return tar_of(("manifest.json", manifest(engine, database, media)), (DATABASE_PART[engine], database),
                  *((f"media/{path}", data) for path, data in media.items()))


def media_stream(files: dict[str, bytes]) -> bytes:
    """What dbtool.py media-tar writes: a tar of the media directory, names relative to it."""
    return tar_of(*files.items())


def members_of(path: Path) -> dict[str, bytes]:
    with tarfile.open(path) as tar:
        return {info.name: tar.extractfile(info).read() for info in tar}


def commands(c) -> list[list[str]]:
    """The commands a user sees run (quiet look-ups and the image's build left out), without the shell
    redirection at the end."""
    seen = [argv for argv, options in calls(c) if options.get("hide") is not True and argv != BUILD_WEB]
    return [argv[:-2] if argv[-2:-1] in (["<"], [">"]) else argv for argv in seen]


def redirect(c, word: str) -> list[str]:
    """The shell redirection (`>` or `<` and the path) of the one command holding `word`."""
    (argv,) = [argv for argv, _ in calls(c) if word in argv]
    return argv[-2:]


class Project:
    """A project root of its own (backups/ is written there), and tasks run against it with docker scripted."""

    def __init__(self, root: Path, engine, monkeypatch) -> None:
        self.root = root
        self.engine = engine
        self.c = None
        # What a command redirected with `>` produces, by a word of it (pg_dump, sqlite-backup, media-tar).
        self.writes = {"media-tar": media_stream({})}
        # What a command redirected with `<` got, by the same words, read as it ran.
        self.reads: dict[str, bytes] = {}
        monkeypatch.setattr(tasks, "open_stack", lambda c, root: Stack(c, load_settings(self.root, {}), self.engine))
        monkeypatch.setattr(tasks, "ROOT", root)
        monkeypatch.chdir(root)

    def env(self, *lines: str) -> None:
        write(self.root, "".join(line + "\n" for line in lines))

    def run(self, task, *responses, dry: bool = False, **kwargs) -> list[list[str]]:
        self.c = mock_context(*responses, dry=dry)
        wrapped = self.c.run._mock_wraps

        def run_with_redirects(command, **options):
            argv = shlex.split(command)
            word = next((word for word in [*self.writes, "pg_restore", "sqlite-restore", "media-restore"]
                         if word in argv), None)
            if dry:
                pass  # no shell runs, so nothing is written or read
            elif argv[-2:-1] == [">"]:
                Path(argv[-1]).write_bytes(self.writes[word])
            elif argv[-2:-1] == ["<"]:
                self.reads[word] = Path(argv[-1]).read_bytes()
            return wrapped(command, **options)

        self.c.run.side_effect = run_with_redirects
        task(self.c, **kwargs)
        return commands(self.c)

    def fails(self, task, *responses, **kwargs) -> StackError:
        with pytest.raises(StackError) as caught:
            self.run(task, *responses, **kwargs)
        return caught.value

    def compose(self, *args: str) -> list[str]:
        # The project and its files reach Compose in its environment.
        return ["docker", "compose", "--env-file", os.devnull, *args]

    def backups(self) -> list[str]:
        """Every name in backups/, hidden ones (parts, scratch folders) too."""
        folder = self.root / "backups"
        return sorted(os.listdir(folder)) if folder.exists() else []


@pytest.fixture
def p(project_root, engine, monkeypatch, clock):
    return Project(project_root, engine, monkeypatch)


# ---- db.backup ----


def test_backup_of_postgres_runs_pg_dump_in_the_db_container_then_copies_the_media_into_one_archive(p, capsys):
    p.env(*PG_ENV)
    p.writes["pg_dump"] = PGDUMP
    commands = p.run(tasks.backup, DB_RUNNING, WEB_RUNNING)
    (name,) = p.backups()
    assert name.startswith("proj-") and name.endswith(".tar")
    assert commands == [p.compose("exec", "-T", "db", "pg_dump", "--username", "site", "--dbname", "guests",
                                  "--format=custom"),
                        p.compose("exec", "-T", "web", *TOOL, "media-tar")]
    # The bytes never pass through Invoke: the shell writes them to files beside the backup.
    assert redirect(p.c, "pg_dump") == [">", str(p.root / "backups" / f".{name}.database.part")]
    assert redirect(p.c, "media-tar") == [">", str(p.root / "backups" / f".{name}.media.part")]
    assert members_of(p.root / "backups" / name)["database.pgdump"] == PGDUMP
    size = (p.root / "backups" / name).stat().st_size
    assert capsys.readouterr().out == f"backups/{name} ({backups.human_size(size)}, no media files)\n"


def test_a_backup_holds_the_manifest_first_then_the_database_then_every_media_file(p, tmp_path):
    database = sqlite_file(tmp_path / "live.sqlite3")
    p.writes.update({"sqlite-backup": database, "media-tar": media_stream(MEDIA)})
    p.run(tasks.backup, WEB_RUNNING)
    (name,) = p.backups()
    members = members_of(p.root / "backups" / name)
    assert list(members) == ["manifest.json", "database.sqlite3", "media/a b.txt", "media/photos/2026/cat.jpg"]
    assert members["database.sqlite3"] == database
    assert all(members[f"media/{path}"] == data for path, data in MEDIA.items())
    written = json.loads(members["manifest.json"])
    assert written["engine"] == "sqlite"
    stamp = datetime.strptime(name, "proj-%Y%m%d-%H%M%S.tar")
    assert written["created"] == stamp.strftime("%Y-%m-%dT%H:%M:%SZ")
    assert written["database"] == entry("database.sqlite3", database)
    assert written["media"] == [entry(path, data) for path, data in MEDIA.items()]


def test_backup_of_sqlite_copies_it_online_in_the_web_container_then_the_media(p, tmp_path, capsys):
    p.writes["sqlite-backup"] = sqlite_file(tmp_path / "live.sqlite3")
    p.writes["media-tar"] = media_stream(MEDIA)
    commands = p.run(tasks.backup, WEB_RUNNING)
    (name,) = p.backups()
    assert commands == [p.compose("exec", "-T", "web", *TOOL, "sqlite-backup"),
                        p.compose("exec", "-T", "web", *TOOL, "media-tar")]
    size = (p.root / "backups" / name).stat().st_size
    assert capsys.readouterr().out == f"backups/{name} ({backups.human_size(size)}, 2 media files)\n"


def test_backup_of_sqlite_works_with_the_stack_down_in_throwaway_containers(p, tmp_path):
    p.writes["sqlite-backup"] = sqlite_file(tmp_path / "live.sqlite3")
    commands = p.run(tasks.backup)
    throwaway = ["run", "--rm", "--no-deps", "-T"]
    assert [argv[len(p.compose()) : len(p.compose()) + 4] for argv in commands] == [throwaway, throwaway]
    assert len(p.backups()) == 1


def test_two_backups_in_the_same_second_are_two_files(p, tmp_path, monkeypatch):
    p.writes["sqlite-backup"] = sqlite_file(tmp_path / "live.sqlite3")
    p.run(tasks.backup, WEB_RUNNING)
    p.run(tasks.backup, WEB_RUNNING)
    assert len(p.backups()) == 2


def test_a_failed_backup_leaves_no_file(p):
    p.env(*PG_ENV)
    p.writes["pg_dump"] = b"pg_dump: error"
    error = p.fails(tasks.backup, DB_RUNNING, (r".* pg_dump ", Result(exited=1)))
    assert "no file was kept" in error.message
    assert not ran(p.c, "media-tar")
    assert p.backups() == []


def test_a_failed_copy_of_the_media_leaves_no_file(p, tmp_path):
    p.writes["sqlite-backup"] = sqlite_file(tmp_path / "live.sqlite3")
    error = p.fails(tasks.backup, WEB_RUNNING, (r".*dbtool\.py media-tar", Result(exited=1)))
    assert error.message.startswith("error: copying the media files failed (exit status 1)")
    assert "no file was kept" in error.message
    assert p.backups() == []


def test_a_backup_that_comes_out_truncated_is_not_kept(p, tmp_path):
    p.writes["sqlite-backup"] = sqlite_file(tmp_path / "live.sqlite3")[:5000]
    error = p.fails(tasks.backup, WEB_RUNNING)
    assert error.message.startswith("error: the new backup is truncated or damaged (SQLite: ")
    assert "no file was kept" in error.message
    assert p.backups() == []


def test_a_postgres_dump_that_is_no_dump_is_not_kept(p):
    p.env(*PG_ENV)
    p.writes["pg_dump"] = b"pg_dump: warning: but exit status 0\n"
    error = p.fails(tasks.backup, DB_RUNNING, WEB_RUNNING)
    assert "(database.pgdump is not a PostgreSQL backup)" in error.message
    assert p.backups() == []


@pytest.mark.parametrize("stream", [
    tar_of(("../../etc/passwd", b"x")),
    tar_of(("/etc/passwd", b"x")),
    tar_of(member("link", kind=tarfile.SYMTYPE, link="/etc/passwd")),
    b"not a tar at all" * 100,
], ids=["dotdot", "absolute", "symlink", "garbage"])
def test_a_media_stream_with_anything_but_files_inside_the_media_directory_is_not_kept(p, tmp_path, stream):
    p.writes["sqlite-backup"] = sqlite_file(tmp_path / "live.sqlite3")
    p.writes["media-tar"] = stream
    error = p.fails(tasks.backup, WEB_RUNNING)
    assert error.message.startswith("error: the backup could not be put together (")
    assert "no file was kept" in error.message and "\n" not in error.message
    assert p.backups() == []


def test_backup_of_postgres_needs_the_db_running(p):
    p.env(*PG_ENV)
    error = p.fails(tasks.backup)
    assert "`inv up`" in error.message
    assert not ran(p.c, "pg_dump")


def test_a_dry_backup_shows_both_commands_and_writes_nothing(p):
    p.env(*PG_ENV)
    commands = p.run(tasks.backup, dry=True)
    assert [argv[-1] for argv in commands] == ["--format=custom", "media-tar"]
    assert not (p.root / "backups").exists()


# ---- db.restore ----


PG_RESTORE = ["pg_restore", "--username", "site", "--dbname", "guests",
              "--clean", "--if-exists", "--no-owner", "--single-transaction", "--exit-on-error"]


def test_restore_of_a_postgres_archive_feeds_pg_restore_its_dump_then_the_media_then_counts(p, capsys):
    p.env(*PG_ENV)
    (p.root / "good.tar").write_bytes(archive_of("postgres", PGDUMP, MEDIA))
    commands = p.run(tasks.restore, DB_RUNNING, WEB_RUNNING, COUNTS, file="good.tar", yes=True)
    assert commands == [p.compose("exec", "-T", "db", *PG_RESTORE),
                        p.compose("exec", "-T", "web", *TOOL, "media-restore"),
                        p.compose("exec", "-T", "web", *TOOL, "counts")]
    # pg_restore reads the dump unpacked into a private folder; the media tool reads the archive itself.
    assert p.reads == {"pg_restore": PGDUMP, "media-restore": (p.root / "good.tar").read_bytes()}
    assert redirect(p.c, "media-restore") == ["<", "good.tar"]
    assert Path(redirect(p.c, "pg_restore")[1]).parent.parent == p.root / "backups"
    assert p.backups() == [], "the unpacked dump must be gone"
    assert capsys.readouterr().out.splitlines() == [
        "table            rows", "auth_user        2", "guestbook_entry  12", "2 media files restored"]


def test_restore_of_a_sqlite_archive_streams_its_database_then_its_media_into_the_web_container(p, tmp_path, capsys):
    database = sqlite_file(tmp_path / "live.sqlite3")
    (p.root / "good.tar").write_bytes(archive_of("sqlite", database, MEDIA))
    commands = p.run(tasks.restore, WEB_RUNNING, COUNTS, file="good.tar", yes=True)
    verbs = ("sqlite-restore", "media-restore", "counts")
    assert commands == [p.compose("exec", "-T", "web", *TOOL, verb) for verb in verbs]
    assert p.reads["sqlite-restore"] == database
    assert capsys.readouterr().out.endswith("guestbook_entry  12\n2 media files restored\n")


def test_restore_of_an_archive_without_media_empties_the_media_directory(p, tmp_path, capsys):
    (p.root / "good.tar").write_bytes(archive_of("sqlite", sqlite_file(tmp_path / "live.sqlite3"), {}))
    p.run(tasks.restore, WEB_RUNNING, COUNTS, file="good.tar", yes=True)
    assert ran(p.c, "media-restore")
    assert capsys.readouterr().out.endswith("\nno media files restored\n")


@pytest.mark.parametrize("database", ["postgres", "sqlite"])
def test_an_older_backup_of_the_database_alone_still_restores_and_says_it_had_no_media(p, tmp_path, capsys, database):
    name = {"postgres": "good.pgdump", "sqlite": "good.sqlite3"}[database]
    if database == "postgres":
        p.env(*PG_ENV)
        (p.root / name).write_bytes(PGDUMP)
        restore = p.compose("exec", "-T", "db", *PG_RESTORE)
    else:
        (p.root / name).write_bytes(sqlite_file(tmp_path / "live.sqlite3"))
        restore = p.compose("exec", "-T", "web", *TOOL, "sqlite-restore")
    commands = p.run(tasks.restore, DB_RUNNING, WEB_RUNNING, COUNTS, file=name, yes=True)
    assert commands == [restore, p.compose("exec", "-T", "web", *TOOL, "counts")]
    assert redirect(p.c, restore[-1] if database == "sqlite" else "pg_restore") == ["<", name]
    assert capsys.readouterr().out.splitlines()[-1] == (
        f"{name} is a backup of the database alone, with no media files: the media files were left as they were")


def test_restore_finds_a_file_as_db_list_prints_it_from_a_subdirectory(p, tmp_path, monkeypatch):
    (p.root / "backups").mkdir()
    (p.root / "backups" / "good.tar").write_bytes(archive_of("sqlite", sqlite_file(tmp_path / "live.sqlite3"), MEDIA))
    monkeypatch.chdir(p.root / "site")
    p.run(tasks.restore, WEB_RUNNING, COUNTS, file="backups/good.tar", yes=True)
    assert redirect(p.c, "media-restore") == ["<", str(p.root / "backups" / "good.tar")]


def test_the_backup_folder_is_readable_by_its_owner_only(p, tmp_path):
    p.writes["sqlite-backup"] = sqlite_file(tmp_path / "live.sqlite3")
    p.run(tasks.backup, WEB_RUNNING)
    assert (p.root / "backups").stat().st_mode & 0o777 == 0o700


def test_restore_without_a_terminal_and_without_yes_refuses_and_runs_nothing(p, tmp_path):
    (p.root / "good.tar").write_bytes(archive_of("sqlite", sqlite_file(tmp_path / "live.sqlite3"), MEDIA))
    error = p.fails(tasks.restore, WEB_RUNNING, file="good.tar")
    assert "replaces the current database and media files" in error.message and "--yes" in error.message
    assert commands(p.c) == []
    assert p.backups() == [], "the unpacked database must be gone"


@pytest.mark.parametrize("answer, restored", [("y", True), ("", False), ("no", False)])
def test_restore_at_a_terminal_asks_first(p, tmp_path, host, monkeypatch, capsys, answer, restored):
    host.set_tty(True)
    monkeypatch.setattr("builtins.input", lambda prompt="": answer)
    (p.root / "good.tar").write_bytes(archive_of("sqlite", sqlite_file(tmp_path / "live.sqlite3"), MEDIA))
    if restored:
        p.run(tasks.restore, WEB_RUNNING, COUNTS, file="good.tar")
    else:
        assert "nothing restored" in p.fails(tasks.restore, WEB_RUNNING, file="good.tar").message
    assert "replaces the database and the media files of project proj with those in good.tar (2 media files)" in (
        capsys.readouterr().out)
    assert ran(p.c, "sqlite-restore") == restored and ran(p.c, "media-restore") == restored


def test_at_a_terminal_an_older_backup_is_said_to_leave_the_media_alone(p, tmp_path, host, monkeypatch, capsys):
    host.set_tty(True)
    monkeypatch.setattr("builtins.input", lambda prompt="": "y")
    (p.root / "good.sqlite3").write_bytes(sqlite_file(tmp_path / "live.sqlite3"))
    p.run(tasks.restore, WEB_RUNNING, COUNTS, file="good.sqlite3")
    assert "good.sqlite3, a backup of the database alone: the media files stay as they are" in capsys.readouterr().out


def test_a_failed_restore_says_the_database_was_kept(p):
    p.env(*PG_ENV)
    (p.root / "cut.tar").write_bytes(archive_of("postgres", PGDUMP, MEDIA))
    error = p.fails(tasks.restore, DB_RUNNING, (r".* pg_restore ", Result(exited=1)), file="cut.tar", yes=True)
    assert "one transaction" in error.message and "as it was" in error.message
    assert not ran(p.c, "media-restore") and not ran(p.c, "counts")


def test_a_failed_restore_of_the_media_says_what_was_restored_and_what_was_not(p, tmp_path):
    (p.root / "good.tar").write_bytes(archive_of("sqlite", sqlite_file(tmp_path / "live.sqlite3"), MEDIA))
    failing = (r".*dbtool\.py media-restore", Result(exited=1))
    error = p.fails(tasks.restore, WEB_RUNNING, failing, file="good.tar", yes=True)
    assert error.message == ("error: restoring the media files of good.tar failed (exit status 1): the reason is above; "
                             "the database was restored, the media files are as they were")
    assert p.backups() == []


def damaged(good: bytes) -> bytes:
    """`good` with its table's root, page 2 (an interior page with 10 rows), pointing at a page that does not exist."""
    start = 4096  # SQLite's default page size: page 2 starts there
    return good[: start + 8] + b"\xff" * 4 + good[start + 12 :]


def bad_files(tmp_path: Path) -> dict[str, tuple[bytes, str]]:
    good = sqlite_file(tmp_path / "live.sqlite3", rows=10)
    return {
        "empty.sqlite3": (b"", "is empty"),
        "notes.txt": (b"just some text\n", "neither a PostgreSQL nor a SQLite backup"),
        "cut.sqlite3": (good[: len(good) // 2], "is truncated or damaged (SQLite: "),
        "header.sqlite3": (good[:60], "is truncated or damaged (SQLite: "),
        # SQLite reads a cut last page as zeros: only the length tells.
        "last-byte.sqlite3": (good[:-1], f"is truncated or damaged (it holds {len(good) - 1} bytes"),
        "damaged.sqlite3": (damaged(good), "is truncated or damaged (SQLite: "),
        "other.pgdump": (b"PGDMP" + b"\0" * 50, "is a PostgreSQL backup, but this stack runs SQLite"),
    }


@pytest.mark.parametrize("name", ["empty.sqlite3", "notes.txt", "cut.sqlite3", "header.sqlite3", "last-byte.sqlite3",
                                  "damaged.sqlite3", "other.pgdump"])
def test_a_bad_backup_file_gets_one_line_and_nothing_runs(p, tmp_path, name):
    content, message = bad_files(tmp_path)[name]
    (p.root / name).write_bytes(content)
    error = p.fails(tasks.restore, WEB_RUNNING, file=name, yes=True)
    assert message in error.message and "\n" not in error.message
    assert commands(p.c) == []


def with_byte_flipped(data: bytes, inside: bytes) -> bytes:
    """`data` with one byte changed in the middle of the first place it holds `inside`."""
    at = data.index(inside) + len(inside) // 2
    return data[:at] + bytes([data[at] ^ 0xFF]) + data[at + 1 :]


def bad_archives(tmp_path: Path) -> dict[str, tuple[bytes, str]]:
    """Archives that are wrong in one way each, and what the refusal says."""
    database = sqlite_file(tmp_path / "live.sqlite3", rows=10)
    good = archive_of("sqlite", database, MEDIA)
    listed = ("manifest.json", manifest("sqlite", database, MEDIA))
    db = ("database.sqlite3", database)
    files = [(f"media/{path}", data) for path, data in MEDIA.items()]
    one_file_listed = ("manifest.json", manifest("sqlite", database, {"a b.txt": MEDIA["a b.txt"]}))
    one_byte_more = json.loads(listed[1])
    one_byte_more["media"][0]["size"] += 1
    mixed_up = ("manifest.json", manifest("sqlite", PGDUMP, {}))
    return {
        "media-byte": (with_byte_flipped(good, MEDIA["photos/2026/cat.jpg"]),
                       "(media/photos/2026/cat.jpg's SHA-256 is not the one its manifest.json gives)"),
        "database-byte": (with_byte_flipped(good, database[5000:6000]),
                          "(database.sqlite3's SHA-256 is not the one its manifest.json gives)"),
        "cut": (good[: len(good) * 2 // 3], "is truncated or damaged (it ends early"),
        "cut-at-a-header": (good[: good.index(b"media/photos")],
                            "(media/photos/2026/cat.jpg is in its manifest.json but not in the file)"),
        "wrong-size": (tar_of(("manifest.json", json.dumps(one_byte_more).encode()), db, *files),
                       "(media/a b.txt's size is not the one its manifest.json gives)"),
        "unlisted-file": (tar_of(one_file_listed, db, *files),
                          "('media/photos/2026/cat.jpg' is not in its manifest.json)"),
        "listed-but-missing": (tar_of(listed, db, files[0]),
                               "(media/photos/2026/cat.jpg is in its manifest.json but not in the file)"),
        "twice": (tar_of(listed, db, *files, files[0]), "('media/a b.txt' is in it twice)"),
        "no-manifest": (tar_of(db, *files), "(it does not start with a manifest.json)"),
        "manifest-last": (tar_of(db, *files, listed), "(it does not start with a manifest.json)"),
        "manifest-not-json": (tar_of(("manifest.json", b"{engine: sqlite"), db),
                              "its manifest.json is not one these tasks write"),
        "manifest-missing-field": (tar_of(("manifest.json", b'{"format": 1, "engine": "sqlite"}'), db),
                                   "its manifest.json is not one these tasks write"),
        "newer-format": (tar_of(("manifest.json", manifest("sqlite", database, {}, format=2)), db),
                         "its manifest.json is of format 2, and these tasks read format 1"),
        "other-engine": (archive_of("postgres", PGDUMP, MEDIA), "is a PostgreSQL backup, but this stack runs SQLite"),
        "database-of-the-other-engine": (tar_of(mixed_up, ("database.sqlite3", PGDUMP)),
                                         "(database.sqlite3 is not a SQLite backup)"),
        "damaged-database": (archive_of("sqlite", damaged(database), {}), "is truncated or damaged (SQLite: "),
    }


@pytest.mark.parametrize("name", ["media-byte", "database-byte", "cut", "cut-at-a-header", "wrong-size", "unlisted-file",
                                  "listed-but-missing", "twice", "no-manifest", "manifest-last", "manifest-not-json",
                                  "manifest-missing-field", "newer-format", "other-engine", "database-of-the-other-engine",
                                  "damaged-database"])
def test_a_bad_archive_gets_one_line_and_nothing_runs_or_stays(p, tmp_path, name):
    content, message = bad_archives(tmp_path)[name]
    (p.root / "bad.tar").write_bytes(content)
    error = p.fails(tasks.restore, WEB_RUNNING, file="bad.tar", yes=True)
    assert error.message.startswith("error: bad.tar ") and error.message.endswith("; nothing was restored")
    assert message in error.message and "\n" not in error.message
    assert commands(p.c) == []
    assert p.backups() == [], "nothing unpacked may stay"


@pytest.mark.parametrize("media_name, member_name", [
    ("../../etc/cron.d/evil", "media/../../etc/cron.d/evil"),
    ("/etc/cron.d/evil", "media//etc/cron.d/evil"),
    ("photos/../../../evil", "media/photos/../../../evil"),
    ("./evil", "media/./evil"),
], ids=["dotdot", "absolute", "dotdot-inside", "dot"])
def test_a_media_path_that_leads_out_of_the_media_directory_is_refused(p, tmp_path, media_name, member_name):
    database = sqlite_file(tmp_path / "live.sqlite3")
    evil = {media_name: b"* * * * * root rm -rf /\n"}
    (p.root / "bad.tar").write_bytes(tar_of(("manifest.json", manifest("sqlite", database, evil)),
                                            ("database.sqlite3", database), (member_name, evil[media_name])))
    error = p.fails(tasks.restore, WEB_RUNNING, file="bad.tar", yes=True)
    assert f"its manifest.json names {media_name!r}, which is not a path inside the media directory" in error.message
    assert commands(p.c) == []


@pytest.mark.parametrize("evil", [
    member("media/link", kind=tarfile.SYMTYPE, link="/etc/passwd"),
    member("media/hard", kind=tarfile.LNKTYPE, link="database.sqlite3"),
    member("media/sda", kind=tarfile.BLKTYPE),
    member("media/photos", kind=tarfile.DIRTYPE),
    member("/etc/passwd", b"root::0:0::/:/bin/sh\n"),
    member("../outside", b"x"),
], ids=["symlink", "hardlink", "device", "folder", "absolute", "dotdot"])
def test_a_member_that_is_not_a_listed_file_is_refused_whatever_it_is(p, tmp_path, evil):
    database = sqlite_file(tmp_path / "live.sqlite3")
    (p.root / "bad.tar").write_bytes(tar_of(("manifest.json", manifest("sqlite", database, MEDIA)),
                                            ("database.sqlite3", database), evil,
                                            *((f"media/{path}", data) for path, data in MEDIA.items())))
    error = p.fails(tasks.restore, WEB_RUNNING, file="bad.tar", yes=True)
    assert "is not a regular file" in error.message or "is not in its manifest.json" in error.message
    assert commands(p.c) == []


def test_a_file_and_a_folder_of_the_same_name_are_refused(p, tmp_path):
    database = sqlite_file(tmp_path / "live.sqlite3")
    clash = {"photos": b"a file", "photos/cat.jpg": b"in a folder"}
    (p.root / "bad.tar").write_bytes(archive_of("sqlite", database, clash))
    error = p.fails(tasks.restore, WEB_RUNNING, file="bad.tar", yes=True)
    assert "its manifest.json names 'photos' as a file and as a folder" in error.message


@pytest.mark.parametrize("name", ["my backup #1.sqlite3", "what?.sqlite3", "100%20.sqlite3"])
def test_a_sqlite_file_is_checked_read_only_whatever_its_name(tmp_path, name):
    folder = tmp_path / "backups"
    folder.mkdir()
    good = sqlite_file(tmp_path / "live.sqlite3")
    path = folder / name
    path.write_bytes(good)
    assert backups.database_contents(path, "sqlite") == backups.Contents(path, "sqlite", path, None)
    assert path.read_bytes() == good
    path.write_bytes(good[: len(good) // 2])
    with pytest.raises(backups.Unusable) as caught:
        backups.database_contents(path, "sqlite")
    assert str(caught.value).startswith("is truncated or damaged (SQLite: ")
    assert [entry.name for entry in folder.iterdir()] == [name]


def test_a_copy_of_a_wal_database_is_checked_without_making_files_beside_it(tmp_path):
    live = tmp_path / "live.sqlite3"
    database = sqlite3.connect(live)
    database.execute("PRAGMA journal_mode=WAL")
    database.execute("CREATE TABLE entry (text TEXT)")
    database.commit()
    database.close()
    folder = tmp_path / "backups"
    folder.mkdir()
    (folder / "wal.sqlite3").write_bytes(live.read_bytes())
    backups.database_contents(folder / "wal.sqlite3", "sqlite")
    assert [entry.name for entry in folder.iterdir()] == ["wal.sqlite3"]


def test_a_sqlite_backup_on_a_postgres_stack_is_refused(p, tmp_path):
    p.env(*PG_ENV)
    (p.root / "x.tar").write_bytes(archive_of("sqlite", sqlite_file(tmp_path / "live.sqlite3"), MEDIA))
    error = p.fails(tasks.restore, DB_RUNNING, file="x.tar", yes=True)
    assert "is a SQLite backup, but this stack runs PostgreSQL" in error.message
    assert commands(p.c) == []


def test_restore_of_a_missing_file_or_none_says_what_to_do(p):
    assert "`inv db.list`" in p.fails(tasks.restore, file="backups/nope.tar", yes=True).message
    assert "say which backup" in p.fails(tasks.restore, file="", yes=True).message


# ---- db.list, db.counts ----


def test_list_shows_each_backup_with_its_engine_size_and_media_files(p, tmp_path, capsys):
    folder = p.root / "backups"
    folder.mkdir()
    (folder / "a.pgdump").write_bytes(b"PGDMP" + b"\0" * 1995)
    (folder / "b.sqlite3").write_bytes(sqlite_file(tmp_path / "live.sqlite3"))
    (folder / "c.tar").write_bytes(archive_of("sqlite", sqlite_file(tmp_path / "c.sqlite3"), MEDIA))
    (folder / "d.tar").write_bytes(archive_of("postgres", PGDUMP, {"one.txt": b"1"}))
    (folder / "e.tar").write_bytes(tar_of(("notes.txt", b"not a backup")))
    (folder / ".f.tar.tar.part").write_bytes(b"half")
    for age, name in enumerate(["a.pgdump", "b.sqlite3", "c.tar", "d.tar", "e.tar"]):
        os.utime(folder / name, (1_700_000_000 + age, 1_700_000_000 + age))
    p.run(tasks.list_)
    lines = capsys.readouterr().out.splitlines()
    assert lines[0] == "backups/a.pgdump  PostgreSQL  2.0 kB  2023-11-14 22:13:20 UTC  database only"
    assert lines[1].startswith("backups/b.sqlite3  SQLite  ") and lines[1].endswith("  database only")
    size = (folder / "c.tar").stat().st_size
    assert lines[2] == f"backups/c.tar  SQLite  {backups.human_size(size)}  2023-11-14 22:13:22 UTC  2 media files"
    assert lines[3].startswith("backups/d.tar  PostgreSQL  ") and lines[3].endswith("  1 media file")
    assert lines[4].startswith("backups/e.tar  unknown  ") and lines[4].endswith(" UTC")
    assert len(lines) == 5


def test_list_reads_only_the_manifest_of_an_archive(p, tmp_path, capsys):
    folder = p.root / "backups"
    folder.mkdir()
    good = archive_of("sqlite", sqlite_file(tmp_path / "live.sqlite3"), MEDIA)
    # A media file damaged at the end of the archive: the listing does not check it; a restore does.
    (folder / "late.tar").write_bytes(with_byte_flipped(good, MEDIA["photos/2026/cat.jpg"]))
    p.run(tasks.list_)
    (line,) = capsys.readouterr().out.splitlines()
    assert line.startswith("backups/late.tar  SQLite  ") and line.endswith("  2 media files")


def test_list_without_backups_says_how_to_make_one(p, capsys):
    p.run(tasks.list_)
    assert "inv db.backup" in capsys.readouterr().err


def test_counts_prints_a_table(p, capsys):
    assert p.run(tasks.counts, WEB_RUNNING, COUNTS) == [p.compose("exec", "-T", "web", *TOOL, "counts")]
    assert "guestbook_entry  12" in capsys.readouterr().out


# ---- down --volumes ----


def test_down_volumes_yes_says_where_the_last_backup_is(p, tmp_path, capsys):
    folder = p.root / "backups"
    folder.mkdir()
    (folder / "new.tar").write_bytes(archive_of("sqlite", sqlite_file(tmp_path / "live.sqlite3"), MEDIA))
    (folder / "old.sqlite3").write_bytes(b"SQLite format 3\0")
    for age, name in enumerate(["new.tar", "old.sqlite3"]):
        os.utime(folder / name, (1_700_000_000 - age, 1_700_000_000 - age))
    (folder / "newest.tar").write_bytes(archive_of("postgres", PGDUMP, {}))
    p.run(tasks.down, VOLUMES, volumes=True, yes=True)
    err = capsys.readouterr().err
    assert "the last backup is backups/new.tar  SQLite  " in err
    assert "  2 media files; `inv db.restore` brings it back" in err
    assert ran(p.c, "down", "--remove-orphans", "--volumes")


def test_down_volumes_yes_without_a_backup_says_so(p, capsys):
    p.run(tasks.down, VOLUMES, volumes=True, yes=True)
    assert "there is no SQLite backup in backups/" in capsys.readouterr().err


def test_down_volumes_at_a_terminal_offers_a_backup_first(p, tmp_path, host, monkeypatch):
    host.set_tty(True)
    answers = iter(["y", "proj"])
    monkeypatch.setattr("builtins.input", lambda prompt="": next(answers))
    p.writes["sqlite-backup"] = sqlite_file(tmp_path / "live.sqlite3")
    p.writes["media-tar"] = media_stream(MEDIA)
    commands = p.run(tasks.down, VOLUMES, WEB_RUNNING, volumes=True)
    assert "sqlite-backup" in commands[0] and "media-tar" in commands[1] and commands[-1][-1] == "--volumes"
    (name,) = p.backups()
    assert list(members_of(p.root / "backups" / name))[2:] == ["media/a b.txt", "media/photos/2026/cat.jpg"]


def test_down_volumes_when_the_backup_fails_deletes_nothing(p, host, monkeypatch):
    p.env(*PG_ENV)
    host.set_tty(True)
    monkeypatch.setattr("builtins.input", lambda prompt="": "y")
    p.fails(tasks.down, VOLUMES, volumes=True)
    assert not ran(p.c, "down")


# ---- dbshell ----


def test_dbshell_with_postgres_opens_psql_in_the_db_container(p):
    p.env(*PG_ENV)
    assert p.run(tasks.dbshell, DB_RUNNING) == [
        p.compose("exec", "-T", "db", "psql", "--username", "site", "--dbname", "guests")
    ]


def test_human_size():
    assert [backups.human_size(n) for n in (0, 999, 1000, 31_500, 2_000_000)] == ["0 bytes", "999 bytes", "1.0 kB", "31.5 kB", "2.0 MB"]
