"""Every task and option, run through its body with docker scripted: the exact commands it would run."""

from __future__ import annotations

import dataclasses
import os
import shlex
import socket
import subprocess
import sys
from typing import ClassVar
from unittest.mock import DEFAULT

import pytest
from invoke import Collection, Config, Context, Result, Task

import tasks
from devtools.scratch import free_ports
from stack import health
from stack.errors import StackError
from stack.runner import Stack
from stack.settings import load_settings

from .conftest import (
    BUILD_WEB,
    CONTAINER_STATE,
    IMAGE_INSPECT,
    REPO,
    RUNNING_WEB,
    WEB_RUNNING,
    WEB_UP,
    calls,
    make_project,
    mock_context,
    ran,
    shown,
    write,
)

IMAGE_PRESENT = (IMAGE_INSPECT, Result("sha256:0123\n"))
HEALTHY = (CONTAINER_STATE, Result("running 0 T0 healthy\n"))
SUPERUSER = [
    "DJANGO_SUPERUSER_USERNAME=admin",
    "DJANGO_SUPERUSER_EMAIL=admin@example.com",
    "DJANGO_SUPERUSER_PASSWORD='hunter2 two'",
]


class Harness:
    """Runs a task with `open_stack` answering a Stack over a scripted MockContext and the shared project."""

    def __init__(self, settings, engine, monkeypatch, tmp_path_factory):
        self.engine = engine
        self.tmp_path_factory = tmp_path_factory
        # A port nobody holds, so the real port check in `up` passes.
        port = free_ports()
        self.base = dataclasses.replace(settings, web_port=port, environment={**settings.environment, "WEB_PORT": str(port)})
        self.env_lines: list[str] = []  # a .env for tests that need values of their own
        self.roots = []
        self.c = None
        monkeypatch.setattr(tasks, "open_stack", self.open_stack)
        # The site answers as soon as it runs, and its front page with 200 (tests/unit/test_health.py
        # asks a real server).
        monkeypatch.setattr(health, "healthz_status", lambda *args: 200)
        monkeypatch.setattr(tasks, "front_page", lambda stack: "")

    def open_stack(self, c, root):
        self.roots.append(root)
        self.settings = self.base
        if self.env_lines:
            own = make_project(self.tmp_path_factory.mktemp("own") / "proj")
            write(own, "".join(line + "\n" for line in [f"WEB_PORT={self.base.web_port}", *self.env_lines]))
            # Same paths as the shared project, so every test compares against the same compose prefix.
            self.settings = dataclasses.replace(
                load_settings(own, {}), root=self.base.root, project_dir=self.base.project_dir
            )
        return Stack(c, self.settings, self.engine)

    def run(self, task, *responses, remainder="", dry=False, **kwargs) -> list[list[str]]:
        """The commands a user sees the task run, after the build that brings the image up to date (`self.built`)."""
        self.c = mock_context(*responses, dry=dry, remainder=remainder)
        task(self.c, **kwargs)
        commands = shown(self.c)
        self.built = commands[:1] == [BUILD_WEB]
        return commands[1:] if self.built else commands

    def fails(self, task, *responses, remainder="", **kwargs) -> StackError:
        with pytest.raises(StackError) as caught:
            self.run(task, *responses, remainder=remainder, **kwargs)
        return caught.value

    def kwargs_of(self, argv_start: list[str]) -> dict:
        (kwargs,) = [kw for argv, kw in calls(self.c) if argv[: len(argv_start)] == argv_start]
        return kwargs


@pytest.fixture
def h(settings, engine, monkeypatch, clock, tmp_path_factory):
    return Harness(settings, engine, monkeypatch, tmp_path_factory)


@pytest.fixture
def C(compose_prefix):
    return compose_prefix


@pytest.fixture
def BUILD(C):
    return [*C, "build", "web"]


def run_in_web(C, *command, tty=False):
    return [*C, "run", "--rm", "--no-deps", *([] if tty else ["-T"]), "web", *command]


