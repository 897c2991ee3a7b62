"""The argument lists handed to docker and Compose."""

from __future__ import annotations

import dataclasses

import pytest

from stack.compose import EMPTY_ENV_FILE, build_args, compose_args, exec_args, run_args
from stack.engine import Engine


@pytest.fixture
def root(settings):
    return settings.root


@pytest.fixture
def base(compose_prefix):
    return compose_prefix


def test_compose_pins_project_directory_files_and_an_empty_env_file(settings, engine, base):
    assert compose_args(settings, engine, "ps") == [*base, "ps"]
    assert base[-1] == str(EMPTY_ENV_FILE)


def test_development_adds_its_compose_file_and_production_uses_the_base_file_alone(settings, engine, root):
    files = lambda argv: [argv[i + 1] for i, arg in enumerate(argv) if arg == "--file"]  # noqa: E731
    assert files(compose_args(settings, engine, "ps")) == [str(root / "docker-compose.yml"), str(root / "compose/development.yml")]
    production = dataclasses.replace(settings, mode="production", compose_files=("docker-compose.yml",))
    assert files(compose_args(production, engine, "ps")) == [str(root / "docker-compose.yml")]


def test_the_env_file_given_to_compose_exists_and_sets_nothing():
    # Compose v1 refuses /dev/null, and a real .env must never be read a second time by Compose's own rules.
    assert EMPTY_ENV_FILE.is_file()
    assert EMPTY_ENV_FILE.name == "compose.env"
    assert EMPTY_ENV_FILE.parent.name == "stack"
    lines = [line.strip() for line in EMPTY_ENV_FILE.read_text().splitlines()]
    assert all(not line or line.startswith("#") for line in lines)


def test_compose_v1_gets_the_same_options(settings):
    argv = compose_args(settings, Engine(("docker",), ("docker-compose",)), "up")
    assert argv[0] == "docker-compose"
    assert argv[1:] == compose_args(settings, Engine(("docker",), ("docker", "compose")), "up")[2:]


def test_exec_without_a_terminal_adds_minus_t(settings, engine, base):
    assert exec_args(settings, engine, ["ls", "-la"], tty=False) == [*base, "exec", "-T", "web", "ls", "-la"]


def test_exec_at_a_terminal_has_no_minus_t(settings, engine, base):
    assert exec_args(settings, engine, ["bash"], tty=True) == [*base, "exec", "web", "bash"]


def test_exec_hands_over_variables_by_name_only(settings, engine, base):
    argv = exec_args(settings, engine, ["env"], tty=False, env=["DJANGO_SUPERUSER_PASSWORD", "DJANGO_SUPERUSER_EMAIL"])
    assert argv == [*base, "exec", "-T", "-e", "DJANGO_SUPERUSER_PASSWORD", "-e", "DJANGO_SUPERUSER_EMAIL", "web", "env"]
    assert not any("=" in arg for arg in argv)


def test_exec_in_another_service(settings, engine, base):
    assert exec_args(settings, engine, ["psql"], tty=True, service="db") == [*base, "exec", "db", "psql"]


def test_run_is_throwaway_and_starts_nothing_else(settings, engine, base):
    assert run_args(settings, engine, ["python", "manage.py", "check"], tty=True) == [
        *base, "run", "--rm", "--no-deps", "web", "python", "manage.py", "check",
    ]


def test_run_without_a_terminal_with_user_volume_and_variables(settings, engine, base):
    argv = run_args(
        settings, engine, ["id"], tty=False, env=["SECRET_KEY"], user="1000:1000", volumes=["/src/site:/app"]
    )
    assert argv == [
        *base, "run", "--rm", "--no-deps", "-T",
        "--user", "1000:1000", "--volume", "/src/site:/app", "-e", "SECRET_KEY", "web", "id",
    ]


def test_build_tags_the_image_and_passes_base_image_and_project_dir(root, settings, engine):
    assert build_args(settings, engine) == [
        "docker", "build",
        "--tag", "proj-web:latest",
        "--file", str(root / "Dockerfile"),
        "--build-arg", "BASE_IMAGE=python:3.13-slim",
        "--build-arg", "PROJECT_DIR=site",
        str(root),
    ]


def test_build_options(root, settings, engine):
    argv = build_args(settings, engine, no_cache=True, pull=True)
    assert argv[-3:] == ["--no-cache", "--pull", str(root)]
    assert "--secret" not in argv


def test_build_hands_a_ca_certificate_over_as_a_secret(root, settings, engine):
    ca = root / "corp ca.pem"
    argv = build_args(dataclasses.replace(settings, extra_ca_cert=ca), engine)
    assert argv[-3:] == ["--secret", f"id=extra_ca,src={ca}", str(root)]


def test_build_project_dir_is_relative_and_posix(root, settings, engine):
    nested = (root / "src" / "web").resolve()
    argv = build_args(dataclasses.replace(settings, project_dir=nested), engine)
    assert "PROJECT_DIR=src/web" in argv


def test_build_uses_the_configured_docker_command(settings):
    argv = build_args(settings, Engine(("podman",), ("podman", "compose")))
    assert argv[:2] == ["podman", "build"]
