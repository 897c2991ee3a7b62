"""Stack: how commands are echoed and run, the quiet look-ups, waiting for health, and the safety checks."""

from __future__ import annotations

import builtins
import dataclasses
import http.server
import io
import os
import shlex
import socket
import sys
import threading

import pytest
from invoke import Result

from bench.scratch import free_ports
from stack import runner
from stack.errors import StackError
from stack.runner import Stack, describe, open_stack, run_on_host, stdin_is_terminal
from stack.settings import load_settings

from .conftest import (
    CONTAINER_ID,
    CONTAINER_STATE,
    IMAGE_INSPECT,
    RUNNING_WEB,
    VOLUME_LS,
    WEB_RUNNING,
    WEB_UP,
    calls,
    mock_context,
    ran,
    shown,
    write,
)



def stack(settings, engine, *responses, dry=False) -> Stack:
    return Stack(mock_context(*responses, dry=dry), settings, engine)


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


def test_running_web_container_is_looked_up_by_label_and_status(settings, engine):
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


def test_build_runs_with_buildkit(settings, engine):
    s = stack(settings, engine)
    s.build(no_cache=True)
    (argv, kwargs), = calls(s.c)
    assert argv[:2] == ["docker", "build"] and "--no-cache" in argv and argv[-1] == str(settings.root)
    assert kwargs["env"]["DOCKER_BUILDKIT"] == "1" and kwargs["env"]["COMPOSE_DOCKER_CLI_BUILD"] == "1"
    assert kwargs["warn"] is True


def test_failed_build_is_one_line_with_the_exit_status(settings, engine):
    s = stack(settings, engine, (r"docker build ", Result(exited=17)))
    with pytest.raises(StackError) as caught:
        s.build()
    assert caught.value.code == 17
    assert "proj-web:latest" in caught.value.message and "17" in caught.value.message


# ---- wait_until_healthy ----


def test_wait_returns_once_the_healthcheck_passes(settings, engine, clock):
    states = [Result("running 0 starting"), Result("running 0 starting"), Result("running 0 healthy")]
    s = stack(settings, engine, WEB_UP, (CONTAINER_STATE, states))
    s.wait_until_healthy()
    inspects = [argv for argv, _ in calls(s.c) if argv[:2] == ["docker", "inspect"]]
    assert len(inspects) == 3 and all(argv[-1] == "c0ffee" for argv in inspects)
    assert clock.sleeps == [0.2]
    assert not ran(s.c, "logs")


@pytest.fixture
def healthz_server():
    """A server on 127.0.0.1 that answers /healthz with 200, as a published web container would."""

    class Healthz(http.server.BaseHTTPRequestHandler):
        def do_GET(self):
            self.send_response(200 if self.path == "/healthz" else 404)
            self.end_headers()

        def log_message(self, *args):
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Healthz)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield server.server_address[1]
    server.shutdown()
    server.server_close()


def test_wait_ends_when_the_published_port_answers_before_the_engine_probes(settings, engine, clock, healthz_server):
    published = (r"docker port c0ffee 8000/tcp", Result(f"127.0.0.1:{healthz_server}\n"))
    s = stack(settings, engine, WEB_UP, published, (CONTAINER_STATE, Result("running 0 starting")))
    s.wait_until_healthy()
    assert clock.sleeps == []
    assert ran(s.c, "docker", "port", "c0ffee", "8000/tcp")


def test_wait_keeps_to_the_engine_probe_when_nothing_answers_on_the_port(settings, engine, clock):
    port = free_ports()
    published = (r"docker port c0ffee 8000/tcp", Result(f"127.0.0.1:{port}\n"))
    states = [Result("running 0 starting"), Result("running 0 starting"), Result("running 0 healthy")]
    s = stack(settings, engine, WEB_UP, published, (CONTAINER_STATE, states))
    s.wait_until_healthy()
    assert clock.sleeps == [0.2]
    # The published port is looked up once, not on every round.
    assert sum(argv[:2] == ["docker", "port"] for argv, _ in calls(s.c)) == 1


