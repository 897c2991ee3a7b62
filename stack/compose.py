"""Argument lists for Compose, built in one place; nothing here runs anything.

The project name and the files reach Compose through its own environment variables
(COMPOSE_PROJECT_NAME, COMPOSE_FILE: see stack/settings.py), so each list here is
just the command.
"""

from __future__ import annotations

import os
from typing import Iterable, Sequence

from .engine import Engine

WEB = "web"
# The PostgreSQL service compose/postgres.yml adds with DATABASE=postgres.
DB = "db"
# Where the server listens inside the web container (docker-compose.yml publishes it).
CONTAINER_PORT = "8000"


def compose_args(engine: Engine, *args: str) -> list[str]:
    """`docker compose ARGS`, with Compose's own reading of `.env` turned off.

    The tasks already put every `.env` value, as python-dotenv read it, in Compose's
    environment; Compose's own parser, whose rules differ, must not get a second say.
    """
    return [*engine.compose, "--env-file", os.devnull, *args]


def build_args(engine: Engine, *, no_cache: bool = False, pull: bool = False) -> list[str]:
    """`compose build` of the web image: tag, build args and the CA secret come from the Compose files."""
    options = [*(["--no-cache"] if no_cache else []), *(["--pull"] if pull else [])]
    return compose_args(engine, "build", *options, WEB)


def exec_args(
    engine: Engine,
    command: Sequence[str],
    *,
    tty: bool,
    env: Iterable[str] = (),
    service: str = WEB,
) -> list[str]:
    """Run `command` in the service's running container; `-T` when there is no terminal to attach."""
    options = [] if tty else ["-T"]
    return compose_args(engine, "exec", *options, *_by_name(env), service, *command)


def run_args(
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
    return compose_args(engine, "run", *options, *_by_name(env), service, *command)


# `compose ps` lists the throwaway containers of `compose run` too; the template leaves them out.
_SERVICE_CONTAINER_IDS = '{{if eq (.Label "com.docker.compose.oneoff") "False"}}{{.ID}}{{end}}'


def ps_args(engine: Engine, service: str = "", *, running: bool) -> list[str]:
    """`compose ps` printing the IDs of a service's own containers (not `run`'s), or of every service's:
    running ones, or in any state."""
    which = ["--status", "running"] if running else ["--all"]
    return compose_args(engine, "ps", *which, "--format", _SERVICE_CONTAINER_IDS, *filter(None, [service]))


def _by_name(env: Iterable[str]) -> list[str]:
    """`-e NAME` without a value: Compose takes it from its environment, so no secret is on the command line."""
    return [arg for name in env for arg in ("-e", name)]
