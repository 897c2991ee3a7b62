"""Stack: how commands are echoed and run, the quiet look-ups, waiting for health, and the safety checks."""

from __future__ import annotations

import dataclasses
import io
import os
import shlex
import sys

import pytest
from invoke import Result

from stack import runner
from stack.errors import StackError
from stack.runner import describe, open_stack, run_on_host, stdin_is_terminal
from stack.settings import load_settings

from .conftest import (
    stack,
    CONTAINER_ID,
    CONTAINER_STATE,
    IMAGE_INSPECT,
    RUNNING_WEB,
    WEB_RUNNING,
    calls,
    mock_context,
    shown,
    write,
)



# ---- describe ----


@pytest.mark.parametrize(
    ("argv", "line"),
    [
        (["env", "DJANGO_SUPERUSER_PASSWORD=hunter2"], "env 'DJANGO_SUPERUSER_PASSWORD=***'"),
        (["env", "SECRET_KEY=abc"], "env 'SECRET_KEY=***'"),
        (["env", "GITHUB_TOKEN=ghp_x"], "env 'GITHUB_TOKEN=***'"),
        (["tool", "--password=pw"], "tool '--password=***'"),
        (["env", "LOG_LEVEL=DEBUG"], "env LOG_LEVEL=DEBUG"),
        (["docker", "build", "--build-arg", "BASE_IMAGE=python:3.13"], "docker build --build-arg BASE_IMAGE=python:3.13"),
        (["exec", "-e", "DJANGO_SUPERUSER_PASSWORD", "web"], "exec -e DJANGO_SUPERUSER_PASSWORD web"),
        (["manage.py", "check;", "$(id)"], "manage.py 'check;' '$(id)'"),
    ],
)
def test_describe_masks_secret_values_and_quotes_like_a_shell(argv, line):
    assert describe(argv) == line


# ---- Stack.run ----


def test_run_echoes_the_command_to_stderr_and_runs_it_quoted_once(settings, engine, capsys):
    s = stack(settings, engine)
    s.run(["docker", "exec", "web", "python", "-c", "print('a b')"])
    (argv, kwargs), = calls(s.c)
    assert s.c.run.call_args.args[0] == "docker exec web python -c 'print('\"'\"'a b'\"'\"')'"
    assert argv == ["docker", "exec", "web", "python", "-c", "print('a b')"]
    assert kwargs["hide"] is False and kwargs["warn"] is False and kwargs["pty"] is False
    assert "in_stream" not in kwargs
    captured = capsys.readouterr()
    assert captured.err == "+ docker exec web python -c 'print('\"'\"'a b'\"'\"')'\n"
    assert captured.out == ""


def test_run_hands_the_settings_environment_and_extra_values_to_the_command(project_root, engine):
    write(project_root, "SECRET_KEY='a$b#c d'\nQUOTED=\"he said \\\"hi\\\"\"\n")
    settings = load_settings(project_root, {})
    s = stack(settings, engine)
    s.run(["true"], env={"DOCKER_BUILDKIT": "1"})
    env = s.c.run.call_args.kwargs["env"]
    assert env["SECRET_KEY"] == "a$b#c d"
    assert env["QUOTED"] == 'he said "hi"'
    assert env["DOCKER_BUILDKIT"] == "1"
    assert env["COMPOSE_PROJECT_NAME"] == "proj"
    # The settings object itself is not changed by a per-command extra.
    assert "DOCKER_BUILDKIT" not in settings.environment


def test_run_masks_secrets_in_the_echo(settings, engine, capsys):
    stack(settings, engine).run(["env", "DJANGO_SUPERUSER_PASSWORD=hunter2", "true"])
    err = capsys.readouterr().err
    assert "hunter2" not in err and "'DJANGO_SUPERUSER_PASSWORD=***'" in err


def test_echo_commands_false_silences_the_echo(settings, engine, capsys):
    s = stack(dataclasses.replace(settings, echo_commands=False), engine)
    s.run(["docker", "ps"])
    assert capsys.readouterr().err == ""
    assert s.c.run.called


def test_dry_run_leaves_the_echo_to_invoke(settings, engine, capsys):
    s = stack(settings, engine, dry=True)
    s.run(["docker", "ps"])
    assert capsys.readouterr().err == ""
    assert s.c.run.call_args.args[0] == "docker ps"


def test_quiet_look_ups_are_not_echoed_and_do_not_read_stdin(settings, engine, capsys):
    s = stack(settings, engine, (IMAGE_INSPECT, Result("sha256:1\n")))
    assert s.image_exists() is True
    (argv, kwargs), = calls(s.c)
    assert argv == ["docker", "image", "inspect", "--format", "{{.Id}}", "proj-web:latest"]
    assert kwargs["hide"] is True and kwargs["warn"] is True
    # Piped input must still reach the command that follows the look-up.
    assert kwargs["in_stream"] is False
    assert capsys.readouterr().err == ""


