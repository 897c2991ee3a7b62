"""db.backup, db.restore, db.list, db.counts, and what `down --volumes` says first: exact commands and errors."""

from __future__ import annotations

import os
import shlex
import sqlite3
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


def sqlite_file(path: Path, rows: int = 3) -> bytes:
    """A real SQLite database file's bytes, as `db.backup` would write them."""
    database = sqlite3.connect(path)
    database.execute("CREATE TABLE entry (text TEXT)")
    database.executemany("INSERT INTO entry VALUES (?)", [("x" * 2000,)] * rows)
    database.commit()
    database.close()
    return path.read_bytes()


def commands(c) -> list[list[str]]:
    """The commands a user sees run (quiet look-ups and the image's build left out), without the shell
    redirection at the end."""
    seen = [argv for argv, options in calls(c) if options.get("hide") is not True and argv != BUILD_WEB]
    return [argv[:-2] if argv[-2:-1] in (["<"], [">"]) else argv for argv in seen]


class Project:
    """A project root of its own (backups/ is written there), and tasks run against it with docker scripted."""

    def __init__(self, root: Path, engine, monkeypatch) -> None:
        self.root = root
        self.engine = engine
        self.c = None
        self.writes = b""  # what a command redirected with `>` produces
        monkeypatch.setattr(tasks, "open_stack", lambda c, root: Stack(c, load_settings(self.root, {}), self.engine))
        monkeypatch.setattr(tasks, "ROOT", root)
        monkeypatch.chdir(root)

    def env(self, *lines: str) -> None:
        write(self.root, "".join(line + "\n" for line in lines))

    def run(self, task, *responses, **kwargs) -> list[list[str]]:
        self.c = mock_context(*responses)
        wrapped = self.c.run._mock_wraps

        def run_writing_redirects(command, **options):
            if " > " in command:
                Path(shlex.split(command.rpartition(" > ")[2])[0]).write_bytes(self.writes)
            return wrapped(command, **options)

        self.c.run.side_effect = run_writing_redirects
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
        folder = self.root / "backups"
        return sorted(os.listdir(folder)) if folder.exists() else []


@pytest.fixture
def p(project_root, engine, monkeypatch, clock):
    return Project(project_root, engine, monkeypatch)


# ---- db.backup ----


def test_backup_of_postgres_runs_pg_dump_in_the_db_container_into_a_timestamped_file(p, capsys):
    p.env(*PG_ENV)
    p.writes = b"PGDMP" + b"\0" * 100
    commands = p.run(tasks.backup, DB_RUNNING)
    (name,) = p.backups()
    assert name.startswith("proj-") and name.endswith(".pgdump")
    assert (p.root / "backups" / name).read_bytes() == p.writes
    partial = p.root / "backups" / f".{name}.part"
    assert commands == [p.compose("exec", "-T", "db", "pg_dump", "--username", "site", "--dbname", "guests",
                                  "--format=custom")]
    assert calls(p.c)[-1][0][-2:] == [">", str(partial)]
    assert capsys.readouterr().out == f"backups/{name} (105 bytes)\n"


def test_backup_of_sqlite_copies_it_online_in_the_web_container(p, tmp_path, capsys):
    p.writes = sqlite_file(tmp_path / "live.sqlite3")
    commands = p.run(tasks.backup, WEB_RUNNING)
    (name,) = p.backups()
    assert name.endswith(".sqlite3") and (p.root / "backups" / name).read_bytes() == p.writes
    assert commands == [p.compose("exec", "-T", "web", "python", "/usr/local/lib/django-docker/dbtool.py", "sqlite-backup")]
    assert f"backups/{name} (" in capsys.readouterr().out


def test_backup_of_sqlite_works_with_the_stack_down_in_a_throwaway_container(p, tmp_path):
    p.writes = sqlite_file(tmp_path / "live.sqlite3")
    commands = p.run(tasks.backup)
    assert commands[0][len(p.compose()) : len(p.compose()) + 4] == ["run", "--rm", "--no-deps", "-T"]


def test_two_backups_in_the_same_second_are_two_files(p, tmp_path, monkeypatch):
    p.writes = sqlite_file(tmp_path / "live.sqlite3")
    p.run(tasks.backup, WEB_RUNNING)
    p.run(tasks.backup, WEB_RUNNING)
    assert len(p.backups()) == 2


def test_a_failed_backup_leaves_no_file(p):
    p.env(*PG_ENV)
    p.writes = b"pg_dump: error"
    error = p.fails(tasks.backup, DB_RUNNING, (r".* pg_dump ", Result(exited=1)))
    assert "no file was kept" in error.message
    assert p.backups() == []


