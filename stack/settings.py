"""Read `.env` once, check it, and turn it into one typed `Settings` object.

Layers, lowest first: `.env.example` (the documented defaults), `.env` (yours),
then the process environment, which always wins. python-dotenv does the parsing;
the values it produces are the ones every container sees, because the tasks hand
them to Compose explicitly instead of letting Compose read `.env` by its own rules.

Only host inputs are checked here: ports, the project name, paths, the docker command,
the mode and the database service. Django's own settings are Django's to check: the
container refuses to serve with unsafe ones (docker/entrypoint.py), and `inv up` relays
its one line.
"""

from __future__ import annotations

import hashlib
import io
import json
import logging
import os
import re
import secrets
import shlex
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Mapping
from urllib.parse import quote, urlsplit

from dotenv import dotenv_values

from .errors import StackError

ENV_FILE = ".env"
EXAMPLE_FILE = ".env.example"

DEVELOPMENT, PRODUCTION = "development", "production"
# Compose files, relative to the project root: docker-compose.yml alone is production;
# the others are added on top when .env asks for what they hold.
BASE_COMPOSE_FILE = "docker-compose.yml"
DEVELOPMENT_COMPOSE_FILE = "compose/development.yml"
POSTGRES_COMPOSE_FILE = "compose/postgres.yml"
EXTRA_CA_COMPOSE_FILE = "compose/extra-ca.yml"

# A variable whose value is a secret, by its name: never shown in a message or an echoed command.
SECRET_NAME = re.compile(r"PASSWORD|SECRET|TOKEN|KEY", re.IGNORECASE)

_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off"}
_PROJECT_NAME = re.compile(r"^[a-z0-9][a-z0-9_-]*$")


@dataclass(frozen=True)
class DeploySettings:
    """Where releases go: the registry `inv push` pushes to and the Swarm `inv deploy` runs them on."""

    # REGISTRY: host[:port][/path] that image names are put under; "" when not set (push refuses).
    registry: str
    # IMAGE_NAME without a tag: the repository under REGISTRY.
    image_name: str
    # STACK_NAME: the Swarm stack; services are named <stack>_web, <stack>_db, <stack>_proxy.
    stack_name: str
    # DEPLOY_HOST: a DOCKER_HOST value for the Swarm manager; "" means the local engine.
    host: str
    # DEPLOY_PORT: the proxy's published port for plain HTTP (every node's, host mode).
    port: int
    # DEPLOY_REPLICAS: web replicas when `inv deploy` is given no --replicas.
    replicas: int
    # DEPLOY_DOMAIN: a domain name turns on the proxy's automatic HTTPS on ports 80 and 443.
    domain: str
    # DEPLOY_MEDIA_DIR: a directory every node mounts (NFS, CephFS, ...) for the uploads; "" keeps
    # them on the data node's volume, and web on that node.
    media_dir: str
    # DEPLOY_URL: where the deployed site answers, when it cannot be told from the others.
    url: str
    # DEPLOY_TIMEOUT: seconds each step of a deploy may take (the migrations, the rolling update).
    timeout: float = 600.0

    @property
    def repository(self) -> str:
        return f"{self.registry}/{self.image_name}"

    @property
    def data_label(self) -> str:
        """The node label that pins the database (and the proxy) to one node: `<stack>.data=true`."""
        return f"{self.stack_name}.data"

    @property
    def site_url(self) -> str:
        if self.url:
            return self.url
        if self.domain:
            return f"https://{self.domain}/"
        host = urlsplit(self.host).hostname if self.host and not self.host.startswith("unix://") else ""
        host = host or "127.0.0.1"
        if ":" in host:
            host = f"[{host}]"
        return f"http://{host}/" if self.port == 80 else f"http://{host}:{self.port}/"


