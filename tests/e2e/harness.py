"""Driving a working copy of the project through `inv` on a real Docker engine."""

from __future__ import annotations

import json
import os
import shlex
import shutil
import subprocess
import sys
import time
import urllib.error
import urllib.request
import uuid
from pathlib import Path

import pytest
from dotenv import dotenv_values

from devtools.scratch import copy_checkout, free_ports

REPO = Path(__file__).resolve().parents[2]
DOCKER = shlex.split(os.environ.get("DOCKER", "docker")) or ["docker"]
RUN_ID = uuid.uuid4().hex[:8]
# Who development runs as: you.
DEVELOPER = (os.getuid(), os.getgid())
# Python for `inv shell -c`: the number of guestbook entries.
COUNT_ENTRIES = "from guestbook.models import Entry; print(Entry.objects.count())"
# What a developer's shell may set that would change what a fresh clone does: every name
# .env.example documents, except those that say where the engine and the base images are.
MACHINE_VARIABLES = {"DOCKER", "BASE_IMAGE", "POSTGRES_IMAGE", "EXTRA_CA_CERT"}
DEVELOPER_VARIABLES = (
    set(dotenv_values(REPO / ".env.example")) - MACHINE_VARIABLES
) | {"COMPOSE_FILE", "COMPOSE_PROFILES", "DOCKER_HOST"}


def docker(*args: str, check: bool = True, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*DOCKER, *args], capture_output=True, text=True, check=check, timeout=timeout)


def engine_problem() -> str | None:
    if shutil.which(DOCKER[0]) is None:
        return f"no docker command {DOCKER[0]!r} on PATH"
    try:
        result = docker("version", "--format", "{{.Server.Version}}", check=False, timeout=30)
    except subprocess.TimeoutExpired:
        return "the Docker daemon did not answer within 30 s"
    if result.returncode != 0:
        lines = result.stderr.strip().splitlines() or ["no output"]
        return f"the Docker daemon does not answer ({lines[-1]})"
    return None


def skip_or_fail(needs: str, problem: str) -> None:
    """Skip a test whose tool is missing, but fail under REQUIRE_DOCKER=1 (CI), where nothing may be skipped."""
    if os.environ.get("REQUIRE_DOCKER") == "1":
        pytest.fail(f"REQUIRE_DOCKER=1, but {problem}", pytrace=False)
    pytest.skip(f"needs {needs}: {problem} (REQUIRE_DOCKER=1 turns this skip into a failure)")


def compose_problem() -> str | None:
    """Why Compose v2 cannot be used here, or None."""
    result = subprocess.run([*DOCKER, "compose", "version"], capture_output=True, text=True)
    if result.returncode != 0:
        return f"Compose v2 (`{shlex.join([*DOCKER, 'compose'])}`) does not work on this machine"
    return None


# Ports a run publishes: three free ones in a row, for `inv up --scale 3`.
PORT_SPAN = 3