def test_wait_waits_for_every_web_container(settings, engine, clock):
    replicas = (r"docker ps --all --quiet .*service=web ", Result("aaa\nbbb\n"))
    states = [Result(f"running 0 {health}") for health in ("starting", "starting", "healthy", "starting", "healthy")]
    s = stack(settings, engine, replicas, (CONTAINER_STATE, states))
    s.wait_until_healthy()
    inspected = [argv[-1] for argv, _ in calls(s.c) if argv[:2] == ["docker", "inspect"]]
    # The restart counts of both first, then each until healthy: bbb was still starting once.
    assert inspected == ["aaa", "bbb", "aaa", "bbb", "bbb"]
    assert clock.sleeps == [0.2]


def test_wait_accepts_a_container_without_healthcheck(settings, engine, clock):
    s = stack(settings, engine, WEB_UP, (CONTAINER_STATE, Result("running 0 ")))
    s.wait_until_healthy()
    assert clock.sleeps == []


def test_wait_for_an_exited_container_shows_its_logs_and_fails(settings, engine, compose_prefix, clock, capsys):
    logs = (r".* logs --no-color --tail 30 web$", Result("Traceback...\nImproperlyConfigured: SECRET_KEY\n"))
    s = stack(settings, engine, logs, WEB_UP, (CONTAINER_STATE, Result("exited 0 ")))
    with pytest.raises(StackError) as caught:
        s.wait_until_healthy()
    assert "stopped (exited)" in caught.value.message and "inv logs web" in caught.value.message
    assert [*compose_prefix, "logs", "--no-color", "--tail", "30", "web"] in [argv for argv, _ in calls(s.c)]
    # The logs go to stderr, like the error line after them, so stdout stays clean for scripts.
    captured = capsys.readouterr()
    assert "ImproperlyConfigured: SECRET_KEY" in captured.err
    assert "ImproperlyConfigured" not in captured.out


def test_container_id_finds_the_web_container_in_any_state(settings, engine):
    s = stack(settings, engine, (CONTAINER_ID, Result("c0ffee\nbadbad\n")))
    assert s.container_id() == "c0ffee"
    (argv, kwargs), = calls(s.c)
    assert argv == [
        "docker", "ps", "--all", "--quiet",
        "--filter", "label=com.docker.compose.project=proj",
        "--filter", "label=com.docker.compose.service=web",
        "--filter", "label=com.docker.compose.oneoff=False",
    ]
    assert kwargs["hide"] is True


def test_container_id_is_empty_when_there_is_none(settings, engine):
    assert stack(settings, engine).container_id() == ""
    assert stack(settings, engine, (CONTAINER_ID, Result("c0ffee", exited=1))).container_id() == ""


def test_wait_notices_a_container_that_restarted(settings, engine, clock):
    states = [Result("running 0 starting"), Result("running 1 starting")]
    s = stack(settings, engine, WEB_UP, (CONTAINER_STATE, states))
    with pytest.raises(StackError) as caught:
        s.wait_until_healthy()
    assert "stopped" in caught.value.message
    assert ran(s.c, "logs", "--no-color")


def test_wait_times_out_after_wait_timeout_and_says_how_to_raise_it(project_root, engine, clock):
    write(project_root, "WAIT_TIMEOUT=3\n")
    s = stack(load_settings(project_root, {}), engine, WEB_UP, (CONTAINER_STATE, Result("running 0 starting")))
    with pytest.raises(StackError) as caught:
        s.wait_until_healthy()
    message = caught.value.message
    assert "WAIT_TIMEOUT" in message and "3s" in message and "starting" in message
    assert sum(clock.sleeps) == pytest.approx(3.0)
    assert ran(s.c, "logs", "--no-color", "--tail", "30", "web")


def test_wait_without_a_container_says_run_up(settings, engine, clock):
    s = stack(settings, engine)
    with pytest.raises(StackError) as caught:
        s.wait_until_healthy()
    assert "inv up" in caught.value.message


def test_wait_is_skipped_in_a_dry_run(settings, engine):
    s = stack(settings, engine, dry=True)
    s.wait_until_healthy()
    assert not s.c.run.called


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


