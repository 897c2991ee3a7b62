"""The one way the tasks run docker: argument lists, echoed once, quoted once, run by Invoke."""

from __future__ import annotations

import errno
import os
import re
import shlex
import socket
import sys
import time
from pathlib import Path
from typing import Iterable, Sequence

from invoke import Context, Result

from .compose import CONTAINER_PORT, WEB, build_args, compose_args, exec_args, run_args
from .engine import Engine, check_daemon, find_engine
from .errors import StackError
from .settings import Settings, create_env_file, load_settings

# Values of these never reach the terminal when a command is echoed.
_SECRET_NAME = re.compile(r"PASSWORD|SECRET|TOKEN", re.IGNORECASE)


def stdin_is_terminal() -> bool:
    try:
        return sys.stdin.isatty()
    except (AttributeError, ValueError):
        return False


def describe(argv: Sequence[str]) -> str:
    """The command as a shell line, with secret values in `NAME=value` arguments masked."""
    shown = []
    for arg in argv:
        name, equals, _ = arg.partition("=")
        shown.append(f"{name}=***" if equals and _SECRET_NAME.search(name) else arg)
    return shlex.join(shown)


class Stack:
    """The project as the tasks see it: checked settings, the engine, and how commands run."""

    def __init__(self, c: Context, settings: Settings, engine: Engine) -> None:
        self.c = c
        self.settings = settings
        self.engine = engine
        # Host ports of web containers, looked up once each while waiting for them.
        self._published: dict[str, int | None] = {}

    @property
    def dry(self) -> bool:
        return bool(self.c.config.run.dry)

    @property
    def interactive(self) -> bool:
        """Attach a terminal only when there is one: scripts and CI get plain pipes."""
        return stdin_is_terminal()

    # ---- running ----

    def run(
        self,
        argv: Sequence[str],
        *,
        hide: bool | str = False,
        warn: bool = False,
        pty: bool = False,
        echo: bool = True,
        env: dict[str, str] | None = None,
        stdout_to: Path | None = None,
        stdin_from: Path | None = None,
    ) -> Result:
        """Run argv; `stdout_to`/`stdin_from` redirect at the shell, so binary data never passes through Invoke."""
        redirects = [(">", stdout_to), ("<", stdin_from)]
        suffix = "".join(f" {sign} {shlex.quote(str(path))}" for sign, path in redirects if path is not None)
        if echo and self.settings.echo_commands:
            echo_command(self.c, argv, suffix)
        environment = dict(self.settings.environment)
        environment.update(env or {})
        # A quiet look-up must not swallow input piped to the command that follows it.
        stdin = {"in_stream": False} if hide or stdin_from else {}
        return self.c.run(shlex.join(argv) + suffix, env=environment, hide=hide, warn=warn, pty=pty, **stdin)

    def compose(self, *args: str, **options) -> Result:
        return self.run(compose_args(self.settings, self.engine, *args), **options)

    def docker(self, *args: str, **options) -> Result:
        return self.run([*self.engine.docker, *args], **options)

    def up(self, scale: str = "1") -> Result:
        """`compose up` in the background; N web containers (`--scale N` or `web=N`) get N ports from WEB_PORT on."""
        up = ("up", "--detach", "--no-build", "--remove-orphans")
        ports = self.web_ports(scale)
        if len(ports) == 1:
            return self.compose(*up)
        # Docker gives each replica a free port of the range, so they never clash.
        return self.compose(*up, "--scale", f"{WEB}={len(ports)}", env={"WEB_PORT": f"{ports[0]}-{ports[-1]}"})

    def web_ports(self, scale: str = "1") -> range:
        """The host ports N web containers (`--scale N` or `web=N`) are published on: N from WEB_PORT on."""
        count, first = _web_scale(scale), self.settings.web_port
        if first + count - 1 > 65535:
            raise StackError(f"--scale {count} needs ports {first} to {first + count - 1}: lower WEB_PORT in .env")
        return range(first, first + count)

    def build(self, *, no_cache: bool = False, pull: bool = False) -> None:
        argv = build_args(self.settings, self.engine, no_cache=no_cache, pull=pull)
        # BuildKit is what makes the pip cache mount and the CA secret work;
        # COMPOSE_DOCKER_CLI_BUILD asks Compose v1 to use it too, should it ever build.
        result = self.run(argv, warn=True, env={"DOCKER_BUILDKIT": "1", "COMPOSE_DOCKER_CLI_BUILD": "1"})
        if result.failed:
            raise StackError(
                f"building {self.settings.image} failed (exit status {result.exited}): see the output above",
                code=result.exited or 1,
            )

    def in_web(
        self,
        command: Sequence[str],
        *,
        env: Iterable[str] = (),
        interactive: bool | None = None,
        as_host_user: bool = False,
        **options,
    ) -> Result:
        """Run a command in the web container: `exec` when it is up, a throwaway `run` when not.

        `as_host_user` mounts the project over the image's copy and runs as you, so files
        the command writes (new migrations) land in your working tree owned by you, not root.
        It is for commands that need the models, not the data.
        """
        if not as_host_user and self.container_id(WEB, running=True):
            return self.exec(command, env=env, interactive=interactive, **options)
        tty = self._tty(interactive)
        user, volumes, overrides = None, [], {}
        if as_host_user:
            volumes = [f"{self.settings.project_dir}:/app"]
            if hasattr(os, "getuid"):
                user = f"{os.getuid()}:{os.getgid()}"
            # The SQLite file on the volume belongs to the image's user, and SQLite cannot even
            # read a WAL database it may not write; what runs as you gets a scratch one instead.
            if self.settings.get("DATABASE_URL").startswith("sqlite:"):
                overrides["DATABASE_URL"] = "sqlite:///:memory:"
        argv = run_args(self.settings, self.engine, command, tty=tty, env=env, user=user, volumes=volumes)
        return self.run(argv, pty=tty, env=overrides, **options)

    def exec(
        self,
        command: Sequence[str],
        *,
        service: str = WEB,
        env: Iterable[str] = (),
        interactive: bool | None = None,
        **options,
    ) -> Result:
        """Run a command in the service's running container (`options` go to `run`)."""
        tty = self._tty(interactive)
        argv = exec_args(self.settings, self.engine, command, tty=tty, env=env, service=service)
        return self.run(argv, pty=tty, **options)

    def _tty(self, interactive: bool | None) -> bool:
        return self.interactive if interactive is None else interactive and self.interactive

    # ---- looking things up (quiet, and empty in a dry run) ----

    def image_exists(self) -> bool:
        result = self.docker("image", "inspect", "--format", "{{.Id}}", self.settings.image, hide=True, warn=True, echo=False)
        return bool(result.ok and result.stdout.strip())

    def container_id(self, service: str = WEB, *, running: bool = False) -> str:
        """The service's container (in any state unless `running`), found by Compose's labels."""
        ids = self.container_ids(service, running=running)
        return ids[0] if ids else ""

    def container_ids(self, service: str = WEB, *, running: bool = False) -> list[str]:
        """The service's containers (one per replica), found by Compose's labels.

        Asking docker rather than Compose: the same answer from both flavours (v2's `ps -q`
        hides stopped containers, v1's does not), and much faster than Compose v1 starts.
        """
        which = ["--quiet", "--filter", "status=running"] if running else ["--all", "--quiet"]
        filters = self._project_filter(f"com.docker.compose.service={service}", "com.docker.compose.oneoff=False")
        result = self.docker("ps", *which, *filters, hide=True, warn=True, echo=False)
        return result.stdout.split() if result.ok else []

    def container_state(self, container: str) -> tuple[str, str, int]:
        """(status, health, restart count) of a container; health is "" when it has no healthcheck."""
        template = "{{.State.Status}} {{.RestartCount}} {{if .State.Health}}{{.State.Health.Status}}{{end}}"
        result = self.docker("inspect", "--format", template, container, hide=True, warn=True, echo=False)
        fields = result.stdout.split() if result.ok else []
        if len(fields) < 2:
            return ("missing", "", 0)
        return (fields[0], fields[2] if len(fields) > 2 else "", int(fields[1]))

    def confirm_volume_deletion(self, yes: bool) -> None:
        """Data goes only on an explicit --volumes and a yes: typed at a terminal, or given as --yes."""
        if yes or self.dry:
            return
        if not self.interactive:
            raise StackError("`down --volumes` deletes the database; add --yes to confirm when not at a terminal")
        name = self.settings.project_name
        volumes = ", ".join(self.volumes()) or "none found"
        print(f"This deletes the data volumes of project {name} ({volumes}), and the database with them.")
        if input(f"Type the project name ({name}) to confirm: ").strip() != name:
            raise StackError("nothing deleted: the answer did not match the project name")

    def volumes(self) -> list[str]:
        result = self.docker("volume", "ls", "--quiet", *self._project_filter(), hide=True, warn=True, echo=False)
        return result.stdout.split() if result.ok else []

    def _project_filter(self, *labels: str) -> list[str]:
        """`--filter label=...` for this Compose project (and any further labels): works for both flavours."""
        labels = (f"com.docker.compose.project={self.settings.project_name}", *labels)
        return [arg for label in labels for arg in ("--filter", f"label={label}")]

    # ---- checks and waits ----

    def check_port_free(self, scale: str = "1") -> None:
        """Say which port is taken before Compose fails with a long message (skipped for a remote engine)."""
        ports = self.web_ports(scale)
        # Our own web container, even a crashing one, holds the port: that is not "another program".
        if self.dry or not self.engine_is_local() or self.container_id(WEB):
            return
        for port in ports:
            self._check_port(self.settings.web_bind, port)

    @staticmethod
    def _check_port(bind: str, port: int) -> None:
        try:
            family = socket.AF_INET6 if ":" in bind else socket.AF_INET
            with socket.socket(family, socket.SOCK_STREAM) as probe:
                probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
                probe.bind((bind.strip("[]"), port))
        except OSError as exc:
            if exc.errno == errno.EADDRINUSE:
                raise StackError(
                    f"port {port} on {bind} is already in use by another program: stop it, "
                    "or set WEB_PORT in .env to a free port"
                ) from None
            if exc.errno in (errno.EADDRNOTAVAIL, errno.EAFNOSUPPORT):
                raise StackError(f"WEB_BIND={bind} is not an address of this machine: use 127.0.0.1 or 0.0.0.0") from None
            # Anything else (e.g. a privileged port for a non-root user) is for the engine to judge.

    def engine_is_local(self) -> bool:
        """Ports a remote engine publishes are not this machine's to check."""
        host = self.settings.environment.get("DOCKER_HOST") or os.environ.get("DOCKER_HOST", "")
        return not host or host.startswith("unix://")

    def wait_until_healthy(self, service: str = WEB, timeout: float | None = None) -> None:
        """Poll the containers until every healthcheck passes; on failure show the last logs and say what next."""
        if self.dry:
            return
        timeout = self.settings.wait_timeout if timeout is None else timeout
        containers = self.container_ids(service)
        if not containers:
            raise StackError(f"no {service} container exists: run `inv up` (and `inv ps` to see the stack)")
        print(f"waiting up to {timeout:.0f}s for {service} to become healthy...", file=sys.stderr, flush=True)
        restarts_before = {container: self.container_state(container)[2] for container in containers}
        deadline = time.monotonic() + timeout
        while containers:
            status, health, restarts = self.container_state(containers[0])
            if status == "running" and (health in ("healthy", "") or service == WEB and self.answers(containers[0])):
                containers.pop(0)
                continue
            if status in ("exited", "dead", "missing", "restarting") or restarts > restarts_before[containers[0]]:
                self.show_last_logs(service)
                raise StackError(
                    f"the {service} container stopped ({status}) before it became healthy: its last log lines "
                    f"are above; fix the cause, then run `inv up` again (whole log: `inv logs {service}`)"
                )
            if time.monotonic() >= deadline:
                self.show_last_logs(service)
                raise StackError(
                    f"{service} was not healthy after {timeout:.0f}s (health: {health or status}): its last log "
                    f"lines are above; see `inv logs {service}` and `inv ps`, or raise WAIT_TIMEOUT in .env"
                )
            time.sleep(0.2)

    def answers(self, container: str) -> bool:
        """Whether a web container's /healthz answers 200 on its published port, asked from here.

        The engine's own probe runs every couple of seconds; asking directly ends the wait the
        moment the site answers, and proves the published port works too. Not for a remote engine.
        """
        if not self.engine_is_local():
            return False
        if container not in self._published:
            result = self.docker("port", container, CONTAINER_PORT, hide=True, warn=True, echo=False)
            ports = [line.rpartition(":")[2] for line in result.stdout.split()]
            self._published[container] = next((int(port) for port in ports if port.isdigit()), None)
        port = self._published[container]
        if port is None:
            return False
        import urllib.request  # here, not at the top: `inv --list` need not pay for it

        url = f"{self.settings.url.rpartition(':')[0]}:{port}/healthz"
        try:
            with urllib.request.urlopen(url, timeout=1) as response:
                return response.status == 200
        except OSError:
            return False

    def show_last_logs(self, service: str = WEB, lines: int = 30) -> None:
        result = self.compose("logs", "--no-color", "--tail", str(lines), service, hide=True, warn=True)
        # Diagnostics, like the error line that follows them: stderr, so stdout stays clean for scripts.
        print(f"--- last {lines} log lines of {service} ---", file=sys.stderr)
        print((result.stdout + result.stderr).rstrip(), file=sys.stderr, flush=True)