@pytest.mark.parametrize(
    ("result", "exists"),
    [(Result("sha256:1\n"), True), (Result(""), False), (Result("\n"), False), (Result("sha256:1", exited=1), False)],
)
def test_image_exists_only_when_inspect_prints_an_id(settings, engine, result, exists):
    assert stack(settings, engine, (IMAGE_INSPECT, result)).image_exists() is exists


def test_running_web_container_is_looked_up_by_compose_ps(settings, engine):
    assert stack(settings, engine, WEB_RUNNING).container_id(running=True) == "c0ffee"
    assert stack(settings, engine, (RUNNING_WEB, Result("", exited=1))).container_id(running=True) == ""


@pytest.mark.parametrize(
    ("output", "state"),
    [
        ("running 0 healthy\n", ("running", "healthy", 0)),
        ("running 2 starting\n", ("running", "starting", 2)),
        ("running 0 \n", ("running", "", 0)),
        ("exited 1 unhealthy\n", ("exited", "unhealthy", 1)),
        ("", ("missing", "", 0)),
    ],
)
def test_container_state_parses_status_restarts_and_health(settings, engine, output, state):
    assert stack(settings, engine, (CONTAINER_STATE, Result(output))).container_state("c0ffee") == state


def test_container_state_of_a_vanished_container_is_missing(settings, engine):
    s = stack(settings, engine, (CONTAINER_STATE, Result("", stderr="No such object", exited=1)))
    assert s.container_state("c0ffee") == ("missing", "", 0)


# ---- build ----


def test_build_is_compose_build_with_buildkit_and_the_settings_environment(settings, engine, compose_prefix):
    s = stack(settings, engine)
    s.build(no_cache=True)
    (argv, kwargs), = calls(s.c)
    assert argv == [*compose_prefix, "build", "--no-cache", "web"]
    assert kwargs["env"]["DOCKER_BUILDKIT"] == "1" and kwargs["env"]["IMAGE"] == "proj-web:latest"
    assert kwargs["warn"] is True


def test_failed_build_is_one_line_with_the_exit_status(settings, engine):
    s = stack(settings, engine, (r"docker compose .* build ", Result(exited=17)))
    with pytest.raises(StackError) as caught:
        s.build()
    assert caught.value.code == 17
    assert "proj-web:latest" in caught.value.message and "17" in caught.value.message


def test_container_id_finds_the_web_container_in_any_state(settings, engine):
    s = stack(settings, engine, (CONTAINER_ID, Result("\nc0ffee\n\nbadbad\n")))
    assert s.container_id() == "c0ffee"
    (argv, kwargs), = calls(s.c)
    assert argv[:5] == ["docker", "compose", "--env-file", os.devnull, "ps"] and argv[-1] == "web"
    assert kwargs["hide"] is True


def test_container_id_is_empty_when_there_is_none(settings, engine):
    assert stack(settings, engine).container_id() == ""
    assert stack(settings, engine, (CONTAINER_ID, Result("c0ffee", exited=1))).container_id() == ""


# ---- in_web / exec ----


def test_in_web_uses_exec_when_web_is_running(settings, engine, compose_prefix):
    s = stack(settings, engine, WEB_RUNNING)
    s.in_web(["python", "manage.py", "check"])
    assert shown(s.c) == [[*compose_prefix, "exec", "-T", "web", "python", "manage.py", "check"]]


def test_in_web_uses_a_throwaway_container_when_web_is_down(settings, engine, compose_prefix):
    s = stack(settings, engine, (RUNNING_WEB, Result("")))
    s.in_web(["python", "manage.py", "check"])
    assert shown(s.c) == [[*compose_prefix, "run", "--rm", "--no-deps", "-T", "web", "python", "manage.py", "check"]]


def test_in_web_at_a_terminal_attaches_a_pty(settings, engine, compose_prefix, host):
    host.set_tty(True)
    s = stack(settings, engine, WEB_RUNNING)
    s.in_web(["bash"])
    (argv, kwargs), = [(a, k) for a, k in calls(s.c) if not k.get("hide")]
    assert argv == [*compose_prefix, "exec", "web", "bash"]
    assert kwargs["pty"] is True


def test_in_web_non_interactive_never_gets_a_terminal(settings, engine, compose_prefix, host):
    host.set_tty(True)
    s = stack(settings, engine, WEB_RUNNING)
    s.in_web(["python", "manage.py", "test"], interactive=False)
    (argv, kwargs), = [(a, k) for a, k in calls(s.c) if not k.get("hide")]
    assert argv == [*compose_prefix, "exec", "-T", "web", "python", "manage.py", "test"]
    assert kwargs["pty"] is False


def test_in_web_asking_for_a_terminal_without_one_gets_none(settings, engine, compose_prefix):
    s = stack(settings, engine, WEB_RUNNING)
    s.in_web(["bash"], interactive=True)
    (argv, kwargs), = [(a, k) for a, k in calls(s.c) if not k.get("hide")]
    assert argv == [*compose_prefix, "exec", "-T", "web", "bash"]
    assert kwargs["pty"] is False