def exec_in_web(C, *command, tty=False):
    return [*C, "exec", *([] if tty else ["-T"]), "web", *command]


def test_tasks_work_on_the_repository_root(h):
    h.run(tasks.ps)
    assert h.roots == [tasks.ROOT] and tasks.ROOT == REPO


# ---- build ----


def test_build(h, BUILD):
    assert h.run(tasks.build, IMAGE_PRESENT) == [] and h.built
    assert h.kwargs_of(BUILD)["env"]["DOCKER_BUILDKIT"] == "1"


def test_build_no_cache_and_pull(h, BUILD):
    assert h.run(tasks.build, IMAGE_PRESENT, no_cache=True, pull=True) == [[*BUILD[:-1], "--no-cache", "--pull", "web"]]


def test_build_failure_exits_with_the_build_status(h):
    assert h.fails(tasks.build, IMAGE_PRESENT, (r"docker compose .* build ", Result(exited=2))).code == 2


def test_build_of_a_base_image_that_cannot_be_had_is_one_line(h):
    gone = Result("", stderr="manifest unknown\n", exited=1)
    error = h.fails(tasks.build, (IMAGE_INSPECT, Result("", exited=1)), (r"docker pull ", gone))
    assert error.message.startswith("error: BASE_IMAGE=python:3.13-slim is not on this machine and cannot be pulled")
    assert not ran(h.c, "build")


# ---- up ----


UP = ["up", "--detach", "--no-build", "--remove-orphans"]


def test_up_checks_the_port_and_images_builds_starts_and_waits_for_an_answer(h, C, capsys):
    assert h.run(tasks.up, IMAGE_PRESENT, WEB_UP, HEALTHY) == [[*C, *UP]] and h.built
    order = [argv[4] if argv[1] == "compose" else argv[1] for argv, _ in calls(h.c)]
    # The port (is it our own container's?), then the base image, before a build that may take minutes.
    assert order[:4] == ["ps", "image", "build", "image"]
    assert order[-1] == "inspect"
    port = h.settings.web_port
    assert f"The site is up at http://127.0.0.1:{port}/" in capsys.readouterr().out


def test_up_builds_every_time_so_no_image_is_older_than_its_inputs(h, C):
    # BuildKit reuses every unchanged layer, so an unchanged tree costs a fraction of a second.
    h.run(tasks.up, IMAGE_PRESENT, WEB_UP, HEALTHY)
    assert h.built


def test_up_with_postgres_checks_its_image_before_anything_is_created(h):
    h.env_lines = ["DATABASE=postgres", "POSTGRES_PASSWORD=pw", "POSTGRES_IMAGE=nosuch/postgres:99"]
    missing = (r"docker image inspect --format \S+ nosuch/postgres:99$", Result("", exited=1))
    error = h.fails(tasks.up, missing, IMAGE_PRESENT, (r"docker pull ", Result("", stderr="denied\n", exited=1)))
    assert error.message.startswith("error: POSTGRES_IMAGE=nosuch/postgres:99 is not on this machine")
    assert not ran(h.c, "build") and not ran(h.c, "up")


@pytest.mark.parametrize("scale", ["3", "web=3"])
def test_up_scale_runs_n_web_containers_on_a_range_of_ports(h, C, scale):
    port = h.base.web_port
    commands = h.run(tasks.up, IMAGE_PRESENT, WEB_UP, HEALTHY, scale=scale)
    assert commands == [[*C, *UP, "--scale", "web=3"]]
    assert h.kwargs_of([*C, *UP])["env"]["WEB_PORT"] == f"{port}-{port + 2}"


@pytest.mark.parametrize("scale, message", [
    ("0", "1 or more"), ("db=2", "1 or more"), ("three", "1 or more"), ("10", "lower WEB_PORT"),
])
def test_up_scale_out_of_range_starts_nothing(h, scale, message):
    h.env_lines = ["WEB_PORT=65530"]
    assert message in h.fails(tasks.up, IMAGE_PRESENT, scale=scale).message
    assert not ran(h.c, "up")