def _web_scale(value: str) -> int:
    """`3` or `web=3` (Compose's own spelling): how many web containers; only web is ever scaled."""
    match = re.fullmatch(rf"(?:{WEB}=)?([0-9]{{1,3}})", str(value).strip())
    if not match or int(match.group(1)) < 1:
        raise StackError(f"--scale takes a number of web containers, 1 or more (e.g. --scale 3); got {value!r}")
    return int(match.group(1))


def echo_command(c: Context, argv: Sequence[str], suffix: str = "") -> None:
    """One line on stderr before a command runs; a dry run has Invoke print it instead."""
    if not c.config.run.dry:
        print(f"+ {describe(argv)}{suffix}", file=sys.stderr, flush=True)


def run_on_host(c: Context, argv: Sequence[str]) -> Result:
    """A command on this machine (the test runner), echoed like the docker ones."""
    echo_command(c, argv)
    return c.run(shlex.join(argv), pty=False)


def open_stack(c: Context, root: Path) -> Stack:
    """Create `.env` on first use, load and check the settings, find the engine and make sure it answers."""
    dry = bool(c.config.run.dry)
    if not dry:
        created = create_env_file(root)
        if created:
            print(f"created {created.name} from .env.example with a new SECRET_KEY and POSTGRES_PASSWORD", file=sys.stderr)
    settings = load_settings(root)
    engine = find_engine(settings)
    if not dry:
        check_daemon(engine)
    return Stack(c, settings, engine)