@dataclass(frozen=True)
class Settings:
    """Everything the tasks need, validated; `environment` is what Compose and the containers get."""

    root: Path
    environment: Mapping[str, str]
    project_name: str
    image: str
    base_image: str
    web_bind: str
    web_port: int
    docker: tuple[str, ...]
    extra_ca_cert: Path | None
    echo_commands: bool
    wait_timeout: float
    project_dir: Path
    mode: str
    # Compose files, relative to root, in the order Compose merges them (COMPOSE_FILE).
    compose_files: tuple[str, ...] = (BASE_COMPOSE_FILE,)
    # "sqlite" (a file on the web service's volume) or "postgres" (the db service).
    database: str = "sqlite"
    # The names of .env's own variables, handed to the web container through passthrough_file.
    passthrough: tuple[str, ...] = ()
    passthrough_file: Path | None = None
    # Where `inv push` and `inv deploy` send the site (REGISTRY, DEPLOY_*).
    deploy: DeploySettings | None = None

    @property
    def production(self) -> bool:
        return self.mode == PRODUCTION

    @property
    def url(self) -> str:
        """Where the site answers on this machine."""
        host = {"0.0.0.0": "127.0.0.1", "::": "[::1]", "": "127.0.0.1"}.get(self.web_bind, self.web_bind)
        if ":" in host and not host.startswith("["):
            host = f"[{host}]"
        return f"http://{host}:{self.web_port}/"

    def get(self, name: str, default: str = "") -> str:
        return self.environment.get(name, default)


class _UnparsedLines(logging.Handler):
    """Collects the line numbers python-dotenv reports, through its logger, for statements it could not parse."""

    def __init__(self) -> None:
        super().__init__(logging.WARNING)
        self.lines: list[int] = []

    def emit(self, record: logging.LogRecord) -> None:
        if "could not parse" in record.getMessage() and record.args:
            self.lines.append(int(record.args[0]))


def read_env_files(paths: list[Path], environ: Mapping[str, str]) -> dict[str, str]:
    """`NAME=value` pairs of the files, later ones winning, as python-dotenv parses them.

    The files are read as one text. python-dotenv parses it (quotes, escapes, `export`,
    comments) but leaves `${NAME}` alone: its own expansion would let a file's value win
    over the process environment, which here always wins (`WEB_PORT=8001 inv up`). So a
    `${NAME}` takes the environment's value when there is one, else the files' (from
    `.env.example` too), else its `:-default`. StackError naming the file and line of the
    first statement python-dotenv cannot parse, or of a `${NAME}` that nothing defines
    (python-dotenv would silently make it empty). python-dotenv skips a line it cannot parse
    and says so only through its logger (`dotenv.main`), so that logger is listened to.
    """
    texts = []
    for path in paths:
        try:
            text = path.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            raise StackError(f"cannot read {path.name}: {exc}") from None
        texts.append((path, text if text.endswith("\n") or not text else text + "\n"))
    unparsed = _UnparsedLines()
    logger = logging.getLogger("dotenv.main")
    logger.addHandler(unparsed)
    try:
        raw = dotenv_values(stream=io.StringIO("".join(text for _, text in texts)), interpolate=False)
    finally:
        logger.removeHandler(unparsed)
    if unparsed.lines:
        path, number, line = _file_line(texts, unparsed.lines[0])
        name = line.partition("=")[0].strip()
        # A secret's value stays out of the message, which may end up in a bug report.
        shown = f"{name}=..." if SECRET_NAME.search(name) else line.strip()
        raise StackError(
            f"{path.name} line {number}: cannot parse {shown!r}; "
            "write it as NAME=value (quote values that contain spaces or #)"
        )
    return _References(texts, raw, environ).expanded()


# ${NAME} or ${NAME:-default}: what python-dotenv expands, in any value, quoted or not.
_REFERENCE = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)(?::-([^}]*))?\}")