def test_up_removes_a_web_container_stuck_restarting_so_the_fix_takes_effect_at_once(h, C):
    fresh = Result("running 0 T1 healthy\n")
    stuck = (CONTAINER_STATE, [Result("restarting 7 T0 \n"), fresh, fresh])
    assert h.run(tasks.up, IMAGE_PRESENT, WEB_UP, stuck) == [[*C, *UP]]
    assert ran(h.c, "docker", "rm", "--force", "c0ffee")
    order = [argv[4] if argv[1] == "compose" else argv[1] for argv, _ in calls(h.c)]
    assert order.index("rm") < order.index("up")


def test_up_leaves_a_running_web_container_to_compose(h):
    h.run(tasks.up, IMAGE_PRESENT, WEB_UP, HEALTHY)
    assert not ran(h.c, "docker", "rm")


def test_up_no_wait_does_not_wait_and_does_not_claim_the_site_is_up(h, C, capsys):
    assert h.run(tasks.up, IMAGE_PRESENT, wait=False) == [[*C, *UP]]
    assert not ran(h.c, "docker", "inspect")
    out = capsys.readouterr().out
    assert "The site is starting at" in out and "The site is up" not in out


def test_up_with_an_unhealthy_site_fails_and_does_not_claim_it_is_up(h, C, capsys):
    error = h.fails(tasks.up, IMAGE_PRESENT, WEB_UP, (CONTAINER_STATE, Result("exited 0 T0 ")))
    assert "stopped" in error.message
    assert ran(h.c, *C, *UP)
    assert "The site is up" not in capsys.readouterr().out


def test_up_on_a_busy_port_stops_before_compose(h, C):
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen(1)
        h.env_lines = [f"WEB_PORT={sock.getsockname()[1]}"]
        error = h.fails(tasks.up, IMAGE_PRESENT)
    assert "already in use" in error.message
    assert not ran(h.c, "up")


def test_up_dry_run_prints_no_url(h, C, capsys):
    assert h.run(tasks.up, dry=True) == [[*C, *UP]] and h.built
    assert "The site is up" not in capsys.readouterr().out


# ---- down ----


def test_down_keeps_the_data(h, C):
    assert h.run(tasks.down) == [[*C, "down", "--remove-orphans"]]


def test_down_volumes_yes_deletes_the_volumes(h, C):
    assert h.run(tasks.down, volumes=True, yes=True) == [[*C, "down", "--remove-orphans", "--volumes"]]


def test_down_volumes_without_yes_and_without_a_terminal_deletes_nothing(h):
    error = h.fails(tasks.down, volumes=True)
    assert "--yes" in error.message
    assert not ran(h.c, "down")


def test_down_volumes_at_a_terminal_after_typing_the_project_name(h, C, host, monkeypatch):
    host.set_tty(True)
    monkeypatch.setattr("builtins.input", lambda prompt="": "proj")
    assert h.run(tasks.down, volumes=True) == [[*C, "down", "--remove-orphans", "--volumes"]]


# ---- restart, ps, logs ----


@pytest.mark.parametrize("service", [None, "", "web"])
def test_restart_recreates_from_the_current_image_and_env_then_waits(h, C, service):
    expected = [*C, *UP, "--force-recreate", *([service] if service else [])]
    assert h.run(tasks.restart, IMAGE_PRESENT, WEB_RUNNING, WEB_UP, HEALTHY, service=service) == [expected]
    assert h.built and ran(h.c, "docker", "inspect")


def test_restart_keeps_the_number_of_web_containers(h, C):
    three = (RUNNING_WEB, Result("a\nb\nc\n"))
    commands = h.run(tasks.restart, IMAGE_PRESENT, three, wait=False)
    assert commands == [[*C, *UP, "--scale", "web=3", "--force-recreate"]]


def test_restart_another_service_does_not_wait_for_web(h, C):
    assert h.run(tasks.restart, IMAGE_PRESENT, WEB_RUNNING, service="db") == [[*C, *UP, "--force-recreate", "db"]]
    assert not ran(h.c, "docker", "inspect", "--format")