def test_a_backup_that_comes_out_truncated_is_not_kept(p, tmp_path):
    p.writes = sqlite_file(tmp_path / "live.sqlite3")[:5000]
    error = p.fails(tasks.backup, WEB_RUNNING)
    assert "truncated" in error.message
    assert p.backups() == []


def test_backup_of_postgres_needs_the_db_running(p):
    p.env(*PG_ENV)
    error = p.fails(tasks.backup)
    assert "`inv up`" in error.message
    assert not ran(p.c, "pg_dump")


# ---- db.restore ----


PG_RESTORE = ["pg_restore", "--username", "site", "--dbname", "guests",
              "--clean", "--if-exists", "--no-owner", "--single-transaction", "--exit-on-error"]


def test_restore_of_postgres_runs_pg_restore_in_one_transaction_then_counts_every_table(p, capsys):
    p.env(*PG_ENV)
    (p.root / "good.pgdump").write_bytes(b"PGDMP" + b"\0" * 50)
    commands = p.run(tasks.restore, DB_RUNNING, WEB_RUNNING, COUNTS, file="good.pgdump", yes=True)
    assert commands[0] == p.compose("exec", "-T", "db", *PG_RESTORE)
    assert [argv[-2:] for argv, _ in calls(p.c) if "pg_restore" in argv] == [["<", "good.pgdump"]]
    assert capsys.readouterr().out.splitlines() == ["table            rows", "auth_user        2", "guestbook_entry  12"]


def test_restore_of_sqlite_streams_the_file_into_the_web_container(p, tmp_path):
    (p.root / "good.sqlite3").write_bytes(sqlite_file(tmp_path / "live.sqlite3"))
    commands = p.run(tasks.restore, WEB_RUNNING, COUNTS, file="good.sqlite3", yes=True)
    tool = ["python", "/usr/local/lib/django-docker/dbtool.py"]
    assert commands == [p.compose("exec", "-T", "web", *tool, "sqlite-restore"), p.compose("exec", "-T", "web", *tool, "counts")]


def test_restore_finds_a_file_as_db_list_prints_it_from_a_subdirectory(p, tmp_path, monkeypatch):
    (p.root / "backups").mkdir()
    (p.root / "backups" / "good.sqlite3").write_bytes(sqlite_file(tmp_path / "live.sqlite3"))
    monkeypatch.chdir(p.root / "site")
    p.run(tasks.restore, WEB_RUNNING, COUNTS, file="backups/good.sqlite3", yes=True)
    restores = [argv for argv, _ in calls(p.c) if "sqlite-restore" in argv]
    assert restores[0][-2:] == ["<", str(p.root / "backups" / "good.sqlite3")]


def test_the_backup_folder_is_readable_by_its_owner_only(p, tmp_path):
    p.writes = sqlite_file(tmp_path / "live.sqlite3")
    p.run(tasks.backup, WEB_RUNNING)
    assert (p.root / "backups").stat().st_mode & 0o777 == 0o700


def test_restore_without_a_terminal_and_without_yes_refuses_and_runs_nothing(p, tmp_path):
    (p.root / "good.sqlite3").write_bytes(sqlite_file(tmp_path / "live.sqlite3"))
    error = p.fails(tasks.restore, WEB_RUNNING, file="good.sqlite3")
    assert "--yes" in error.message
    assert commands(p.c) == []


@pytest.mark.parametrize("answer, restored", [("y", True), ("", False), ("no", False)])
def test_restore_at_a_terminal_asks_first(p, tmp_path, host, monkeypatch, answer, restored):
    host.set_tty(True)
    monkeypatch.setattr("builtins.input", lambda prompt="": answer)
    (p.root / "good.sqlite3").write_bytes(sqlite_file(tmp_path / "live.sqlite3"))
    if restored:
        p.run(tasks.restore, WEB_RUNNING, COUNTS, file="good.sqlite3")
    else:
        assert "nothing restored" in p.fails(tasks.restore, WEB_RUNNING, file="good.sqlite3").message
    assert ran(p.c, "sqlite-restore") == restored


def test_a_failed_restore_says_the_database_was_kept(p):
    p.env(*PG_ENV)
    (p.root / "cut.pgdump").write_bytes(b"PGDMP" + b"\0" * 50)
    error = p.fails(tasks.restore, DB_RUNNING, (r".* pg_restore ", Result(exited=1)), file="cut.pgdump", yes=True)
    assert "one transaction" in error.message and "as it was" in error.message
    assert not ran(p.c, "counts")


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


