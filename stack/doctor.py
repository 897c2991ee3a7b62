"""`inv doctor`: what is wrong on this machine or in this project, one line per check, fit for a bug report.

Unlike the other tasks it never stops at the first problem (`open_stack` does): every check
prints one line, `ok`, `warn` or `fail` with its fix on the same line, and a check that
needs what an earlier one found missing says `skipped: needs ...`. It only looks: it
writes no file (not even `.env`), pulls nothing and starts nothing.

Nothing secret reaches its output: every line passes through `Redactor`, which masks the
values of variables whose names hold PASSWORD, SECRET, KEY or TOKEN and the password of any
URL (DATABASE_URL's), and a `.env` line python-dotenv cannot parse is named, not quoted,
when it holds such a name.
"""

from __future__ import annotations

import io
import logging
import os
import re
import shlex
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Iterator, Mapping, Sequence
from urllib.parse import unquote

from dotenv import dotenv_values
from invoke import Context, Result
from invoke.exceptions import CommandTimedOut

from . import health
from .compose import WEB, exec_args
from .engine import Engine
from .errors import StackError
from .health import http_status
from .ports import compose_project_publishing, engine_is_local, in_use
from .runner import Stack
from .settings import ENV_FILE, EXAMPLE_FILE, SECRET_NAME, Settings, load_settings

OK, WARN, FAIL = "ok", "warn", "fail"
# A check that could not run: the text says `skipped: needs ...`.
SKIPPED = "-"

# Seconds one look-up may take: a daemon that hangs must not hang the doctor.
TIMEOUT = 30
# The first Docker Engine with BuildKit built in.
BUILDKIT_SINCE = (18, 9)
# Free space under Docker's data root, in GB: below the first a build may run out, below the second it will.
LOW_DISK_GB, FULL_DISK_GB = 5, 1

# The checks, in the order they run and print.
CHECKS = ("docker", "daemon", "compose", "buildkit", "base image", ".env", "port", "disk", "data volume", "site",
          "extra CA")

NEEDS_DOCKER = "skipped: needs the docker command"
NEEDS_DAEMON = "skipped: needs the Docker daemon"
NEEDS_COMPOSE = "skipped: needs Compose v2"
NEEDS_SETTINGS = "skipped: needs a valid .env"

# NAME=value with a secret's name, in a message.
_SECRET_ASSIGNMENT = re.compile(r"\b([A-Za-z_]*(?:PASSWORD|SECRET|KEY|TOKEN)[A-Za-z0-9_]*)=(?!\*\*\*)[^\s'\"`;,)]+",
                                re.IGNORECASE)
# The password of scheme://user:password@host...
_URL_PASSWORD = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*://[^/@:]*:([^/@]+)@")
# Shorter values are no real secret, and masking them would garble every version number.
_SHORTEST_SECRET = 4
# What a SQLite database on the data volume is called, with its write-ahead log and shared memory.
_SQLITE_FILE = re.compile(r"\.(sqlite3?|db)(-wal|-shm|-journal)?$")
_PEM = b"-----BEGIN CERTIFICATE-----"


@dataclass(frozen=True)
class Line:
    """One check's verdict: `ok    docker      Docker version 28.2.2 (/usr/bin/docker)`."""

    status: str
    check: str
    text: str

    def __str__(self) -> str:
        return f"{self.status:<5} {self.check:<11} {self.text}"


def report(c: Context, root: Path, environ: Mapping[str, str] | None = None) -> None:
    """Print every check's line as it comes; StackError (exit status 1) at the end when any failed."""
    failed = 0
    for line in diagnose(c, root, environ):
        print(line, flush=True)
        failed += line.status == FAIL
    if failed:
        many = failed > 1
        raise StackError(
            f"{failed} check{'s' if many else ''} failed: the fix is on {'each' if many else 'its'} fail line above"
        )


def diagnose(c: Context, root: Path, environ: Mapping[str, str] | None = None) -> Iterator[Line]:
    """Every check's line, in order, with secrets masked."""
    if c.config.run.dry:
        raise StackError("`inv doctor` only looks things up, and --dry would show it nothing: run `inv doctor`")
    doctor = _Doctor(c, root, os.environ if environ is None else environ)
    for name, check in zip(CHECKS, doctor.checks):
        # A bug of the doctor's own must not hide the other lines behind a traceback.
        try:
            line = check()
        except Exception as error:  # noqa: BLE001
            line = Line(FAIL, name, f"the check itself failed ({type(error).__name__}: {error}): please report this line")
        yield Line(line.status, line.check, doctor.redact(line.text))


