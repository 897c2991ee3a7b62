"""Find the docker command and the Compose flavour, and check that the daemon answers."""

from __future__ import annotations

import shutil
import subprocess
from dataclasses import dataclass
from typing import Callable, Sequence

from .errors import StackError
from .settings import Settings

Probe = Callable[[Sequence[str]], "subprocess.CompletedProcess[str]"]


def probe(argv: Sequence[str]) -> subprocess.CompletedProcess[str]:
    """Run a quiet look-up; a command that is missing or hangs counts as a failure, not a crash."""
    try:
        return subprocess.run(list(argv), capture_output=True, text=True, timeout=30, stdin=subprocess.DEVNULL)
    except (OSError, subprocess.TimeoutExpired) as exc:
        return subprocess.CompletedProcess(list(argv), 127, "", str(exc))


@dataclass(frozen=True)
class Engine:
    docker: tuple[str, ...]
    compose: tuple[str, ...]

    @property
    def compose_flavour(self) -> str:
        return "v1" if self.compose[-1].endswith("docker-compose") else "v2"


def find_engine(settings: Settings, run_probe: Probe = probe) -> Engine:
    """The docker command from DOCKER, and `docker compose` when it works, else `docker-compose`."""
    docker = settings.docker
    if shutil.which(docker[0]) is None:
        raise StackError(
            f"the docker command {docker[0]!r} was not found: install Docker "
            "(https://docs.docker.com/engine/install/) or set DOCKER in .env to its path"
        )
    if settings.compose:
        if shutil.which(settings.compose[0]) is None:
            raise StackError(f"the compose command {settings.compose[0]!r} (COMPOSE in .env) was not found")
        return Engine(docker, settings.compose)
    if run_probe([*docker, "compose", "version"]).returncode == 0:
        return Engine(docker, (*docker, "compose"))
    if shutil.which("docker-compose"):
        return Engine(docker, ("docker-compose",))
    raise StackError(
        f"neither `{' '.join(docker)} compose` (Compose v2) nor `docker-compose` (v1) works: "
        "install the Compose plugin (package docker-compose-plugin) or set COMPOSE in .env"
    )


def check_daemon(engine: Engine, run_probe: Probe = probe) -> None:
    """Fail with one line when the engine does not answer, instead of a wall of client errors."""
    result = run_probe([*engine.docker, "version", "--format", "{{.Server.Version}}"])
    if result.returncode != 0:
        lines = [line for line in (result.stderr or "").strip().splitlines() if line.strip()]
        detail = lines[-1].strip() if lines else f"exit status {result.returncode}"
        raise StackError(
            f"the Docker daemon does not answer ({detail}): start it "
            "(`sudo systemctl start docker`, or open Docker Desktop) and try again"
        )