@pytest.mark.parametrize("name", ["my backup #1.sqlite3", "what?.sqlite3", "100%20.sqlite3"])
def test_a_sqlite_file_is_checked_read_only_whatever_its_name(tmp_path, name):
    folder = tmp_path / "backups"
    folder.mkdir()
    good = sqlite_file(tmp_path / "live.sqlite3")
    path = folder / name
    path.write_bytes(good)
    backups.check_backup_file(path, "sqlite")
    assert path.read_bytes() == good
    path.write_bytes(good[: len(good) // 2])
    with pytest.raises(StackError) as caught:
        backups.check_backup_file(path, "sqlite")
    assert f"{path} is truncated or damaged (SQLite: " in caught.value.message
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
    backups.check_backup_file(folder / "wal.sqlite3", "sqlite")
    assert [entry.name for entry in folder.iterdir()] == ["wal.sqlite3"]


def test_a_sqlite_backup_on_a_postgres_stack_is_refused(p, tmp_path):
    p.env(*PG_ENV)
    (p.root / "x.sqlite3").write_bytes(sqlite_file(tmp_path / "live.sqlite3"))
    error = p.fails(tasks.restore, DB_RUNNING, file="x.sqlite3", yes=True)
    assert "is a SQLite backup, but this stack runs PostgreSQL" in error.message
    assert commands(p.c) == []


def test_restore_of_a_missing_file_or_none_says_what_to_do(p):
    assert "`inv db.list`" in p.fails(tasks.restore, file="backups/nope.pgdump", yes=True).message
    assert "say which backup" in p.fails(tasks.restore, file="", yes=True).message


# ---- db.list, db.counts ----


def test_list_shows_each_backup_with_its_engine_and_size(p, tmp_path, capsys):
    folder = p.root / "backups"
    folder.mkdir()
    (folder / "a.pgdump").write_bytes(b"PGDMP" + b"\0" * 1995)
    (folder / "b.sqlite3").write_bytes(sqlite_file(tmp_path / "live.sqlite3"))
    (folder / ".c.sqlite3.part").write_bytes(b"half")
    os.utime(folder / "a.pgdump", (1_700_000_000, 1_700_000_000))
    p.run(tasks.list_)
    lines = capsys.readouterr().out.splitlines()
    assert lines[0] == "backups/a.pgdump  PostgreSQL  2.0 kB  2023-11-14 22:13:20 UTC"
    assert lines[1].startswith("backups/b.sqlite3  SQLite  ") and len(lines) == 2


def test_list_without_backups_says_how_to_make_one(p, capsys):
    p.run(tasks.list_)
    assert "inv db.backup" in capsys.readouterr().err


def test_counts_prints_a_table(p, capsys):
    assert p.run(tasks.counts, WEB_RUNNING, COUNTS) == [
        p.compose("exec", "-T", "web", "python", "/usr/local/lib/django-docker/dbtool.py", "counts")
    ]
    assert "guestbook_entry  12" in capsys.readouterr().out


# ---- down --volumes ----


def test_down_volumes_yes_says_where_the_last_backup_is(p, capsys):
    folder = p.root / "backups"
    folder.mkdir()
    for age, name in enumerate(["new.sqlite3", "old.sqlite3"]):
        (folder / name).write_bytes(b"SQLite format 3\0")
        os.utime(folder / name, (1_700_000_000 - age, 1_700_000_000 - age))
    (folder / "newest.pgdump").write_bytes(b"PGDMP")
    p.run(tasks.down, VOLUMES, volumes=True, yes=True)
    assert "the last backup is backups/new.sqlite3" in capsys.readouterr().err
    assert ran(p.c, "down", "--remove-orphans", "--volumes")


def test_down_volumes_yes_without_a_backup_says_so(p, capsys):
    p.run(tasks.down, VOLUMES, volumes=True, yes=True)
    assert "there is no SQLite backup in backups/" in capsys.readouterr().err


def test_down_volumes_at_a_terminal_offers_a_backup_first(p, tmp_path, host, monkeypatch):
    host.set_tty(True)
    answers = iter(["y", "proj"])
    monkeypatch.setattr("builtins.input", lambda prompt="": next(answers))
    p.writes = sqlite_file(tmp_path / "live.sqlite3")
    commands = p.run(tasks.down, VOLUMES, WEB_RUNNING, volumes=True)
    assert "sqlite-backup" in commands[0] and commands[-1][-1] == "--volumes"
    assert len(p.backups()) == 1


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
