"""The argument lists handed to Compose, and the environment that tells it the project and files."""

from __future__ import annotations

import os

from stack.compose import build_args, compose_args, exec_args, ps_args, run_args
from stack.engine import Engine
from stack.settings import load_settings

from .conftest import write


def test_compose_is_the_docker_plugin_with_its_own_env_file_reading_off(engine, compose_prefix):
    assert compose_args(engine, "ps") == [*compose_prefix, "ps"]
    assert compose_prefix == ["docker", "compose", "--env-file", os.devnull]


def test_project_name_and_files_reach_compose_in_its_environment(settings):
    root = settings.root
    assert settings.environment["COMPOSE_PROJECT_NAME"] == "proj"
    files = settings.environment["COMPOSE_FILE"].split(settings.environment["COMPOSE_PATH_SEPARATOR"])
    assert files == [str(root / "docker-compose.yml"), str(root / "compose/development.yml")]


def test_production_uses_the_base_file_alone_and_a_ca_adds_its_secret(project_root):
    (project_root / "corp ca.pem").write_text("-----BEGIN CERTIFICATE-----\n")
    write(project_root, "ENVIRONMENT=production\nEXTRA_CA_CERT=corp ca.pem\n")
    settings = load_settings(project_root, {})
    files = settings.environment["COMPOSE_FILE"].split(os.pathsep)
    assert files == [str(project_root / "docker-compose.yml"), str(project_root / "compose/extra-ca.yml")]
    assert settings.environment["EXTRA_CA_CERT"] == str((project_root / "corp ca.pem").resolve())


def test_exec_without_a_terminal_adds_minus_t(engine, compose_prefix):
    assert exec_args(engine, ["ls", "-la"], tty=False) == [*compose_prefix, "exec", "-T", "web", "ls", "-la"]


def test_exec_at_a_terminal_has_no_minus_t(engine, compose_prefix):
    assert exec_args(engine, ["bash"], tty=True) == [*compose_prefix, "exec", "web", "bash"]


def test_exec_hands_over_variables_by_name_only(engine, compose_prefix):
    argv = exec_args(engine, ["env"], tty=False, env=["DJANGO_SUPERUSER_PASSWORD", "DJANGO_SUPERUSER_EMAIL"])
    assert argv == [*compose_prefix, "exec", "-T", "-e", "DJANGO_SUPERUSER_PASSWORD", "-e", "DJANGO_SUPERUSER_EMAIL", "web", "env"]
    assert not any("=" in arg for arg in argv)


def test_exec_in_another_service(engine, compose_prefix):
    assert exec_args(engine, ["psql"], tty=True, service="db") == [*compose_prefix, "exec", "db", "psql"]


def test_run_is_throwaway_and_starts_nothing_else(engine, compose_prefix):
    assert run_args(engine, ["python", "manage.py", "check"], tty=True) == [
        *compose_prefix, "run", "--rm", "--no-deps", "web", "python", "manage.py", "check",
    ]


def test_run_without_a_terminal_with_user_volume_and_variables(engine, compose_prefix):
    argv = run_args(engine, ["id"], tty=False, env=["SECRET_KEY"], user="1000:1000", volumes=["/src/site:/app"])
    assert argv == [
        *compose_prefix, "run", "--rm", "--no-deps", "-T",
        "--user", "1000:1000", "--volume", "/src/site:/app", "-e", "SECRET_KEY", "web", "id",
    ]


def test_build_is_compose_build_of_web(engine, compose_prefix):
    assert build_args(engine) == [*compose_prefix, "build", "web"]
    assert build_args(engine, no_cache=True, pull=True) == [*compose_prefix, "build", "--no-cache", "--pull", "web"]


def test_build_args_come_from_the_environment_compose_interpolates(project_root):
    (project_root / "src" / "web").mkdir(parents=True)
    (project_root / "src" / "web" / "manage.py").write_text("")
    write(project_root, "DJANGO_PROJECT_DIR=./src/web/\nBASE_IMAGE=local/python:3.13\n")
    environment = load_settings(project_root, {}).environment
    assert (environment["DJANGO_PROJECT_DIR"], environment["BASE_IMAGE"]) == ("src/web", "local/python:3.13")


def test_ps_lists_only_the_services_own_containers(engine, compose_prefix):
    running = ps_args(engine, "web", running=True)
    assert running[:-3] == [*compose_prefix, "ps", "--status", "running"]
    assert running[-3] == "--format" and "com.docker.compose.oneoff" in running[-2] and running[-1] == "web"
    assert ps_args(engine, "db", running=False)[len(compose_prefix):len(compose_prefix) + 2] == ["ps", "--all"]


def test_the_configured_docker_command_runs_compose_as_its_plugin(compose_prefix):
    engine = Engine(("/opt/docker/bin/docker", "--context", "remote"))
    assert build_args(engine)[:4] == ["/opt/docker/bin/docker", "--context", "remote", "compose"]