class _References:
    """Expands `${NAME}` in the files' values: the environment's value first, then the files'."""

    def __init__(self, texts, raw: Mapping[str, str | None], environ: Mapping[str, str]) -> None:
        self.texts, self.raw, self.environ = texts, raw, environ
        self.done: dict[str, str] = {}

    def expanded(self) -> dict[str, str]:
        return {name: self.file_value(name, ()) for name, value in self.raw.items() if value is not None}

    def file_value(self, name: str, chain: tuple[str, ...]) -> str:
        if name not in self.done:
            if name in chain:
                path, number = _last_assignment(self.texts, name)
                raise StackError(f"{path.name} line {number}: {name} refers to itself through "
                                 f"{' -> '.join(chain[chain.index(name):] + (name,))}")
            text = self.raw[name] or ""
            self.done[name] = _REFERENCE.sub(lambda match: self.reference(name, match, (*chain, name)), text)
        return self.done[name]

    def reference(self, name: str, match: re.Match, chain: tuple[str, ...]) -> str:
        wanted, default = match.group(1), match.group(2)
        if wanted in self.environ:
            return self.environ[wanted]
        if self.raw.get(wanted) is not None:
            return self.file_value(wanted, chain)
        if default is not None:
            return default
        path, number = _last_assignment(self.texts, name)
        raise StackError(
            f"{path.name} line {number}: {name} refers to ${{{wanted}}}, which is set nowhere (not in "
            f".env, .env.example or the environment): set {wanted}, or give it a default: ${{{wanted}:-value}}"
        )


def _file_line(texts, number: int) -> tuple[Path, int, str]:
    """The file, its line number and the line behind line `number` of the files read as one text."""
    for path, text in texts:
        lines = text.splitlines()
        if number <= len(lines):
            return path, number, lines[number - 1]
        number -= len(lines)
    return texts[-1][0], number, ""


def _last_assignment(texts, name: str) -> tuple[Path, int]:
    """The file and line number of the last line that sets `name` (0 when none is found)."""
    assignment = re.compile(rf"^\s*(?:export\s+)?{re.escape(name)}\s*=")
    for path, text in reversed(texts):
        numbers = [i for i, line in enumerate(text.splitlines(), 1) if assignment.match(line)]
        if numbers:
            return path, numbers[-1]
    return texts[-1][0], 0


class _Sources:
    """The layered values, and where each came from, so an error can point at the file and line."""

    def __init__(self, paths: list[Path], environ: Mapping[str, str]) -> None:
        self.paths = [path for path in paths if path.exists()]
        self.values = read_env_files(self.paths, environ)
        self.from_environment: set[str] = set()
        # Process variables win, but only for names the project knows about or `.env` sets.
        for name in [*self.values, *(name for name in _HOST_ONLY if name not in self.values)]:
            if name in environ:
                self.values[name] = environ[name]
                self.from_environment.add(name)

    @staticmethod
    def names_in(path: Path) -> list[str]:
        """The names a file sets, in its order (it parsed already: nothing here can fail)."""
        return list(dotenv_values(path, interpolate=False)) if path.exists() else []

    def where(self, name: str) -> str:
        """Where the value came from: "the environment", or "FILE line N" of the last line that sets it.

        The line is looked up only here, for an error message, not for every value read.
        """
        if name in self.from_environment:
            return "the environment"
        if name not in self.values or not self.paths:
            return "the defaults"
        texts = [(path, path.read_text(encoding="utf-8")) for path in self.paths]
        path, number = _last_assignment(texts, name)
        return f"{path.name} line {number}" if number else "the defaults"


# Host settings that count even when no .env line names them (pip's own CA bundle variable).
_HOST_ONLY = ("PIP_CERT",)