def test_restart_with_nothing_running_says_to_run_up(h):
    assert h.fails(tasks.restart).message == "error: the site is not running: `inv up` starts it"
    assert not ran(h.c, "up")


def test_ps(h, C):
    assert h.run(tasks.ps) == [[*C, "ps"]]


@pytest.mark.parametrize(
    ("options", "args"),
    [
        ({}, []),
        ({"service": ""}, []),
        ({"service": "web"}, ["web"]),
        ({"follow": True}, ["--follow"]),
        ({"tail": "5", "service": "web"}, ["--tail", "5", "web"]),
        ({"tail": "all", "follow": True}, ["--follow", "--tail", "all"]),
    ],
)
def test_logs(h, C, options, args):
    assert h.run(tasks.logs, **options) == [[*C, "logs", *args]]


def test_logs_tail_must_be_a_number(h):
    assert "--tail" in h.fails(tasks.logs, tail="ten").message
    assert not h.c.run.called


# ---- manage, migrate, makemigrations ----


def test_manage_with_a_quoted_string_runs_in_a_throwaway_container_when_web_is_down(h, C):
    assert h.run(tasks.manage, args="check --deploy") == [run_in_web(C, "python", "manage.py", "check", "--deploy")]


def test_manage_uses_the_running_web_container(h, C):
    assert h.run(tasks.manage, WEB_RUNNING, args="check --deploy") == [
        exec_in_web(C, "python", "manage.py", "check", "--deploy")
    ]


def test_manage_after_double_dash(h, C):
    assert h.run(tasks.manage, remainder="check --deploy") == [run_in_web(C, "python", "manage.py", "check", "--deploy")]


def test_manage_quoted_string_and_remainder_together(h, C):
    assert h.run(tasks.manage, args="check", remainder="--deploy --fail-level WARNING") == [
        run_in_web(C, "python", "manage.py", "check", "--deploy", "--fail-level", "WARNING")
    ]


def test_manage_hostile_words_stay_separate_arguments_and_nothing_runs(h, C, tmp_path):
    marker = tmp_path / "pwned"
    typed = f"check; touch {marker}; $(touch {marker}) `touch {marker}`"
    words = ["check;", "touch", f"{marker};", "$(touch", f"{marker})", "`touch", f"{marker}`"]
    assert h.run(tasks.manage, args=typed) == [run_in_web(C, "python", "manage.py", *words)]
    (line,) = [call.args[0] for call in h.c.run.call_args_list if not call.kwargs.get("hide") and " build " not in call.args[0]]
    # Let a real shell read the line c.run hands to one: every word comes back intact, and nothing runs.
    out = subprocess.run(["sh", "-c", "printf '%s\\0' " + line], capture_output=True, text=True, check=True).stdout
    assert out.split("\0")[:-1] == run_in_web(C, "python", "manage.py", *words)
    assert not marker.exists()


def test_manage_with_nothing_to_run_says_what_to_type(h):
    error = h.fails(tasks.manage)
    assert "inv manage" in error.message
    assert not h.c.run.called


def test_manage_with_unbalanced_quotes_runs_nothing(h):
    assert "quotes" in h.fails(tasks.manage, args="shell -c 'print(1)").message
    assert not h.c.run.called


@pytest.mark.parametrize(
    ("options", "remainder", "args"),
    [
        ({}, "", []),
        ({"app": "", "migration": ""}, "", []),
        ({"app": "guestbook"}, "", ["guestbook"]),
        ({"app": "guestbook", "migration": "0001"}, "", ["guestbook", "0001"]),
        ({"app": "guestbook", "migration": "zero"}, "--plan", ["guestbook", "zero", "--plan"]),
        ({}, "--fake-initial --database default", ["--fake-initial", "--database", "default"]),
    ],
)
def test_migrate(h, C, options, remainder, args):
    assert h.run(tasks.migrate, remainder=remainder, **options) == [run_in_web(C, "python", "manage.py", "migrate", *args)]