class Redactor:
    """Masks secret values in a text, `***` in their place: the values the sources hold, longest first, and
    any `NAME=value` with a secret's name (a password a message suggests is no less secret once pasted)."""

    def __init__(self, *sources: Mapping[str, str]) -> None:
        found = set()
        for values in sources:
            for name, value in values.items():
                if SECRET_NAME.search(name):
                    found.add(value)
                password = _URL_PASSWORD.match(value or "")
                if password:
                    found.update({password.group(1), unquote(password.group(1))})
        self.secrets = sorted((v for v in found if v and len(v) >= _SHORTEST_SECRET), key=len, reverse=True)

    def __call__(self, text: str) -> str:
        for secret in self.secrets:
            text = text.replace(secret, "***")
        return _SECRET_ASSIGNMENT.sub(r"\1=***", text)


class _Doctor:
    """The checks, and what each found that a later one needs."""

    def __init__(self, c: Context, root: Path, environ: Mapping[str, str]) -> None:
        self.c = c
        self.root = root
        # Read leniently, apart from load_settings: the engine checks need DOCKER and BASE_IMAGE
        # even from a .env that does not validate, and the redactor needs every value.
        files = _file_values(root)
        self.raw = _with_environment(files, environ)
        self.settings: Settings | None = None
        self.settings_error = ""
        try:
            self.settings = load_settings(root, environ)
        except StackError as error:
            self.settings_error = error.message.removeprefix("error: ")
        self.environment = dict(self.settings.environment if self.settings else self.raw)
        # The files' values too: one the environment overrides is no less secret.
        self.redact = Redactor(files, self.raw, self.environment)
        self.docker = self.settings.docker if self.settings else _docker_words(self.raw)
        self.stack = Stack(c, self.settings, Engine(self.docker)) if self.settings else None
        # What the checks found, for those after them.
        self.docker_found = False
        self.server_version = ""
        self.compose_found = False
        self.checks: Sequence[Callable[[], Line]] = (
            self.docker_command, self.daemon, self.compose, self.buildkit, self.base_image, self.env_file,
            self.port, self.disk, self.data_volume, self.site, self.extra_ca,
        )

    # ---- running look-ups ----

    def look(self, *args: str) -> Result:
        """`docker ARGS`, quietly, with the settings' environment; a hang counts as a failure after TIMEOUT."""
        try:
            return self.c.run(shlex.join([*self.docker, *args]), hide=True, warn=True, in_stream=False,
                              env=self.environment, timeout=TIMEOUT)
        except CommandTimedOut:
            return Result(stderr=f"no answer within {TIMEOUT}s", exited=124)

    def needs(self, *what: str) -> str:
        """The skip text of the first named prerequisite an earlier check found missing; "" when none is."""
        missing = {
            "docker": not self.docker_found,
            "daemon": not self.server_version,
            "compose": not self.compose_found,
            "settings": self.settings is None,
        }
        texts = {"docker": NEEDS_DOCKER, "daemon": NEEDS_DAEMON, "compose": NEEDS_COMPOSE, "settings": NEEDS_SETTINGS}
        return next((texts[name] for name in what if missing[name]), "")

    @property
    def local(self) -> bool:
        return self.stack is None or engine_is_local(self.stack)

    # ---- the checks, in order ----

    def docker_command(self) -> Line:
        path = shutil.which(self.docker[0])
        if path is None:
            return Line(FAIL, "docker", f"{self.docker[0]!r} not found: install Docker "
                                        "(https://docs.docker.com/engine/install/) or set DOCKER in .env to its path")
        result = self.look("--version")
        command = shlex.join([path, *self.docker[1:]])
        if result.failed:
            return Line(FAIL, "docker", f"{command} does not run ({_last_line(result)}): reinstall Docker, "
                                        "or set DOCKER in .env to a working one")
        self.docker_found = True
        version = result.stdout.strip().split(",")[0] or "version unknown"
        return Line(OK, "docker", f"{version} ({command})")

    def daemon(self) -> Line:
        if skip := self.needs("docker"):
            return Line(SKIPPED, "daemon", skip)
        result = self.look("version", "--format", "{{.Server.Version}}")
        if result.failed:
            said = _last_line(result)
            if "permission denied" in said.lower():
                fix = ("add yourself to the docker group (`sudo usermod -aG docker $USER`, then log in again), "
                       'or set DOCKER="sudo docker" in .env')
            else:
                fix = "start it (`sudo systemctl start docker`, or open Docker Desktop); check DOCKER_HOST if you set it"
            return Line(FAIL, "daemon", f"does not answer ({said}): {fix}")
        self.server_version = result.stdout.strip() or "unknown"
        return Line(OK, "daemon", f"Docker Engine {self.server_version}{'' if self.local else ' (remote: DOCKER_HOST)'}")

    def compose(self) -> Line:
        if skip := self.needs("docker"):
            return Line(SKIPPED, "compose", skip)
        result = self.look("compose", "version", "--short")
        if result.failed:
            compose = shlex.join([*self.docker, "compose"])
            return Line(FAIL, "compose", f"Compose v2 (`{compose}`) not found: install the Compose plugin "
                                         "(docker-compose-plugin, or docker-compose on Debian 13 and Ubuntu 24.04+)")
        self.compose_found = True
        return Line(OK, "compose", f"Compose {result.stdout.strip() or 'v2'}")

    def buildkit(self) -> Line:
        if skip := self.needs("docker"):
            return Line(SKIPPED, "buildkit", skip)
        buildx = self.look("buildx", "version")
        plugin = f"buildx {_buildx_version(buildx.stdout)}" if buildx.ok else ""
        server = _version(self.server_version)
        if server and server >= BUILDKIT_SINCE:
            return Line(OK, "buildkit", f"in the daemon (Docker {self.server_version} >= 18.09); "
                                        f"{plugin or 'no buildx plugin'}")
        if plugin:
            return Line(OK, "buildkit", f"the {plugin} plugin")
        if not self.server_version:
            return Line(SKIPPED, "buildkit", f"{NEEDS_DAEMON} (or the buildx plugin)")
        return Line(FAIL, "buildkit", f"Docker {self.server_version} predates BuildKit (18.09) and has no buildx: upgrade "
                                      "Docker, or install the buildx plugin (docker-buildx-plugin; Debian: docker-buildx)")

    def base_image(self) -> Line:
        if skip := self.needs("docker", "daemon"):
            return Line(SKIPPED, "base image", skip)
        image = self.settings.base_image if self.settings else self.raw.get("BASE_IMAGE", "").strip()
        if not image:
            return Line(SKIPPED, "base image", NEEDS_SETTINGS)
        if self.look("image", "inspect", "--format", "{{.Id}}", image).ok:
            return Line(OK, "base image", f"{image} is here")
        return Line(WARN, "base image", f"{image} is not here, the first build pulls it: `docker pull {image}` "
                                        "tries now; or set BASE_IMAGE in .env to an image you have")

    def env_file(self) -> Line:
        if self.settings is None:
            return Line(FAIL, ".env", _unquoted_secret_line(self.settings_error))
        source = ENV_FILE
        if not (self.root / ENV_FILE).exists():
            source = f"{EXAMPLE_FILE} only (no {ENV_FILE} yet: `inv up` makes it)"
        return Line(OK, ".env", f"{source}, ENVIRONMENT={self.settings.mode}, DATABASE={self.settings.database}")

    def port(self) -> Line:
        if skip := self.needs("settings"):
            return Line(SKIPPED, "port", skip)
        settings, stack = self.settings, self.stack
        where = f"{settings.web_port} on {settings.web_bind}"
        if not self.local:
            return Line(SKIPPED, "port", f"skipped: {where} is on the remote engine's machine (DOCKER_HOST)")
        try:
            busy = in_use(settings.web_bind, settings.web_port)
        except StackError as error:
            return Line(FAIL, "port", error.message.removeprefix("error: "))
        if not busy:
            return Line(OK, "port", f"{where} is free")
        holder = compose_project_publishing(stack, settings.web_port) if self.server_version else ""
        if holder == settings.project_name:
            return Line(OK, "port", f"{where}: this stack's web container")
        if holder:
            return Line(FAIL, "port", f"{where} is held by Compose project {holder!r}: stop it "
                                      f"(`{shlex.join([*stack.engine.compose, '--project-name', holder, 'down'])}`), "
                                      "or set WEB_PORT in .env")
        return Line(FAIL, "port", f"{where} is in use by another program: stop it, or set WEB_PORT in .env to a free port")

    def disk(self) -> Line:
        if skip := self.needs("docker", "daemon"):
            return Line(SKIPPED, "disk", skip)
        result = self.look("info", "--format", "{{.DockerRootDir}}")
        data_root = result.stdout.strip() if result.ok else ""
        if data_root and self.local and os.path.isdir(data_root):
            path, where = data_root, f"under {data_root}"
        else:
            path, where = "/", f"on / ({data_root or 'the data root'} is not on this machine)"
        free = shutil.disk_usage(path).free / 1e9
        text = f"{free:.1f} GB free {where}"
        fix = "make room: `docker system prune` and `docker builder prune` remove what no container uses"
        if free < FULL_DISK_GB:
            return Line(FAIL, "disk", f"{text}: {fix}")
        if free < LOW_DISK_GB:
            return Line(WARN, "disk", f"{text}, a build may run out: {fix}")
        return Line(OK, "disk", text)

    def data_volume(self) -> Line:
        if skip := self.needs("docker", "daemon", "compose", "settings"):
            return Line(SKIPPED, "data volume", skip)
        stack = self.stack
        volume = f"{self.settings.project_name}_data"
        if volume not in stack.volumes():
            return Line(SKIPPED, "data volume", f"skipped: no volume {volume} yet (`inv up` makes it)")
        if not stack.container_id(WEB, running=True):
            return Line(SKIPPED, "data volume", f"skipped: {volume} is there, but the site is not running (`inv up`)")
        listing = stack.run(exec_args(stack.engine, ["ls", "-ln", "/data"], tty=False), hide=True, warn=True, echo=False)
        if listing.failed:
            return Line(WARN, "data volume", f"cannot list /data in the {WEB} container ({_last_line(listing)}): "
                                             f"see `inv logs {WEB}`")
        files = _sqlite_files(listing.stdout)
        if not files:
            return Line(OK, "data volume", f"{volume}: no SQLite file on it")
        locked = [name for mode, name in files if mode[5:6] != "w"]
        if locked:
            chmod = shlex.join([*self.docker, "run", "--rm", "--user", "0", "--volume", f"{volume}:/data",
                                "--entrypoint", "chmod", self.settings.image, "g+w", *(f"/data/{n}" for n in locked)])
            return Line(WARN, "data volume", f"{', '.join(locked)} not group-writable (g+w), so read-only for the "
                                             f"other ENVIRONMENT: `{chmod}`")
        return Line(OK, "data volume", f"{volume}: {', '.join(name for _, name in files)} group-writable")

    def site(self) -> Line:
        if skip := self.needs("docker", "daemon", "compose", "settings"):
            return Line(SKIPPED, "site", skip)
        stack, url = self.stack, self.settings.url
        running = stack.container_ids(WEB, running=True)
        if not running:
            if any(stack.container_state(c).status == "restarting" for c in stack.container_ids(WEB)):
                return Line(FAIL, "site", f"the {WEB} container keeps restarting: `inv logs {WEB}` says why; "
                                          "fix it, then `inv up`")
            return Line(SKIPPED, "site", "skipped: the site is not running (`inv up` starts it)")
        if not self.local:
            states = [stack.container_state(c).health for c in running]
            if all(state in ("healthy", "") for state in states):
                return Line(OK, "site", f"{len(running)} {WEB} container(s) healthy (remote engine: {url} not asked)")
            return Line(FAIL, "site", f"{WEB} health: {', '.join(states)}: see `inv logs {WEB}` and `inv status`")
        published: dict[str, int | None] = {}
        silent = [c for c in running if not health.answers(stack, c, published)]
        if silent:
            return Line(FAIL, "site", f"/healthz does not answer 200 on {len(silent)} of {len(running)} {WEB} "
                                      f"container(s): see `inv logs {WEB}` and `inv status`")
        status = http_status(url)
        if isinstance(status, str):
            return Line(FAIL, "site", f"/healthz 200, but {url} does not answer ({status}): see `inv logs {WEB}`")
        if status == 400:
            host = url.split("//", 1)[1].rpartition(":")[0]
            return Line(FAIL, "site", f"{url} answers 400: ALLOWED_HOSTS rejects {host}: add it to ALLOWED_HOSTS "
                                      "in .env, then `inv restart`")
        if status >= 500:
            return Line(FAIL, "site", f"{url} answers {status}: the error is in `inv logs {WEB}`")
        if status >= 400:
            return Line(WARN, "site", f"{url} answers {status}: the site has no page for / (is that meant?)")
        return Line(OK, "site", f"{url} answers {status}, /healthz 200")

    def extra_ca(self) -> Line:
        # Which variable counts, as load_settings decides: EXTRA_CA_CERT, else pip's own PIP_CERT.
        name = "EXTRA_CA_CERT" if self.raw.get("EXTRA_CA_CERT", "").strip() else "PIP_CERT"
        value = self.raw.get(name, "").strip()
        if not value:
            return Line(OK, "extra CA", "none set")
        path = self.root / value
        try:
            data = path.read_bytes()
        except (FileNotFoundError, IsADirectoryError, NotADirectoryError):
            return Line(FAIL, "extra CA", f"{name}={value} is not a file: fix the path in .env, or unset it")
        except OSError as error:
            return Line(FAIL, "extra CA", f"{name}={value} cannot be read ({error.strerror}): make it readable to you")
        count = data.count(_PEM)
        if not count:
            return Line(FAIL, "extra CA", f"{name}={value} is not PEM (no {_PEM.decode()} line): convert it, e.g. "
                                          f"`openssl x509 -inform der -in {value} -out ca.pem`")
        return Line(OK, "extra CA", f"{name}={value}, {count} PEM certificate{'s' if count > 1 else ''}")