def test_in_web_as_host_user_mounts_the_project_and_runs_as_you(settings, engine, compose_prefix):
    s = stack(settings, engine, WEB_RUNNING)
    s.in_web(["python", "manage.py", "makemigrations"], as_host_user=True)
    user = f"{os.getuid()}:{os.getgid()}"
    assert [argv for argv, _ in calls(s.c)] == [[
        *compose_prefix, "run", "--rm", "--no-deps", "-T",
        "--user", user, "--volume", f"{settings.project_dir}:/app",
        "web", "python", "manage.py", "makemigrations",
    ]]


def test_in_web_as_host_user_keeps_you_off_the_volumes_sqlite_file(settings, engine):
    # The file belongs to the image's user; opening it as you would only produce warnings.
    s = stack(settings, engine, WEB_RUNNING)
    s.in_web(["python", "manage.py", "makemigrations"], as_host_user=True)
    (_, kwargs), = calls(s.c)
    assert kwargs["env"]["DATABASE_URL"] == "sqlite:///:memory:"
    assert settings.environment["DATABASE_URL"] == "sqlite:////data/db.sqlite3"


def test_in_web_as_host_user_leaves_a_database_server_alone(settings, engine):
    server = "postgres://app:secret@db:5432/app"
    settings = dataclasses.replace(settings, environment={**settings.environment, "DATABASE_URL": server})
    s = stack(settings, engine, WEB_RUNNING)
    s.in_web(["python", "manage.py", "makemigrations"], as_host_user=True)
    (_, kwargs), = calls(s.c)
    assert kwargs["env"]["DATABASE_URL"] == server


def test_in_web_hands_variables_over_by_name(settings, engine, compose_prefix):
    s = stack(settings, engine, WEB_RUNNING)
    s.in_web(["env"], env=["DJANGO_SUPERUSER_PASSWORD"])
    assert shown(s.c) == [[*compose_prefix, "exec", "-T", "-e", "DJANGO_SUPERUSER_PASSWORD", "web", "env"]]


# ---- run_on_host, stdin_is_terminal, open_stack ----


def test_run_on_host_echoes_and_runs_without_a_pty(capsys):
    c = mock_context()
    run_on_host(c, [sys.executable, "-m", "pytest", "-k", "a and b"])
    assert c.run.call_args.args[0] == shlex.join([sys.executable, "-m", "pytest", "-k", "a and b"])
    assert c.run.call_args.kwargs == {"pty": False}
    assert capsys.readouterr().err == f"+ {shlex.join([sys.executable, '-m', 'pytest', '-k', 'a and b'])}\n"


def test_run_on_host_in_a_dry_run_leaves_the_echo_to_invoke(capsys):
    run_on_host(mock_context(dry=True), ["pytest"])
    assert capsys.readouterr().err == ""


class _Closed(io.StringIO):
    def isatty(self):
        raise ValueError("I/O operation on closed file")


@pytest.mark.parametrize(("stdin", "expected"), [(None, False), (_Closed(), False), (io.StringIO(), False)])
def test_stdin_is_terminal_is_false_for_pipes_and_closed_or_missing_stdin(monkeypatch, stdin, expected):
    monkeypatch.setattr(sys, "stdin", stdin)
    assert stdin_is_terminal() is expected


def test_open_stack_creates_env_loads_settings_and_checks_the_engine(project_root, engine, monkeypatch, capsys):
    seen = []
    monkeypatch.setattr(runner, "load_settings", lambda root: load_settings(root, {}))
    monkeypatch.setattr(runner, "find_engine", lambda settings: seen.append(("find", settings.project_name)) or engine)
    monkeypatch.setattr(runner, "check_daemon", lambda found: seen.append(("check", found)))
    s = open_stack(mock_context(), project_root)
    assert (project_root / ".env").is_file()
    assert s.settings.environment["SECRET_KEY"]
    assert seen == [("find", "proj"), ("check", engine)]
    assert s.engine == engine
    assert "created .env" in capsys.readouterr().err


def test_open_stack_in_a_dry_run_writes_nothing_and_skips_the_daemon(project_root, engine, monkeypatch):
    monkeypatch.setattr(runner, "load_settings", lambda root: load_settings(root, {}))
    monkeypatch.setattr(runner, "find_engine", lambda settings: engine)
    monkeypatch.setattr(runner, "check_daemon", lambda found: pytest.fail("checked the daemon in a dry run"))
    open_stack(mock_context(dry=True), project_root)
    assert not (project_root / ".env").exists()


def test_open_stack_stops_at_a_daemon_that_does_not_answer(project_root, engine, monkeypatch):
    def down(found):
        raise StackError("the Docker daemon does not answer")

    monkeypatch.setattr(runner, "load_settings", lambda root: load_settings(root, {}))
    monkeypatch.setattr(runner, "find_engine", lambda settings: engine)
    monkeypatch.setattr(runner, "check_daemon", down)
    c = mock_context()
    with pytest.raises(StackError):
        open_stack(c, project_root)
    assert not c.run.called