def load_settings(root: Path, environ: Mapping[str, str] | None = None) -> Settings:
    """Read `.env.example`, `.env` and the environment under `root`; raise StackError on bad input."""
    environ = os.environ if environ is None else environ
    sources = _Sources([root / EXAMPLE_FILE, root / ENV_FILE], environ)
    values = sources.values

    def fail(name: str, problem: str) -> StackError:
        where = sources.where(name)
        if where == "the environment":
            return StackError(f"{name} (set in the environment) {problem}")
        return StackError(f"{where}: {name} {problem}")

    def boolean(name: str, default: bool) -> bool:
        raw = values.get(name)
        if raw is None or not raw.strip():
            return default
        word = raw.strip().lower()
        if word in _TRUE:
            return True
        if word in _FALSE:
            return False
        raise fail(name, f"must be true or false, got {raw!r}")

    def number(name: str, default: int, low: int, high: int) -> int:
        raw = values.get(name, "").strip()
        if not raw:
            return default
        if not re.fullmatch(r"[0-9]+", raw) or not low <= int(raw) <= high:
            raise fail(name, f"must be a whole number from {low} to {high}, got {raw!r}")
        return int(raw)

    project_name = values.get("COMPOSE_PROJECT_NAME", "").strip() or _default_project_name(root)
    if not _PROJECT_NAME.match(project_name):
        raise fail(
            "COMPOSE_PROJECT_NAME",
            f"must be lowercase letters, digits, '-' or '_', starting with a letter or digit; got {project_name!r}",
        )

    image_name = values.get("IMAGE_NAME", "").strip() or f"{project_name}-web"
    image_tag = values.get("IMAGE_TAG", "").strip() or "latest"
    if not re.fullmatch(r"[a-z0-9][a-z0-9._/:-]*", image_name) or not re.fullmatch(r"[\w][\w.-]{0,127}", image_tag):
        raise fail("IMAGE_NAME", f"and IMAGE_TAG must form a valid image reference, got {image_name}:{image_tag}")

    project_dir_raw = values.get("DJANGO_PROJECT_DIR", "").strip() or "site"
    project_dir = (root / project_dir_raw).resolve()
    if Path(project_dir_raw).is_absolute() or not project_dir.is_relative_to(root.resolve()):
        raise fail("DJANGO_PROJECT_DIR", f"must be a directory inside {root} (the image is built from it), got {project_dir_raw!r}")
    if not (project_dir / "manage.py").is_file():
        raise fail("DJANGO_PROJECT_DIR", f"must name the directory holding manage.py; {project_dir_raw}/manage.py does not exist")

    ca_name = "EXTRA_CA_CERT" if values.get("EXTRA_CA_CERT", "").strip() else "PIP_CERT"
    ca_raw = values.get(ca_name, "").strip()
    extra_ca_cert = (root / ca_raw) if ca_raw else None
    if extra_ca_cert is not None and not extra_ca_cert.is_file():
        raise fail(ca_name, f"points at {ca_raw}, which is not a file; fix the path or unset it")

    docker_raw = values.get("DOCKER", "").strip()
    try:
        docker = tuple(shlex.split(docker_raw)) or ("docker",)
    except ValueError as exc:
        raise fail("DOCKER", f"is not a valid command ({exc}): {docker_raw!r}") from None

    web_bind = values.get("WEB_BIND", "").strip() or "127.0.0.1"
    mode = values.get("ENVIRONMENT", "").strip().lower() or DEVELOPMENT
    if mode not in (DEVELOPMENT, PRODUCTION):
        raise fail("ENVIRONMENT", f"must be development or production, got {values['ENVIRONMENT']!r}")
    wait_timeout = number("WAIT_TIMEOUT", 120, 1, 3600)

    database = values.get("DATABASE", "").strip().lower() or "sqlite"
    if database not in DATABASES:
        raise fail("DATABASE", f"must be one of {', '.join(DATABASES)}, got {values['DATABASE']!r}")

    environment = dict(values)
    # Variables of the user's own (in .env, not documented in .env.example) reach the web
    # container by name, through a Compose file written for them (stack/runner.py).
    example_names = set(sources.names_in(root / EXAMPLE_FILE))
    passthrough = tuple(name for name in sources.names_in(root / ENV_FILE) if name not in example_names)
    compose_files = (BASE_COMPOSE_FILE,)
    if database == "postgres":
        environment.update(_postgres_environment(values, fail))
        compose_files += (POSTGRES_COMPOSE_FILE,)
    if mode == DEVELOPMENT:
        compose_files += (DEVELOPMENT_COMPOSE_FILE,)
    if extra_ca_cert is not None:
        compose_files += (EXTRA_CA_COMPOSE_FILE,)
        environment["EXTRA_CA_CERT"] = str(extra_ca_cert.resolve())
    passthrough_file = passthrough_file_for(root)
    compose_paths = [str(root / name) for name in compose_files] + ([str(passthrough_file)] if passthrough else [])
    environment.update(
        # How Compose is told its project and files: no flags to repeat on every command.
        COMPOSE_PROJECT_NAME=project_name,
        COMPOSE_FILE=os.pathsep.join(compose_paths),
        COMPOSE_PATH_SEPARATOR=os.pathsep,
        IMAGE=f"{image_name}:{image_tag}",
        BASE_IMAGE=values.get("BASE_IMAGE", "").strip() or "python:3.13-slim",
        WEB_BIND=web_bind,
        WEB_PORT=str(number("WEB_PORT", 8000, 1, 65535)),
        DJANGO_PROJECT_DIR=project_dir.relative_to(root.resolve()).as_posix(),
        ENVIRONMENT=mode,
        # Development runs as you, so files it writes into your working tree are yours (root
        # included: it may write there). What it writes on the data volume stays group-writable
        # for production's user (docker/entrypoint.py).
        HOST_UID=str(os.getuid()) if hasattr(os, "getuid") else "10001",
        HOST_GID=str(os.getgid()) if hasattr(os, "getgid") else "10001",
    )
    deploy = _deploy_settings(values, fail, number, project_name, image_name)
    return Settings(
        root=root,
        environment=environment,
        project_name=project_name,
        image=environment["IMAGE"],
        base_image=environment["BASE_IMAGE"],
        web_bind=web_bind,
        web_port=int(environment["WEB_PORT"]),
        docker=docker,
        extra_ca_cert=extra_ca_cert,
        echo_commands=boolean("ECHO_COMMANDS", True),
        wait_timeout=float(wait_timeout),
        project_dir=project_dir,
        mode=mode,
        compose_files=compose_files,
        database=database,
        passthrough=passthrough,
        passthrough_file=passthrough_file,
        deploy=deploy,
    )


