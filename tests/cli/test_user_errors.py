"""The real `inv` command on bad input: one clear line, a non-zero exit, no traceback, nothing lost.

Each test runs `inv` in a fresh copy of the repository; none needs a Docker engine.
"""

import os
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from devtools.scratch import copy_checkout

REPO = Path(__file__).resolve().parents[2]
TASKS = ["build", "up", "down", "restart", "ps", "status", "doctor", "logs", "open", "manage", "migrate", "makemigrations",
         "shell", "dbshell", "createsuperuser", "exec", "test", "bench", "db.backup", "db.restore", "db.list", "db.counts"]


@pytest.fixture
def clone(tmp_path):
    path = tmp_path / "project"
    copy_checkout(REPO, path)
    return path


def inv(clone: Path, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    environ = {k: v for k, v in os.environ.items() if k not in ("DOCKER", "DOCKER_HOST", "WEB_PORT", "DEBUG")}
    environ.update(env)
    return subprocess.run([sys.executable, "-m", "invoke", *args], cwd=clone, env=environ,
                          capture_output=True, text=True, stdin=subprocess.DEVNULL, timeout=120)


def assert_one_line_error(result, *fragments: str) -> str:
    assert result.returncode != 0
    assert "Traceback" not in result.stderr + result.stdout
    lines = result.stderr.strip().splitlines()
    assert lines, "an error must say something"
    last = lines[-1]
    assert last.startswith("error: ")
    for fragment in fragments:
        assert fragment in last
    return last


def test_inv_list_shows_every_command_with_help_and_needs_no_docker(clone):
    result = inv(clone, "--list", DOCKER="/nonexistent/docker")
    assert result.returncode == 0
    for name in TASKS:
        line = next((line for line in result.stdout.splitlines() if line.strip().startswith(name + " ")), "")
        assert line.split(maxsplit=1)[1:], f"{name} has no help line in inv --list"
    assert not (clone / ".env").exists(), "listing commands must not write files"


def test_a_missing_docker_command_is_named(clone):
    assert_one_line_error(inv(clone, "ps", DOCKER="/nonexistent/docker"), "/nonexistent/docker", "DOCKER")


def test_a_daemon_that_does_not_answer_says_how_to_start_it(clone):
    if shutil.which("docker") is None:
        pytest.skip("needs a docker client (not an engine) on PATH")
    last = assert_one_line_error(inv(clone, "ps", DOCKER_HOST="unix:///nonexistent/docker.sock"), "daemon does not answer")
    assert "start" in last


def test_a_malformed_env_line_names_file_and_line_and_keeps_the_file(clone):
    text = "SECRET_KEY=abc\nWEB_PORT=8000\nTHIS IS NOT AN ASSIGNMENT\n"
    (clone / ".env").write_text(text)
    assert_one_line_error(inv(clone, "up"), ".env line 3")
    assert (clone / ".env").read_text() == text


@pytest.mark.parametrize("name, value, fragment", [
    ("WEB_PORT", "eighty", "WEB_PORT"),
    ("WEB_PORT", "70000", "WEB_PORT"),
    ("ENVIRONMENT", "staging", "ENVIRONMENT must be development or production"),
    ("ECHO_COMMANDS", "perhaps", "ECHO_COMMANDS"),
    ("COMPOSE_PROJECT_NAME", "Not Valid!", "COMPOSE_PROJECT_NAME"),
    ("DJANGO_PROJECT_DIR", "../elsewhere", "DJANGO_PROJECT_DIR"),
    ("DATABASE", "mysql", "DATABASE"),
    ("WAIT_TIMEOUT", "soon", "WAIT_TIMEOUT"),
])
def test_a_bad_value_in_env_names_the_variable_and_line(clone, name, value, fragment):
    (clone / ".env").write_text(f"SECRET_KEY=abc\n{name}={value}\n")
    assert_one_line_error(inv(clone, "ps"), ".env line 2", fragment)


def test_a_bad_value_from_the_environment_says_so(clone):
    assert_one_line_error(inv(clone, "ps", WEB_PORT="x"), "WEB_PORT", "environment")


def test_unbalanced_quotes_in_manage_arguments_are_refused_before_anything_runs(clone):
    assert_one_line_error(inv(clone, "manage", "check 'oops", DOCKER="/nonexistent/docker"), "quotes")


def test_dry_run_prints_the_commands_and_writes_nothing(clone):
    if shutil.which("docker") is None:
        pytest.skip("needs a docker client (not an engine) on PATH")
    result = inv(clone, "--dry", "up", DOCKER_HOST="unix:///nonexistent/docker.sock")
    assert result.returncode == 0, result.stderr
    assert " build " in result.stdout and " up --detach" in result.stdout
    assert not (clone / ".env").exists()


def test_words_after_double_dash_reach_the_container_exactly_as_typed(clone):
    code = "print('a b'); print(\"$HOME\")"
    result = inv(clone, "--dry", "exec", "--", "python", "-c", code, "two  spaces")
    assert result.returncode == 0, result.stderr
    echoed = shlex.split(result.stdout.strip().splitlines()[-1].replace("\x1b[1;37m", "").replace("\x1b[0m", ""))
    assert echoed[-4:] == ["python", "-c", code, "two  spaces"]


@pytest.mark.parametrize("name, content, fragment", [
    ("backups/gone.pgdump", None, "no backup file"),
    ("empty.sqlite3", b"", "is empty"),
    ("notes.txt", b"not a backup\n", "neither a PostgreSQL nor a SQLite backup"),
    ("other.pgdump", b"PGDMP\x01\x0e", "is a PostgreSQL backup, but this stack runs SQLite"),
    ("cut.sqlite3", b"SQLite format 3\x00", "is truncated"),
])
def test_a_bad_backup_file_is_refused_before_anything_runs(clone, name, content, fragment):
    if shutil.which("docker") is None:
        pytest.skip("needs a docker client (not an engine) on PATH")
    if content is not None:
        (clone / name).write_bytes(content)
    # A dry run needs no engine and would print every docker command it got to: none may come.
    result = inv(clone, "--dry", "db.restore", name, "--yes", DOCKER_HOST="unix:///nonexistent/docker.sock")
    assert_one_line_error(result, name, fragment)
    assert "docker" not in result.stdout


def test_restore_without_a_file_says_how_to_find_one(clone):
    assert_one_line_error(inv(clone, "db.restore", DOCKER="/nonexistent/docker"), "db.restore", "db.list")


def test_db_list_needs_no_docker_and_names_each_backups_engine(clone):
    (clone / "backups").mkdir()
    (clone / "backups" / "a.pgdump").write_bytes(b"PGDMP" + bytes(100))
    result = inv(clone, "db.list", DOCKER="/nonexistent/docker")
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("backups/a.pgdump  PostgreSQL  105 bytes  ")


@pytest.mark.parametrize("args, fragments", [
    (["--servers", "nginx"], ("'nginx'", "granian")),
    (["--repeat", "0"], ("--repeat must be at least 1",)),
    (["--duration", "5"], ("/nonexistent/wrk", "apt-get install wrk")),
])
def test_bench_options_are_checked_before_anything_runs(clone, args, fragments):
    wrk = "/nonexistent/wrk" if args[0] == "--duration" else "wrk"
    assert_one_line_error(inv(clone, "bench", *args, DOCKER="/nonexistent/docker", WRK=wrk), *fragments)
    assert not (clone / ".env").exists()


@pytest.mark.parametrize(("argv", "hint"), [
    (["mirgate"], "No idea what 'mirgate' is! Did you mean `inv migrate`? (`inv --list` shows every command)"),
    (["manage", "showmigrations", "blog"],
     "No idea what 'blog' is! `inv manage` takes a command's words in one quoted string or after --: "
     '`inv manage "showmigrations blog"` or `inv manage -- showmigrations blog`'),
])
def test_a_word_invoke_does_not_know_gets_a_hint_and_nothing_runs(clone, argv, hint):
    result = inv(clone, *argv, DOCKER="/nonexistent/docker")
    assert result.returncode == 1 and "Traceback" not in result.stderr
    assert result.stderr.strip().splitlines() == [hint]


def test_open_hands_the_url_to_the_browser_set_in_browser(clone):
    result = inv(clone, "open", "--admin", BROWSER="echo", WEB_PORT="8123", DOCKER="/nonexistent/docker")
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "http://127.0.0.1:8123/admin/"