# ---- check_port_free ----


@pytest.fixture
def busy_port():
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen(1)
        yield sock.getsockname()[1]


def test_port_in_use_is_named_before_compose_fails(settings, engine, busy_port):
    s = stack(dataclasses.replace(settings, web_port=busy_port), engine)
    with pytest.raises(StackError) as caught:
        s.check_port_free()
    assert f"port {busy_port}" in caught.value.message and "already in use" in caught.value.message
    assert "WEB_PORT" in caught.value.message


def test_a_busy_port_in_the_range_of_a_scaled_web_is_named(settings, engine):
    first = free_ports(3)
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", first + 2))
        sock.listen(1)
        s = stack(dataclasses.replace(settings, web_port=first), engine)
        with pytest.raises(StackError) as caught:
            s.check_port_free("3")
    assert f"port {first + 2} " in caught.value.message


def test_free_port_passes(settings, engine):
    stack(dataclasses.replace(settings, web_port=free_ports()), engine).check_port_free()


def test_port_held_by_our_own_web_container_is_fine(settings, engine, busy_port):
    # Even a crashing web container of this project holds the port: that is not "another program".
    stack(dataclasses.replace(settings, web_port=busy_port), engine, WEB_UP).check_port_free()


def test_port_check_is_skipped_for_a_remote_engine(settings, engine, busy_port, monkeypatch):
    monkeypatch.setenv("DOCKER_HOST", "ssh://deploy@build-server")
    stack(dataclasses.replace(settings, web_port=busy_port), engine).check_port_free()


def test_port_check_is_skipped_for_a_remote_engine_set_in_env(project_root, engine, busy_port):
    # .env's DOCKER_HOST is what docker gets (Stack.run hands it over), so it decides, not just os.environ.
    write(project_root, f"WEB_PORT={busy_port}\nDOCKER_HOST=ssh://deploy@build-server\n")
    stack(load_settings(project_root, {}), engine).check_port_free()


def test_bind_address_not_on_this_machine_is_named(settings, engine):
    s = stack(dataclasses.replace(settings, web_bind="192.0.2.123"), engine)
    with pytest.raises(StackError) as caught:
        s.check_port_free()
    assert "WEB_BIND=192.0.2.123" in caught.value.message


# ---- confirm_volume_deletion ----


def no_input(prompt=""):
    raise AssertionError(f"asked {prompt!r} though it must not ask")


def test_deleting_volumes_without_a_terminal_needs_yes(settings, engine, monkeypatch):
    monkeypatch.setattr(builtins, "input", no_input)
    with pytest.raises(StackError) as caught:
        stack(settings, engine).confirm_volume_deletion(yes=False)
    assert "--yes" in caught.value.message


def test_yes_deletes_without_asking(settings, engine, monkeypatch, host):
    host.set_tty(True)
    monkeypatch.setattr(builtins, "input", no_input)
    s = stack(settings, engine)
    s.confirm_volume_deletion(yes=True)
    assert not s.c.run.called


def test_at_a_terminal_the_project_name_must_be_typed(settings, engine, monkeypatch, host, capsys):
    host.set_tty(True)
    prompts = []
    monkeypatch.setattr(builtins, "input", lambda prompt="": prompts.append(prompt) or " proj\n")
    s = stack(settings, engine, (VOLUME_LS, Result("proj_data\n")))
    s.confirm_volume_deletion(yes=False)
    assert prompts == ["Type the project name (proj) to confirm: "]
    assert "proj_data" in capsys.readouterr().out
    assert ran(s.c, "volume", "ls", "--quiet", "--filter", "label=com.docker.compose.project=proj")


def test_a_wrong_answer_deletes_nothing(settings, engine, monkeypatch, host):
    host.set_tty(True)
    monkeypatch.setattr(builtins, "input", lambda prompt="": "yes")
    with pytest.raises(StackError) as caught:
        stack(settings, engine).confirm_volume_deletion(yes=False)
    assert "nothing deleted" in caught.value.message


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