def as_you(root):
    return ["--user", f"{os.getuid()}:{os.getgid()}", "--volume", f"{(root / 'site').resolve()}:/app"]


@pytest.mark.parametrize(
    ("options", "remainder", "args"),
    [
        ({}, "", []),
        ({"app": "guestbook"}, "", ["guestbook"]),
        ({"check": True}, "", ["--check"]),
        ({"app": "guestbook", "name": "add_email"}, "--empty", ["guestbook", "--name", "add_email", "--empty"]),
        ({"app": "guestbook", "check": True, "name": "x"}, "", ["guestbook", "--check", "--name", "x"]),
    ],
)
def test_makemigrations_writes_files_as_you_into_the_project(h, C, settings, options, remainder, args):
    # Always a throwaway container with the project mounted, even while web runs: exec would write as root.
    assert h.run(tasks.makemigrations, WEB_RUNNING, remainder=remainder, **options) == [
        [*C, "run", "--rm", "--no-deps", "-T", *as_you(settings.root), "web", "python", "manage.py", "makemigrations", *args]
    ]


# ---- shell, dbshell, createsuperuser, exec ----


def test_shell_without_a_terminal(h, C):
    assert h.run(tasks.shell) == [run_in_web(C, "python", "manage.py", "shell")]


def test_shell_at_a_terminal_gets_a_pty(h, C, host):
    host.set_tty(True)
    assert h.run(tasks.shell, WEB_RUNNING) == [exec_in_web(C, "python", "manage.py", "shell", tty=True)]
    assert h.kwargs_of([*C, "exec"])["pty"] is True


def test_shell_command_runs_code_without_a_terminal_even_at_one(h, C, host):
    host.set_tty(True)
    code = "from guestbook.models import Entry; print(Entry.objects.count())"
    assert h.run(tasks.shell, WEB_RUNNING, command=code) == [
        exec_in_web(C, "python", "manage.py", "shell", "--command", code)
    ]
    assert h.kwargs_of([*C, "exec"])["pty"] is False


def test_shell_bash(h, C):
    assert h.run(tasks.shell, WEB_RUNNING, bash=True) == [exec_in_web(C, "bash")]


def test_dbshell(h, C):
    assert h.run(tasks.dbshell, WEB_RUNNING) == [exec_in_web(C, "python", "manage.py", "dbshell")]


def test_createsuperuser_without_a_terminal_hands_the_variables_over_by_name(h, C, capsys):
    h.env_lines += SUPERUSER
    assert h.run(tasks.createsuperuser) == [
        [
            *C, "run", "--rm", "--no-deps", "-T",
            "-e", "DJANGO_SUPERUSER_USERNAME", "-e", "DJANGO_SUPERUSER_EMAIL", "-e", "DJANGO_SUPERUSER_PASSWORD",
            "web", "python", "manage.py", "createsuperuser", "--noinput",
        ]
    ]
    # The value travels in the environment only: never on a command line, never on the screen.
    assert h.kwargs_of([*C, "run"])["env"]["DJANGO_SUPERUSER_PASSWORD"] == "hunter2 two"
    assert "hunter2" not in h.c.run.call_args.args[0]
    assert "hunter2" not in capsys.readouterr().err


def test_createsuperuser_username_and_email_from_the_command_line(h, C):
    h.env_lines += ["DJANGO_SUPERUSER_PASSWORD=pw"]
    assert h.run(tasks.createsuperuser, WEB_RUNNING, username="root", email="root@example.com") == [
        [
            *C, "exec", "-T", "-e", "DJANGO_SUPERUSER_PASSWORD",
            "web", "python", "manage.py", "createsuperuser", "--username", "root", "--email", "root@example.com", "--noinput",
        ]
    ]


def test_createsuperuser_without_a_terminal_names_what_is_missing(h):
    error = h.fails(tasks.createsuperuser)
    for name in ("DJANGO_SUPERUSER_USERNAME", "DJANGO_SUPERUSER_EMAIL", "DJANGO_SUPERUSER_PASSWORD"):
        assert name in error.message
    assert not h.c.run.called


