"""Stack: how commands are echoed and run, the quiet look-ups, waiting for health, and the safety checks."""

from __future__ import annotations

import dataclasses
import io
import os
import shlex
import sys

import pytest
from invoke import Result, UnexpectedExit

from stack import runner
from stack.errors import StackError
from stack.runner import describe, open_stack, run_on_host, stdin_is_terminal
from stack.settings import load_settings

from .conftest import (
    BUILD_WEB,
    CONTAINER_ID,
    CONTAINER_STATE,
    IMAGE_INSPECT,
    RUNNING_WEB,
    WEB_RUNNING,
    calls,
    mock_context,
    ran,
    shown,
    stack,
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
    assert s.image_id("proj-web:latest") == "sha256:1"
    (argv, kwargs), = calls(s.c)
    assert argv == ["docker", "image", "inspect", "--format", "{{.Id}}", "proj-web:latest"]
    assert kwargs["hide"] is True and kwargs["warn"] is True
    # Piped input must still reach the command that follows the look-up.
    assert kwargs["in_stream"] is False
    assert capsys.readouterr().err == ""


@pytest.mark.parametrize(
    ("result", "image_id"),
    [(Result("sha256:1\n"), "sha256:1"), (Result(""), ""), (Result("\n"), ""), (Result("sha256:1", exited=1), "")],
)
def test_an_image_id_only_when_inspect_prints_one(settings, engine, result, image_id):
    assert stack(settings, engine, (IMAGE_INSPECT, result)).image_id("proj-web:latest") == image_id


def test_running_web_container_is_looked_up_by_compose_ps(settings, engine):
    assert stack(settings, engine, WEB_RUNNING).container_id(running=True) == "c0ffee"
    assert stack(settings, engine, (RUNNING_WEB, Result("", exited=1))).container_id(running=True) == ""


@pytest.mark.parametrize(
    ("output", "state"),
    [
        ("running 0 2026-11-30T09:00:00.5Z healthy\n", ("running", "healthy", 0, "2026-11-30T09:00:00.5Z")),
        ("running 2 T2 starting\n", ("running", "starting", 2, "T2")),
        ("running 0 T0 \n", ("running", "", 0, "T0")),
        ("exited 1 T1 unhealthy\n", ("exited", "unhealthy", 1, "T1")),
        ("", ("missing", "", 0, "")),
    ],
)
def test_container_state_parses_status_restarts_and_health(settings, engine, output, state):
    assert stack(settings, engine, (CONTAINER_STATE, Result(output))).container_state("c0ffee") == state


def test_container_state_of_a_vanished_container_is_missing(settings, engine):
    s = stack(settings, engine, (CONTAINER_STATE, Result("", stderr="No such object", exited=1)))
    assert s.container_state("c0ffee") == ("missing", "", 0, "")


# ---- build ----


def test_build_is_compose_build_with_buildkit_and_the_settings_environment(settings, engine, compose_prefix):
    s = stack(settings, engine)
    s.build(no_cache=True)
    (argv, kwargs), = calls(s.c)
    assert argv == [*compose_prefix, "build", "--no-cache", "web"]
    assert kwargs["env"]["DOCKER_BUILDKIT"] == "1" and kwargs["env"]["IMAGE"] == "proj-web:latest"
    assert kwargs["warn"] is True
    # The build's progress goes to stderr: stdout is for what a command prints to be read.
    assert kwargs["out_stream"] is sys.stderr
    # And it leaves piped input to the command it is built for (`echo "select 1;" | inv dbshell`).
    assert kwargs["in_stream"] is False


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
    assert shown(s.c) == [BUILD_WEB, [*compose_prefix, "exec", "-T", "web", "python", "manage.py", "check"]]


def test_in_web_uses_a_throwaway_container_when_web_is_down(settings, engine, compose_prefix):
    s = stack(settings, engine, (RUNNING_WEB, Result("")))
    s.in_web(["python", "manage.py", "check"])
    assert shown(s.c) == [BUILD_WEB, [*compose_prefix, "run", "--rm", "--no-deps", "-T", "web", "python", "manage.py", "check"]]


def test_in_web_at_a_terminal_attaches_a_pty(settings, engine, compose_prefix, host):
    host.set_tty(True)
    s = stack(settings, engine, WEB_RUNNING)
    s.in_web(["bash"])
    (argv, kwargs), = [(a, k) for a, k in calls(s.c) if not k.get("hide") and a != BUILD_WEB]
    assert argv == [*compose_prefix, "exec", "web", "bash"]
    assert kwargs["pty"] is True


def test_in_web_non_interactive_never_gets_a_terminal(settings, engine, compose_prefix, host):
    host.set_tty(True)
    s = stack(settings, engine, WEB_RUNNING)
    s.in_web(["python", "manage.py", "test"], interactive=False)
    (argv, kwargs), = [(a, k) for a, k in calls(s.c) if not k.get("hide") and a != BUILD_WEB]
    assert argv == [*compose_prefix, "exec", "-T", "web", "python", "manage.py", "test"]
    assert kwargs["pty"] is False


def test_in_web_asking_for_a_terminal_without_one_gets_none(settings, engine, compose_prefix):
    s = stack(settings, engine, WEB_RUNNING)
    s.in_web(["bash"], interactive=True)
    (argv, kwargs), = [(a, k) for a, k in calls(s.c) if not k.get("hide") and a != BUILD_WEB]
    assert argv == [*compose_prefix, "exec", "-T", "web", "bash"]
    assert kwargs["pty"] is False


def test_in_web_as_host_user_mounts_the_project_and_runs_as_you(settings, engine, compose_prefix):
    s = stack(settings, engine, WEB_RUNNING)
    s.in_web(["python", "manage.py", "makemigrations"], as_host_user=True)
    user = f"{os.getuid()}:{os.getgid()}"
    assert shown(s.c) == [BUILD_WEB, [
        *compose_prefix, "run", "--rm", "--no-deps", "-T",
        "--user", user, "--volume", f"{settings.project_dir}:/app",
        "web", "python", "manage.py", "makemigrations",
    ]]


def test_in_web_as_host_user_keeps_you_off_the_volumes_sqlite_file(settings, engine):
    # The file belongs to the image's user; opening it as you would only produce warnings.
    s = stack(settings, engine, WEB_RUNNING)
    s.in_web(["python", "manage.py", "makemigrations"], as_host_user=True)
    (_, kwargs), = [(a, k) for a, k in calls(s.c) if "run" in a]
    assert kwargs["env"]["DATABASE_URL"] == "sqlite:///:memory:"
    assert settings.environment["DATABASE_URL"] == "sqlite:////data/db.sqlite3"


def test_in_web_as_host_user_leaves_a_database_server_alone(settings, engine):
    server = "postgres://app:secret@db:5432/app"
    settings = dataclasses.replace(settings, environment={**settings.environment, "DATABASE_URL": server})
    s = stack(settings, engine, WEB_RUNNING)
    s.in_web(["python", "manage.py", "makemigrations"], as_host_user=True)
    (_, kwargs), = [(a, k) for a, k in calls(s.c) if "run" in a]
    assert kwargs["env"]["DATABASE_URL"] == server


def test_in_web_hands_variables_over_by_name(settings, engine, compose_prefix):
    s = stack(settings, engine, WEB_RUNNING)
    s.in_web(["env"], env=["DJANGO_SUPERUSER_PASSWORD"])
    assert shown(s.c)[1:] == [[*compose_prefix, "exec", "-T", "-e", "DJANGO_SUPERUSER_PASSWORD", "web", "env"]]


# ---- never an image older than its inputs ----

CONTAINER_IMAGE = r"docker inspect --format .*Image.* c0ffee$"


def test_a_container_from_an_older_image_is_refused_with_one_line_and_nothing_runs_in_it(settings, engine):
    s = stack(settings, engine, WEB_RUNNING, (IMAGE_INSPECT, Result("sha256:new\n")),
              (CONTAINER_IMAGE, Result("sha256:old\n")))
    with pytest.raises(StackError) as caught:
        s.in_web(["python", "manage.py", "migrate"])
    assert caught.value.message == (
        "error: the running web container was made from an older image than your code, requirements or .env ask "
        "for: `inv up` recreates it, then run this again"
    )
    assert not ran(s.c, "exec")


def test_a_container_from_the_current_image_is_used(settings, engine, compose_prefix):
    s = stack(settings, engine, WEB_RUNNING, (IMAGE_INSPECT, Result("sha256:new\n")),
              (CONTAINER_IMAGE, Result("sha256:new\n")))
    s.in_web(["python", "manage.py", "migrate"])
    assert shown(s.c) == [BUILD_WEB, [*compose_prefix, "exec", "-T", "web", "python", "manage.py", "migrate"]]


def test_the_image_is_built_once_per_command(settings, engine):
    s = stack(settings, engine, (IMAGE_INSPECT, Result("sha256:new\n")))
    assert s.current_image() == s.current_image() == "sha256:new"
    assert [argv for argv, _ in calls(s.c)].count(BUILD_WEB) == 1


# ---- what a throwaway run needs, and nothing left after it ----


def postgres(project_root):
    write(project_root, "DATABASE=postgres\nPOSTGRES_PASSWORD=pw\n")
    return load_settings(project_root, {})


# Every service's containers: the format template last, no service named.
ANY_CONTAINER = r"docker compose .*ps --all --format '[^']*'$"
DB_RUNNING = r"docker compose .*ps --status running --format .* db$"
POSTGRES_PRESENT = (r"docker image inspect --format \{\{\.Id\}\} postgres:17$", Result("sha256:pg\n"))


def test_with_the_stack_down_a_run_starts_the_database_and_removes_everything_after(project_root, engine, compose_prefix):
    s = stack(postgres(project_root), engine, POSTGRES_PRESENT)
    s.in_web(["python", "manage.py", "migrate"])
    commands = [argv[len(compose_prefix):] for argv, _ in calls(s.c) if argv[:2] == ["docker", "compose"]]
    started = commands.index(["up", "--detach", "--no-build", "--wait", "db"])
    ran_at = next(i for i, argv in enumerate(commands) if argv[:1] == ["run"])
    assert started < ran_at and commands[-1] == ["down", "--remove-orphans"]
    assert not any("--volumes" in argv for argv in commands)


def test_a_failing_command_still_leaves_nothing_behind(project_root, engine, compose_prefix):
    s = stack(postgres(project_root), engine, POSTGRES_PRESENT)
    answer = s.c.run._mock_wraps

    def run_failing(command, **options):
        if " run " in command:
            raise UnexpectedExit(Result(command=command, exited=3))
        return answer(command, **options)

    s.c.run.side_effect = run_failing
    with pytest.raises(UnexpectedExit):
        s.in_web(["python", "manage.py", "migrate"])
    assert [argv for argv, _ in calls(s.c)][-1] == [*compose_prefix, "down", "--remove-orphans"]


def test_with_stopped_containers_only_the_database_it_started_is_stopped_again(project_root, engine, compose_prefix):
    s = stack(postgres(project_root), engine, POSTGRES_PRESENT, (ANY_CONTAINER, Result("0ld\n")))
    s.in_web(["python", "manage.py", "migrate"])
    last = [argv for argv, _ in calls(s.c)][-1]
    assert last == [*compose_prefix, "stop", "db"]
    assert not ran(s.c, "down")


def test_a_running_database_is_used_and_left_alone(project_root, engine):
    s = stack(postgres(project_root), engine, POSTGRES_PRESENT, (DB_RUNNING, Result("d0d0\n")), (ANY_CONTAINER, Result("d0d0\n")))
    s.in_web(["python", "manage.py", "migrate"])
    assert not ran(s.c, "up") and not ran(s.c, "stop") and not ran(s.c, "down")


def test_a_database_that_does_not_become_healthy_is_one_line(project_root, engine):
    s = stack(postgres(project_root), engine, POSTGRES_PRESENT, (r"docker compose .* up ", Result(exited=1)))
    with pytest.raises(StackError) as caught:
        s.in_web(["python", "manage.py", "migrate"])
    assert caught.value.message == "error: the db service did not become healthy: see `inv logs db`"
    assert not ran(s.c, "run")
    assert ran(s.c, "down", "--remove-orphans")


def test_sqlite_needs_no_database_service_but_the_run_still_leaves_nothing(settings, engine, compose_prefix):
    s = stack(settings, engine)
    s.in_web(["python", "manage.py", "migrate"])
    assert not ran(s.c, "up")
    assert [argv for argv, _ in calls(s.c)][-1] == [*compose_prefix, "down", "--remove-orphans"]


# ---- the images a stack starts from ----


def test_images_that_are_here_are_not_pulled(project_root, engine):
    s = stack(postgres(project_root), engine, (IMAGE_INSPECT, Result("sha256:1\n")))
    s.require_images("web", "db")
    assert not ran(s.c, "pull")


def test_a_missing_image_is_pulled(settings, engine, capsys):
    s = stack(settings, engine, (IMAGE_INSPECT, Result("", exited=1)))
    s.require_images("web")
    assert ran(s.c, "docker", "pull", "--quiet", "python:3.13-slim")
    assert "pulling python:3.13-slim (BASE_IMAGE)" in capsys.readouterr().err


def test_an_image_that_cannot_be_pulled_is_one_line_naming_the_variable(project_root, engine):
    refused = Result("", stderr="Error response from daemon: pull access denied for nosuch/postgres\n", exited=1)
    write(project_root, "DATABASE=postgres\nPOSTGRES_PASSWORD=pw\nPOSTGRES_IMAGE=nosuch/postgres:99\n")
    s = stack(load_settings(project_root, {}), engine, (IMAGE_INSPECT, Result("", exited=1)), (r"docker pull ", refused))
    with pytest.raises(StackError) as caught:
        s.require_images("db")
    assert caught.value.message == (
        "error: POSTGRES_IMAGE=nosuch/postgres:99 is not on this machine and cannot be pulled (Error response from "
        "daemon: pull access denied for nosuch/postgres): fix POSTGRES_IMAGE in .env, or log in to its registry "
        "(`docker login`); nothing was created"
    )


def test_the_postgres_image_matters_only_with_postgres(settings, engine):
    s = stack(settings, engine, (IMAGE_INSPECT, Result("", exited=1)))
    s.require_images("db")
    assert not s.c.run.called


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
    monkeypatch.setattr(runner, "load_settings", lambda root, environ=None: load_settings(root, {}))
    monkeypatch.setattr(runner, "find_engine", lambda settings: seen.append(("find", settings.project_name)) or engine)
    monkeypatch.setattr(runner, "check_daemon", lambda found: seen.append(("check", found)))
    s = open_stack(mock_context(), project_root)
    assert (project_root / ".env").is_file()
    assert s.settings.environment["SECRET_KEY"]
    assert seen == [("find", "proj"), ("check", engine)]
    assert s.engine == engine
    assert "created .env" in capsys.readouterr().err


def test_open_stack_in_a_dry_run_writes_nothing_and_skips_the_daemon(project_root, engine, monkeypatch):
    monkeypatch.setattr(runner, "load_settings", lambda root, environ=None: load_settings(root, {}))
    monkeypatch.setattr(runner, "find_engine", lambda settings: engine)
    monkeypatch.setattr(runner, "check_daemon", lambda found: pytest.fail("checked the daemon in a dry run"))
    open_stack(mock_context(dry=True), project_root)
    assert not (project_root / ".env").exists()


def test_open_stack_stops_at_a_daemon_that_does_not_answer(project_root, engine, monkeypatch):
    def down(found):
        raise StackError("the Docker daemon does not answer")

    monkeypatch.setattr(runner, "load_settings", lambda root, environ=None: load_settings(root, {}))
    monkeypatch.setattr(runner, "find_engine", lambda settings: engine)
    monkeypatch.setattr(runner, "check_daemon", down)
    c = mock_context()
    with pytest.raises(StackError):
        open_stack(c, project_root)
    assert not c.run.called