_REGISTRY = re.compile(r"^[a-z0-9]([a-z0-9.-]*[a-z0-9])?(:[0-9]{1,5})?(/[a-z0-9]+([._-][a-z0-9]+)*)*$")
_DOMAIN = re.compile(r"^(?=.{1,253}$)([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z][a-z0-9-]{0,61}[a-z0-9]$")
_DEPLOY_HOST_SCHEMES = ("ssh://", "tcp://", "unix://", "npipe://")


def _deploy_settings(values: Mapping[str, str], fail, number, project_name: str, image_name: str) -> DeploySettings:
    """REGISTRY and the DEPLOY_* variables, checked; they matter only to `inv push` and `inv deploy`.

    `fail` and `number` are load_settings' own: one wording for every variable.
    """

    def raw(name: str) -> str:
        return values.get(name, "").strip()

    registry = raw("REGISTRY").rstrip("/")
    if registry and not _REGISTRY.match(registry):
        raise fail("REGISTRY", f"must be a registry host with an optional port and path, lowercase, "
                               f"e.g. registry.example.com/team or 127.0.0.1:5000; got {registry!r}")
    stack_name = raw("STACK_NAME") or project_name
    if not _PROJECT_NAME.match(stack_name) or len(stack_name) > 32:
        raise fail("STACK_NAME", f"must be up to 32 lowercase letters, digits, '-' or '_'; got {stack_name!r}")
    host = raw("DEPLOY_HOST")
    if host and not host.startswith(_DEPLOY_HOST_SCHEMES):
        raise fail("DEPLOY_HOST", f"must be a DOCKER_HOST value such as ssh://user@manager or tcp://10.0.0.2:2376, got {host!r}")
    domain = raw("DEPLOY_DOMAIN").lower()
    if domain and not _DOMAIN.match(domain):
        raise fail("DEPLOY_DOMAIN", f"must be a domain name such as www.example.com (no scheme, no port), got {domain!r}")
    media_dir = raw("DEPLOY_MEDIA_DIR").rstrip("/")
    if media_dir and (not media_dir.startswith("/") or any(ch in media_dir for ch in ",:\n")):
        raise fail("DEPLOY_MEDIA_DIR", f"must be an absolute path on the nodes, without ',' or ':', got {media_dir!r}")
    url = raw("DEPLOY_URL")
    if url and not re.match(r"^https?://[^/\s]+", url):
        raise fail("DEPLOY_URL", f"must be an http:// or https:// URL, got {url!r}")
    return DeploySettings(
        registry=registry,
        image_name=image_name,
        stack_name=stack_name,
        host=host,
        port=number("DEPLOY_PORT", 80, 1, 65535),
        replicas=number("DEPLOY_REPLICAS", 2, 1, 100),
        domain=domain,
        media_dir=media_dir,
        url=url if url.endswith("/") or not url else url + "/",
        timeout=float(number("DEPLOY_TIMEOUT", 600, 10, 7200)),
    )