def test_createsuperuser_at_a_terminal_asks(h, C, host):
    host.set_tty(True)
    h.env_lines += SUPERUSER
    assert h.run(tasks.createsuperuser) == [run_in_web(C, "python", "manage.py", "createsuperuser", tty=True)]


def test_exec_a_quoted_command(h, C):
    assert h.run(tasks.exec_, cmd="ls -la /app") == [exec_in_web(C, "ls", "-la", "/app")]


def test_exec_after_double_dash(h, C):
    assert h.run(tasks.exec_, remainder="sh -c 'echo $HOME'") == [exec_in_web(C, "sh", "-c", "echo $HOME")]


def test_exec_in_another_service(h, C):
    assert h.run(tasks.exec_, cmd="env", service="db") == [[*C, "exec", "-T", "db", "env"]]


def test_exec_with_nothing_to_run_says_what_to_type(h):
    assert "inv exec" in h.fails(tasks.exec_).message
    assert not h.c.run.called


def test_exec_task_is_called_exec():
    assert tasks.exec_.name == "exec"


# ---- test ----


def run_test_task(h, monkeypatch, remainder="", **options):
    """The host commands `inv test` runs, each with the directory it runs in."""
    monkeypatch.chdir(h.tmp_path_factory.getbasetemp())  # somewhere else, restored afterwards
    h.c = mock_context(remainder=remainder)
    seen = []
    # Where a command runs: Invoke's `cd` prefix if any, else the process's working directory.
    h.c.run.side_effect = lambda command, **kwargs: seen.append((shlex.split(command), h.c.cwd or os.getcwd())) or DEFAULT
    tasks.test(h.c, **options)
    return seen


@pytest.mark.parametrize(
    ("options", "remainder", "args"),
    [
        ({}, "", []),
        ({"quick": True}, "", ["-m", "not e2e"]),
        ({"k": "settings and not slow"}, "", ["-k", "settings and not slow"]),
        ({"quick": True, "k": "tasks"}, "-x --lf", ["-m", "not e2e", "-k", "tasks", "-x", "--lf"]),
    ],
)
def test_test_runs_pytest_on_the_host_in_the_project(h, monkeypatch, options, remainder, args):
    seen = run_test_task(h, monkeypatch, remainder=remainder, **options)
    assert seen == [([sys.executable, "-m", "pytest", *args], str(REPO))]
    assert h.roots == []


def test_test_site_runs_the_django_tests_in_the_container(h, C, host):
    host.set_tty(True)
    assert h.run(tasks.test, site=True, remainder="guestbook --parallel 2") == [
        run_in_web(C, "python", "manage.py", "test", "--noinput", "guestbook", "--parallel", "2")
    ]


def test_test_site_passes_k_to_django(h, C):
    assert h.run(tasks.test, site=True, k="guestbook") == [
        run_in_web(C, "python", "manage.py", "test", "--noinput", "-k", "guestbook")
    ]


def test_test_site_and_quick_contradict_each_other(h):
    assert "--quick" in h.fails(tasks.test, site=True, quick=True).message
    assert not h.c.run.called


class _RecordingRunner:
    """Stands in for Invoke's local runner: records the final shell line and the directory it would start in."""

    runs: ClassVar[list[tuple[str, str]]] = []

    def __init__(self, context):
        pass

    def run(self, command, **kwargs):
        _RecordingRunner.runs.append((command, os.getcwd()))
        return Result(command=command)


