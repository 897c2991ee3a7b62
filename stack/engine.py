"""Find the docker command and Compose v2, and check that the daemon answers."""

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
    """The docker command as an argument list (DOCKER in .env); Compose is its `compose` plugin."""

    docker: tuple[str, ...]

    @property
    def compose(self) -> tuple[str, ...]:
        return (*self.docker, "compose")


def find_engine(settings: Settings, run_probe: Probe = probe) -> Engine:
    """The docker command from DOCKER, with Compose v2; StackError saying how to get what is missing.

    Compose v1 (`docker-compose`) is not looked for: it has been unmaintained since mid-2023.
    """
    engine = Engine(settings.docker)
    if shutil.which(engine.docker[0]) is None:
        raise StackError(
            f"the docker command {engine.docker[0]!r} was not found: install Docker "
            "(https://docs.docker.com/engine/install/) or set DOCKER in .env to its path"
        )
    if run_probe([*engine.compose, "version", "--short"]).returncode != 0:
        raise StackError(
            f"Compose v2 (`{' '.join(engine.compose)}`) was not found: install the Compose plugin "
            "(Docker's docker-compose-plugin package, or docker-compose on Debian 13 and Ubuntu 24.04+)"
        )
    return engine


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
