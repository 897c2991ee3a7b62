"""find_engine and check_daemon: which docker and Compose the tasks use, and the one-line error when none works."""

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


def test_compose_v2_is_chosen_when_docker_compose_version_works(settings, on_path):
    on_path.update({"docker", "docker-compose"})
    fake = FakeProbe()
    engine = find_engine(settings, fake)
    assert engine == Engine(("docker",), ("docker", "compose"))
    assert engine.compose_flavour == "v2"
    assert fake.asked == [["docker", "compose", "version"]]


def test_compose_v1_is_the_fallback_when_the_plugin_is_missing(settings, on_path):
    on_path.update({"docker", "docker-compose"})
    engine = find_engine(settings, FakeProbe({("docker", "compose", "version"): (1, "", "unknown command")}))
    assert engine == Engine(("docker",), ("docker-compose",))
    assert engine.compose_flavour == "v1"


def test_neither_compose_says_how_to_get_one(settings, on_path):
    on_path.add("docker")
    with pytest.raises(StackError) as caught:
        find_engine(settings, FakeProbe(default=(1, "", "")))
    message = caught.value.message
    assert "docker compose" in message and "docker-compose" in message
    assert "COMPOSE" in message


def test_missing_docker_says_install_or_set_docker(settings, on_path):
    fake = FakeProbe()
    with pytest.raises(StackError) as caught:
        find_engine(settings, fake)
    assert "'docker'" in caught.value.message and "DOCKER" in caught.value.message
    assert fake.asked == []


def test_compose_from_env_is_used_as_given_without_probing(settings, on_path):
    on_path.update({"docker", "docker-compose"})
    fake = FakeProbe()
    custom = dataclasses.replace(settings, compose=("docker-compose", "--ansi", "never"))
    assert find_engine(custom, fake) == Engine(("docker",), ("docker-compose", "--ansi", "never"))
    assert fake.asked == []


def test_compose_from_env_that_is_not_installed_names_compose(settings, on_path):
    on_path.add("docker")
    with pytest.raises(StackError) as caught:
        find_engine(dataclasses.replace(settings, compose=("my-compose",)), FakeProbe())
    assert "'my-compose'" in caught.value.message and "COMPOSE" in caught.value.message


def test_podman_gets_podman_compose(settings, on_path):
    on_path.add("podman")
    fake = FakeProbe()
    engine = find_engine(dataclasses.replace(settings, docker=("podman",)), fake)
    assert engine == Engine(("podman",), ("podman", "compose"))
    assert fake.asked == [["podman", "compose", "version"]]


def test_docker_with_extra_words_keeps_them_for_compose(settings, on_path):
    on_path.add("sudo")
    engine = find_engine(dataclasses.replace(settings, docker=("sudo", "docker")), FakeProbe())
    assert engine.compose == ("sudo", "docker", "compose")


@pytest.mark.parametrize(
    ("compose", "flavour"),
    [(("docker", "compose"), "v2"), (("docker-compose",), "v1"), (("/usr/local/bin/docker-compose",), "v1"), (("podman", "compose"), "v2")],
)
def test_compose_flavour(compose, flavour):
    assert Engine(("docker",), compose).compose_flavour == flavour


def test_check_daemon_passes_when_the_server_answers():
    fake = FakeProbe(default=(0, "27.1.1\n", ""))
    check_daemon(Engine(("docker",), ("docker", "compose")), fake)
    assert fake.asked == [["docker", "version", "--format", "{{.Server.Version}}"]]


def test_check_daemon_failure_is_one_line_with_the_cause_and_what_to_do():
    stderr = (
        "Client: Docker Engine\n Version: 27.1.1\n\n"
        "Cannot connect to the Docker daemon at unix:///var/run/docker.sock. Is the docker daemon running?\n\n"
    )
    with pytest.raises(StackError) as caught:
        check_daemon(Engine(("docker",), ("docker", "compose")), FakeProbe(default=(1, "", stderr)))
    message = caught.value.message
    assert "\n" not in message
    assert "Cannot connect to the Docker daemon at unix:///var/run/docker.sock. Is the docker daemon running?" in message
    assert "start" in message
    assert caught.value.code == 1


def test_check_daemon_failure_without_stderr_gives_the_exit_status():
    with pytest.raises(StackError) as caught:
        check_daemon(Engine(("docker",), ("docker", "compose")), FakeProbe(default=(125, "", "  \n")))
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