@pytest.mark.parametrize("directory", ["django-site", "my projects", "django-site (1)", "o'brien", "a&b $HOME"])
def test_test_runs_in_the_project_whatever_its_directory_is_called(tmp_path, monkeypatch, directory):
    root = tmp_path / directory
    root.mkdir()
    monkeypatch.setattr(tasks, "ROOT", root)
    monkeypatch.chdir(tmp_path)
    _RecordingRunner.runs = []
    tasks.test(Context(Config(overrides={"runners": {"local": _RecordingRunner}})), quick=True)
    ((line, cwd),) = _RecordingRunner.runs
    command = shlex.join([sys.executable, "-m", "pytest", "-m", "not e2e"])
    assert line.endswith(command)
    # Run whatever precedes the pytest command in a real shell, from where Invoke would start it: it must land in the project.
    result = subprocess.run(["sh", "-c", line[: -len(command)] + "pwd"], capture_output=True, text=True, cwd=cwd, check=False)
    assert (result.returncode, result.stdout.strip()) == (0, str(root)), result.stderr


# ---- the namespace ----


def _tasks_in(collection: Collection):
    yield from collection.tasks.values()
    for sub in collection.collections.values():
        yield from _tasks_in(sub)


def test_every_task_defined_in_tasks_py_is_in_the_namespace_inv_lists():
    defined = {name: obj for name, obj in vars(tasks).items() if isinstance(obj, Task)}
    listed = list(_tasks_in(tasks.ns))
    assert [name for name, obj in defined.items() if not any(obj is entry for entry in listed)] == []
    assert len(listed) == len(defined)
    # And `inv --list` itself, as a user runs it, shows every name the namespace holds.
    shown_names = subprocess.run([sys.executable, "-m", "invoke", "--list"], cwd=REPO, capture_output=True,
                                 text=True, check=True).stdout.split()
    assert set(tasks.ns.task_names) <= set(shown_names)


# ---- status, open ----


def test_status_shows_the_mode_the_database_the_url_the_image_and_each_container(h, capsys):
    listed = (r"docker compose .* ps --all --format json$", Result(
        '{"ID": "c0ffee", "Service": "web", "Name": "proj-web-1", "State": "running", "Health": "healthy", '
        '"Labels": "com.docker.compose.oneoff=False"}\n'
        '{"ID": "0ne0ff", "Service": "web", "Name": "proj-web-run-1", "State": "running", "Health": "", '
        '"Labels": "com.docker.compose.oneoff=True"}\n'
    ))
    env = (r"docker inspect --format .*Config\.Env.* c0ffee$", Result("PATH=/opt/venv/bin\nENVIRONMENT=production\n"))
    created = (r"docker image inspect --format .*Created.* proj-web:latest$", Result("2000-01-01T00:00:00.123456789Z\n"))
    h.run(tasks.status, listed, env, created)
    lines = capsys.readouterr().out.splitlines()
    assert lines[0] == "mode        development in .env, but production is running: `inv up` switches"
    assert lines[1] == "database    SQLite, on the data volume"
    assert lines[2].startswith(f"url         {h.settings.url}  does not answer")
    assert lines[3] == "image       proj-web:latest, built 2000-01-01 00:00:00 UTC"
    assert lines[4:] == ["web         proj-web-1  running, healthy"]


def test_status_of_a_stack_that_is_down_and_an_image_not_built(h, capsys):
    h.run(tasks.status, (IMAGE_INSPECT, Result("", exited=1)))
    out = capsys.readouterr().out
    assert "image       proj-web:latest, not built yet: `inv up` builds it" in out
    assert "containers  none: `inv up` starts the site" in out


@pytest.mark.parametrize(("admin", "path"), [(False, ""), (True, "admin/")])
def test_open_hands_the_url_to_the_browser(h, monkeypatch, capsys, admin, path):
    opened = []
    monkeypatch.setattr("webbrowser.open", lambda url: opened.append(url) or True)
    monkeypatch.setattr(tasks, "load_settings", lambda root: h.base)
    tasks.open_(mock_context(), admin=admin)
    assert opened == [f"{h.base.url}{path}"]
    assert capsys.readouterr().out == ""


def test_open_without_a_browser_prints_the_url(h, monkeypatch, capsys):
    monkeypatch.setattr("webbrowser.open", lambda url: False)
    monkeypatch.setattr(tasks, "load_settings", lambda root: h.base)
    tasks.open_(mock_context())
    assert capsys.readouterr().out == f"no browser to open here: visit {h.base.url}\n"