DATABASES = ("sqlite", "postgres")
POSTGRES_DEFAULT_IMAGE = "postgres:17"
_POSTGRES_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,62}$")


def _postgres_environment(values: Mapping[str, str], fail) -> dict[str, str]:
    """The db service's variables, and the DATABASE_URL that points the site at it (it wins over .env's)."""
    names = {}
    for name in ("POSTGRES_USER", "POSTGRES_DB"):
        names[name] = values.get(name, "").strip() or "django"
        if not _POSTGRES_NAME.match(names[name]):
            raise fail(name, f"must be letters, digits and '_' (not starting with a digit), got {names[name]!r}")
    password = values.get("POSTGRES_PASSWORD", "")
    if not password:
        raise fail(
            "POSTGRES_PASSWORD",
            f"is empty, and DATABASE=postgres needs one: add e.g. POSTGRES_PASSWORD={new_secret_key()[:32]} to .env",
        )
    user, db = names["POSTGRES_USER"], names["POSTGRES_DB"]
    return {
        **names,
        "POSTGRES_IMAGE": values.get("POSTGRES_IMAGE", "").strip() or POSTGRES_DEFAULT_IMAGE,
        # Quoted: a password may hold '@', '/' or ':' and still mean itself.
        "DATABASE_URL": f"postgres://{quote(user, safe='')}:{quote(password, safe='')}@db:5432/{db}",
    }


def passthrough_file_for(root: Path) -> Path:
    """Where the Compose file naming .env's own variables is written: one per project directory, outside it."""
    digest = hashlib.sha256(str(root.resolve()).encode()).hexdigest()[:16]
    return Path(tempfile.gettempdir()) / f"django-docker-{digest}.yml"


def passthrough_compose_file(names: tuple[str, ...]) -> str:
    """A Compose file handing these variables to the web container by name (values from Compose's environment)."""
    listed = "".join(f"      - {json.dumps(name)}\n" for name in names)
    return ("# Written by inv: the variables of .env that .env.example does not document, for the site.\n"
            f"services:\n  web:\n    environment:\n{listed}")


def _default_project_name(root: Path) -> str:
    """Compose's own default: the directory name, lowercased, reduced to the allowed characters."""
    name = re.sub(r"[^a-z0-9_-]", "", root.resolve().name.lower()).lstrip("_-")
    return name or "django"


def new_secret_key() -> str:
    # URL-safe characters only: no `$`, `#` or quotes that any .env reader could treat specially.
    return secrets.token_urlsafe(50)


# Secrets `.env` gets fresh random values for when it is created.
GENERATED_SECRETS = ("SECRET_KEY", "POSTGRES_PASSWORD")


def create_env_file(root: Path) -> Path | None:
    """Write `.env` from `.env.example` with fresh secrets; never touch an existing `.env`."""
    target = root / ENV_FILE
    if target.exists():
        return None
    example = root / EXAMPLE_FILE
    text = example.read_text(encoding="utf-8") if example.exists() else ""
    for name in GENERATED_SECRETS:
        line = f"{name}={new_secret_key()}"
        text, count = re.subn(rf"^{name}=.*$", lambda _: line, text, count=1, flags=re.MULTILINE)
        if not count:
            text += ("" if text.endswith("\n") or not text else "\n") + line + "\n"
    # Exclusive create (a racing `inv up` must not overwrite the key), readable by you alone from the start.
    descriptor = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with open(descriptor, "w", encoding="utf-8") as handle:
        handle.write(text)
    return target