class Project:
    """A working copy with its own Compose project, driven through `inv`."""

    def __init__(self, path: Path, name: str, port: int, image_name: str) -> None:
        self.path = path
        self.name = name
        self.port = port
        self.image = ""
        self.env = {k: v for k, v in os.environ.items() if k not in DEVELOPER_VARIABLES}
        self.env.update(
            COMPOSE_PROJECT_NAME=name,
            WEB_PORT=str(port),
            IMAGE_NAME=image_name,
            IMAGE_TAG="e2e",
            PYTHONDONTWRITEBYTECODE="1",
        )

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def inv(self, *args: str, stdin: str | None = None, check: bool = True, env: dict | None = None,
            timeout: float = 900) -> subprocess.CompletedProcess[str]:
        """Run `inv ARGS` in the working copy, with no terminal, as a script or CI would."""
        result = subprocess.run(
            [sys.executable, "-m", "invoke", *args],
            cwd=self.path,
            env={**self.env, **(env or {})},
            input=stdin if stdin is not None else "",
            capture_output=True,
            text=True,
            timeout=timeout,
        )
        if check and result.returncode != 0:
            raise AssertionError(
                f"`inv {shlex.join(args)}` exited {result.returncode}\n--- stdout\n{result.stdout}\n--- stderr\n{result.stderr}"
            )
        return result

    def get(self, path: str = "/", timeout: float = 10) -> tuple[int, str]:
        try:
            with urllib.request.urlopen(self.base_url + path, timeout=timeout) as response:
                return response.status, response.read().decode()
        except urllib.error.HTTPError as error:
            return error.code, error.read().decode(errors="replace")

    def answers(self) -> bool:
        try:
            self.get("/healthz", timeout=2)
            return True
        except OSError:
            return False

    def python(self, code: str) -> str:
        """Run Python in the web container through `inv shell -c`; return what it printed."""
        return self.inv("shell", "-c", code).stdout.strip().splitlines()[-1]

    def container_id(self, service: str = "web", *, stopped_too: bool = False) -> str:
        """The service's one container: running, or in any state with `stopped_too`."""
        listing = ("ps", "-aq") if stopped_too else ("ps", "-q")
        ids = self._ids(*listing, "--filter", f"label=com.docker.compose.service={service}")
        assert len(ids) == 1, f"expected one {'' if stopped_too else 'running '}{service} container, found {ids}"
        return ids[0]

    def inspect(self, container: str) -> dict:
        return json.loads(docker("inspect", container).stdout)[0]

    def engine_health(self, within: float = 6.0) -> str:
        """The web container's health as the engine sees it, once "healthy" or after `within` seconds.

        `inv up` returns when the site answers on its port; the engine's own probe (every 2 s)
        says "healthy" shortly after.
        """
        deadline = time.monotonic() + within
        while True:
            status = self.inspect(self.container_id())["State"]["Health"]["Status"]
            if status == "healthy" or time.monotonic() >= deadline:
                return status
            time.sleep(0.2)

    def containers(self) -> list[str]:
        return self._ids("ps", "-aq")

    def volumes(self) -> list[str]:
        return self._ids("volume", "ls", "-q")

    def networks(self) -> list[str]:
        return self._ids("network", "ls", "-q")

    def remove_everything(self) -> None:
        """Containers, volumes and networks of this project, found by Compose's labels: works whatever broke."""
        for listing, removal in ((("ps", "-aq"), ("rm", "-f", "-v")),
                                 (("volume", "ls", "-q"), ("volume", "rm", "-f")),
                                 (("network", "ls", "-q"), ("network", "rm"))):
            ids = self._ids(*listing, check=False)
            if ids:
                docker(*removal, *ids, check=False)

    def _ids(self, *listing: str, check: bool = True) -> list[str]:
        """IDs a docker listing gives for this Compose project's label."""
        return docker(*listing, "--filter", f"label=com.docker.compose.project={self.name}", check=check).stdout.split()


def plant_secrets(project: Project) -> dict[str, str]:
    """Write a .env with fresh secrets, and a stray copy inside the Django project, as a user might."""
    secrets_ = {"SECRET_KEY": f"planted-key-{uuid.uuid4().hex}{uuid.uuid4().hex}",
                "POSTGRES_PASSWORD": f"planted-password-{uuid.uuid4().hex}"}
    text = (project.path / ".env.example").read_text() + "".join(f"{k}={v}\n" for k, v in secrets_.items())
    (project.path / ".env").write_text(text)
    (project.path / "site" / ".env").write_text(text)
    return secrets_


def make_project(tmp_path_factory, label: str, image_name: str) -> Project:
    path = tmp_path_factory.mktemp(label) / "project"
    copy_checkout(REPO, path)
    return Project(path, f"e2e{RUN_ID}{label}", free_ports(PORT_SPAN), image_name)


def postgres_image_problem(image: str) -> str | None:
    """Why the PostgreSQL image cannot be used here (not present and not pullable), or None."""
    if docker("image", "inspect", image, check=False).returncode == 0:
        return None
    try:
        pulled = docker("pull", "--quiet", image, check=False, timeout=300)
    except subprocess.TimeoutExpired:
        return f"the PostgreSQL image {image} is not here and pulling it took over 300 s"
    if pulled.returncode != 0:
        lines = pulled.stderr.strip().splitlines() or ["no output"]
        return f"the PostgreSQL image {image} is not here and cannot be pulled ({lines[-1]}); set POSTGRES_IMAGE"
    return None
