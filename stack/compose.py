"""Argument lists for docker and Compose, built in one place; nothing here runs anything."""

from __future__ import annotations

from pathlib import Path
from typing import Iterable, Sequence

from .engine import Engine
from .settings import Settings

WEB = "web"
# Where the server listens inside the web container (docker-compose.yml publishes it).
CONTAINER_PORT = "8000/tcp"
EMPTY_ENV_FILE = Path(__file__).with_name("compose.env")


def compose_args(settings: Settings, engine: Engine, *args: str) -> list[str]:
    """`docker compose` with the project pinned, so both flavours agree on names wherever it runs from.

    `--env-file` points at an empty file: the tasks already put every `.env` value in
    Compose's environment, and Compose's own `.env` parser (which differs between v1
    and v2) must not get a second say. (v1 refuses /dev/null, hence a real file.)
    """
    root = settings.root
    files = [arg for name in settings.compose_files for arg in ("--file", str(root / name))]
    return [
        *engine.compose,
        "--project-name", settings.project_name,
        "--project-directory", str(root),
        *files,
        "--env-file", str(EMPTY_ENV_FILE),
        *args,
    ]


def build_args(settings: Settings, engine: Engine, *, no_cache: bool = False, pull: bool = False) -> list[str]:
    """`docker build` directly (not `compose build`): Compose v1 cannot pass BuildKit secrets."""
    root = settings.root
    argv = [
        *engine.docker, "build",
        "--tag", settings.image,
        "--file", str(root / "Dockerfile"),
        "--build-arg", f"BASE_IMAGE={settings.base_image}",
        "--build-arg", f"PROJECT_DIR={settings.project_dir.relative_to(root.resolve()).as_posix()}",
    ]
    if no_cache:
        argv.append("--no-cache")
    if pull:
        argv.append("--pull")
    if settings.extra_ca_cert is not None:
        argv += ["--secret", f"id=extra_ca,src={settings.extra_ca_cert}"]
    argv.append(str(root))
    return argv


def exec_args(
    settings: Settings,
    engine: Engine,
    command: Sequence[str],
    *,
    tty: bool,
    env: Iterable[str] = (),
    service: str = WEB,
) -> list[str]:
    """Run `command` in the service's running container; `-T` when there is no terminal to attach."""
    options = [] if tty else ["-T"]
    return compose_args(settings, engine, "exec", *options, *_by_name(env), service, *command)


def run_args(
    settings: Settings,
    engine: Engine,
    command: Sequence[str],
    *,
    tty: bool,
    env: Iterable[str] = (),
    user: str | None = None,
    volumes: Iterable[str] = (),
    service: str = WEB,
) -> list[str]:
    """Run `command` in a new, throwaway container of the service (for when the stack is down)."""
    options = ["--rm", "--no-deps"]
    if not tty:
        options.append("-T")
    if user:
        options += ["--user", user]
    for volume in volumes:
        options += ["--volume", volume]
    return compose_args(settings, engine, "run", *options, *_by_name(env), service, *command)


def _by_name(env: Iterable[str]) -> list[str]:
    """`-e NAME` without a value: Compose takes it from its environment, so no secret is on the command line."""
    return [arg for name in env for arg in ("-e", name)]