# ---- helpers ----


def _file_values(root: Path) -> dict[str, str]:
    """.env.example and .env, read as one text as load_settings does, by python-dotenv; what it cannot parse is
    left out (the .env check says so)."""
    texts = []
    for name in (EXAMPLE_FILE, ENV_FILE):
        try:
            text = (root / name).read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError):
            continue
        texts.append(text if text.endswith("\n") or not text else text + "\n")
    logger = logging.getLogger("dotenv.main")
    quiet = logging.NullHandler()  # its warning about a bad line is the .env check's to give
    logger.addHandler(quiet)
    try:
        read = dotenv_values(stream=io.StringIO("".join(texts)))
    finally:
        logger.removeHandler(quiet)
    return {key: value for key, value in read.items() if value is not None}


def _with_environment(values: Mapping[str, str], environ: Mapping[str, str]) -> dict[str, str]:
    """The environment wins for the names the files hold, and for PIP_CERT, as in load_settings."""
    merged = dict(values)
    for name in [*values, "PIP_CERT"]:
        if name in environ:
            merged[name] = environ[name]
    return merged


def _docker_words(values: Mapping[str, str]) -> tuple[str, ...]:
    try:
        return tuple(shlex.split(values.get("DOCKER", ""))) or ("docker",)
    except ValueError:
        return ("docker",)


