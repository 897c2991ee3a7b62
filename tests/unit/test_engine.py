"""find_engine and check_daemon: the docker command and its Compose v2, and the one-line error when either is missing."""

from __future__ import annotations

import dataclasses
import subprocess
from types import SimpleNamespace

import pytest

from stack import engine as engine_module
from stack.engine import Engine, check_daemon, find_engine, probe
from stack.errors import StackError


class FakeProbe:
    """Answers look-ups by their argument list; records what was asked."""

    def __init__(self, answers=None, default=(0, "", "")):
        self.answers = answers or {}
        self.default = default
        self.asked: list[list[str]] = []

    def __call__(self, argv):
        self.asked.append(list(argv))
        code, out, err = self.answers.get(tuple(argv), self.default)
        return subprocess.CompletedProcess(list(argv), code, out, err)


@pytest.fixture
def on_path(monkeypatch):
    """Pretend exactly these commands are installed."""
    installed: set[str] = set()
    monkeypatch.setattr(
        engine_module, "shutil", SimpleNamespace(which=lambda name: f"/usr/bin/{name}" if name in installed else None)
    )
    return installed


def test_compose_v2_is_the_docker_commands_plugin(settings, on_path):
    on_path.add("docker")
    fake = FakeProbe()
    engine = find_engine(settings, fake)
    assert (engine, engine.compose) == (Engine(("docker",)), ("docker", "compose"))
    assert fake.asked == [["docker", "compose", "version", "--short"]]


def test_without_compose_v2_one_line_says_how_to_get_it_and_v1_is_not_taken(settings, on_path):
    on_path.update({"docker", "docker-compose"})
    with pytest.raises(StackError) as caught:
        find_engine(settings, FakeProbe(default=(1, "", "docker: 'compose' is not a docker command.")))
    message = caught.value.message
    assert message == (
        "error: Compose v2 (`docker compose`) was not found: install the Compose plugin "
        "(Docker's docker-compose-plugin package, or docker-compose on Debian 13 and Ubuntu 24.04+)"
    )


def test_missing_docker_says_install_or_set_docker(settings, on_path):
    fake = FakeProbe()
    with pytest.raises(StackError) as caught:
        find_engine(settings, fake)
    assert "'docker'" in caught.value.message and "DOCKER" in caught.value.message
    assert fake.asked == []


def test_docker_with_extra_words_keeps_them_for_compose(settings, on_path):
    on_path.add("sudo")
    engine = find_engine(dataclasses.replace(settings, docker=("sudo", "docker")), FakeProbe())
    assert engine.compose == ("sudo", "docker", "compose")


def test_check_daemon_passes_when_the_server_answers():
    fake = FakeProbe(default=(0, "27.1.1\n", ""))
    check_daemon(Engine(("docker",)), fake)
    assert fake.asked == [["docker", "version", "--format", "{{.Server.Version}}"]]


def test_check_daemon_failure_is_one_line_with_the_cause_and_what_to_do():
    stderr = (
        "Client: Docker Engine\n Version: 27.1.1\n\n"
        "Cannot connect to the Docker daemon at unix:///var/run/docker.sock. Is the docker daemon running?\n\n"
    )
    with pytest.raises(StackError) as caught:
        check_daemon(Engine(("docker",)), FakeProbe(default=(1, "", stderr)))
    message = caught.value.message
    assert "\n" not in message
    assert "Cannot connect to the Docker daemon at unix:///var/run/docker.sock. Is the docker daemon running?" in message
    assert "start" in message
    assert caught.value.code == 1


def test_check_daemon_failure_without_stderr_gives_the_exit_status():
    with pytest.raises(StackError) as caught:
        check_daemon(Engine(("docker",)), FakeProbe(default=(125, "", "  \n")))
    assert "exit status 125" in caught.value.message


def test_probe_of_a_missing_command_is_a_failure_not_a_crash(tmp_path):
    result = probe([str(tmp_path / "no-such-docker"), "version"])
    assert result.returncode == 127
    assert result.stdout == ""


def test_probe_that_hangs_is_a_failure(monkeypatch):
    def hang(argv, **kwargs):
        raise subprocess.TimeoutExpired(argv, kwargs["timeout"])

    monkeypatch.setattr(engine_module.subprocess, "run", hang)
    result = probe(["docker", "version"])
    assert result.returncode == 127
    assert "timed out" in result.stderr