def _unquoted_secret_line(message: str) -> str:
    """A `cannot parse '...'` message names a secret's line instead of quoting it (it holds the value)."""
    match = re.search(r"cannot parse (.+?); write it as", message)
    if not match or not SECRET_NAME.search(match.group(1)):
        return message
    name = re.search(r"[A-Za-z_][A-Za-z0-9_]*", match.group(1))
    return message.replace(match.group(1), f"the {name.group(0) if name else 'secret'} line (value not shown)")


def _last_line(result: Result) -> str:
    lines = [line.strip() for line in (result.stderr or result.stdout or "").splitlines() if line.strip()]
    return lines[-1] if lines else f"exit status {result.exited}"


def _version(text: str) -> tuple[int, int] | None:
    """(major, minor) of `20.10.24+dfsg1` or `18.09.0-ce`; None when it has none."""
    match = re.match(r"v?(\d+)\.(\d+)", text.strip())
    return (int(match.group(1)), int(match.group(2))) if match else None


def _buildx_version(text: str) -> str:
    """`v0.25.0` from `github.com/docker/buildx v0.25.0 faeb6a8`."""
    words = text.split()
    return next((word for word in words if re.match(r"v?\d+\.\d+", word)), words[0] if words else "")


def _sqlite_files(listing: str) -> list[tuple[str, str]]:
    """(mode, name) of each SQLite file, WAL and shared-memory file in an `ls -ln` listing."""
    found = []
    for row in listing.splitlines():
        fields = row.split(None, 8)
        if len(fields) == 9 and fields[0].startswith("-") and _SQLITE_FILE.search(fields[8]):
            found.append((fields[0], fields[8]))
    return found
