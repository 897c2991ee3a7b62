"""The one way the tasks run docker: argument lists, echoed once, quoted once, run by Invoke."""

from __future__ import annotations

import contextlib
import io
import os
import shlex
import sys
from pathlib import Path
from typing import Iterable, Iterator, NamedTuple, Sequence

from invoke import Context, Result

from .compose import DB, WEB, build_args, compose_args, exec_args, ps_args, run_args
from .engine import Engine, check_daemon, find_engine
from .errors import StackError
from .settings import (
    SECRET_NAME,
    Settings,
    create_env_file,
    load_settings,
    passthrough_compose_file,
)


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
        shown.append(f"{name}=***" if equals and SECRET_NAME.search(name) else arg)
    return shlex.join(shown)


class ContainerState(NamedTuple):
    status: str  # running, restarting, exited, ... or "missing"
    health: str  # starting, healthy, unhealthy, or "" without a healthcheck
    restarts: int
    started_at: str  # when its current process started, as the engine writes it (RFC 3339)


class Stack:
    """The project as the tasks see it: checked settings, the engine, and how commands run."""

    def __init__(self, c: Context, settings: Settings, engine: Engine) -> None:
        self.c = c
        self.settings = settings
        self.engine = engine
        # The image's ID once a build has brought it up to date in this command.
        self._current_image: str | None = None

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
        input: str | None = None,
        progress: bool = False,
    ) -> Result:
        """Run argv; `stdout_to`/`stdin_from` redirect at the shell, so binary data never passes through Invoke.

        `progress`: what the command prints is a report of its progress, and goes to stderr, so
        that stdout holds only the output a script may read (`inv db.counts > counts.txt`).
        `input`: a short text for the command's stdin, which is closed after it (a secret never goes
        on a command line or into a file); Invoke hands it over a character at a time.
        """
        redirects = [(">", stdout_to), ("<", stdin_from)]
        suffix = "".join(f" {sign} {shlex.quote(str(path))}" for sign, path in redirects if path is not None)
        if echo and self.settings.echo_commands:
            echo_command(self.c, argv, suffix)
        environment = dict(self.settings.environment)
        environment.update(env or {})
        # A quiet look-up or a build must not swallow input piped to the command that follows it.
        stdin = {"in_stream": False} if hide or stdin_from or progress else {}
        if input is not None:
            stdin = {"in_stream": io.StringIO(input)}
        streams = {"out_stream": sys.stderr} if progress else {}
        return self.c.run(shlex.join(argv) + suffix, env=environment, hide=hide, warn=warn, pty=pty, **stdin, **streams)

    def compose(self, *args: str, **options) -> Result:
        return self.run(compose_args(self.engine, *args), **options)

    def docker(self, *args: str, **options) -> Result:
        return self.run([*self.engine.docker, *args], **options)

    def swarm(self, *args: str, **options) -> Result:
        """`docker ARGS` against the Swarm manager DEPLOY_HOST names (the local engine when it is empty)."""
        host = self.settings.deploy.host
        env = {**options.pop("env", {}), **({"DOCKER_HOST": host} if host else {})}
        return self.docker(*args, env=env, **options)

    def up(self, ports: range, *args: str) -> Result:
        """`compose up ARGS` in the background, one web container per port of `ports`, from the current image.

        A web container that is not running goes first: one the engine keeps restarting waits
        longer after every crash, and the fix just made must take effect now, not in a minute.
        """
        stuck = [c for c in self.container_ids(WEB) if self.container_state(c).status != "running"]
        if stuck and not self.dry:
            self.docker("rm", "--force", *stuck, hide=True, warn=True)
        up = ("up", "--detach", "--no-build", "--remove-orphans")
        if len(ports) == 1:
            return self.compose(*up, *args)
        # Docker gives each replica a free port of the range, so they never clash.
        scale = ("--scale", f"{WEB}={len(ports)}")
        return self.compose(*up, *scale, *args, env={"WEB_PORT": f"{ports[0]}-{ports[-1]}"})

    def build(self, *, no_cache: bool = False, pull: bool = False) -> None:
        """`compose build`; StackError with the build's exit status when it fails."""
        argv = build_args(self.engine, no_cache=no_cache, pull=pull)
        result = self.run(argv, warn=True, env={"DOCKER_BUILDKIT": "1"}, progress=True)
        if result.failed:
            raise StackError(
                f"building {self.settings.image} failed (exit status {result.exited}): see the output above",
                code=result.exited or 1,
            )
        self._current_image = None

    def current_image(self) -> str:
        """The image's ID, built first so that it matches its inputs; "" in a dry run.

        Every command that runs the image asks for it, so none runs an image older than the
        code or the requirements. BuildKit reuses each unchanged layer: with nothing changed
        the build costs a fraction of a second, and it happens once per command.
        """
        if self._current_image is None:
            self.build()
            self._current_image = self.image_id(self.settings.image)
        return self._current_image

    def refuse_stale_container(self, container: str) -> None:
        """StackError when a running container was made from another image than the current one."""
        if self.dry:
            return
        result = self.docker("inspect", "--format", "{{.Image}}", container, hide=True, warn=True, echo=False)
        if result.ok and result.stdout.strip() != self.current_image():
            raise StackError(
                "the running web container was made from an older image than your code, requirements or .env "
                "ask for: `inv up` recreates it, then run this again"
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
        running = "" if as_host_user else self.container_id(WEB, running=True)
        if running:
            self.refuse_stale_container(running)
            return self.exec(command, env=env, interactive=interactive, **options)
        self.current_image()
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
        argv = run_args(self.engine, command, tty=tty, env=env, user=user, volumes=volumes)
        with self.services_for_a_run():
            return self.run(argv, pty=tty, env=overrides, **options)

    @contextlib.contextmanager
    def services_for_a_run(self) -> Iterator[None]:
        """Around a throwaway `run` of web: start the db service it needs (PostgreSQL), and clean up after.

        When nothing of the project existed before, everything the run made goes after it
        (containers, network; never a volume), else only the db service it started stops.
        """
        if self.dry:
            yield
            return
        existed = self.container_ids("")
        started_db = self.settings.database == "postgres" and not self.container_id(DB, running=True)
        try:
            if started_db:
                self.require_images(DB)
                if self.compose("up", "--detach", "--no-build", "--wait", DB, warn=True).failed:
                    raise StackError(f"the {DB} service did not become healthy: see `inv logs {DB}`")
            yield
        finally:
            if not existed:
                self.compose("down", "--remove-orphans", hide=True, warn=True)
            elif started_db:
                self.compose("stop", DB, hide=True, warn=True)

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
        argv = exec_args(self.engine, command, tty=tty, env=env, service=service)
        return self.run(argv, pty=tty, **options)

    def _tty(self, interactive: bool | None) -> bool:
        return self.interactive if interactive is None else interactive and self.interactive

    # ---- looking things up (quiet, and empty in a dry run) ----

    def require_images(self, *services: str) -> None:
        """Make sure the images the services start from are here (pulling what is not), before anything is made.

        WEB builds from BASE_IMAGE, DB runs POSTGRES_IMAGE. StackError naming the variable
        and the image when one is neither here nor pullable; no network or volume is left.
        """
        wanted = {WEB: "BASE_IMAGE", DB: "POSTGRES_IMAGE"}
        for service in services:
            variable = wanted[service]
            image = self.settings.get(variable)
            if self.dry or (service == DB and self.settings.database != "postgres") or self.image_id(image):
                continue
            print(f"pulling {image} ({variable})...", file=sys.stderr, flush=True)
            pulled = self.docker("pull", "--quiet", image, hide=True, warn=True, echo=False)
            if pulled.failed:
                raise StackError(
                    f"{variable}={image} is not on this machine and cannot be pulled ({failure_line(pulled)}): fix {variable} "
                    "in .env, or log in to its registry (`docker login`); nothing was created"
                )

    def image_id(self, image: str) -> str:
        """The ID of an image on this engine, or "" when it has none of that name."""
        result = self.docker("image", "inspect", "--format", "{{.Id}}", image, hide=True, warn=True, echo=False)
        return result.stdout.strip() if result.ok else ""

    def container_id(self, service: str = WEB, *, running: bool = False) -> str:
        """The service's container (in any state unless `running`), or ""."""
        ids = self.container_ids(service, running=running)
        return ids[0] if ids else ""

    def container_ids(self, service: str = WEB, *, running: bool = False) -> list[str]:
        """The service's containers, one per replica, as `compose ps` lists them (one-off `run`s left out);
        every service's with service=""."""
        result = self.run(ps_args(self.engine, service, running=running), hide=True, warn=True, echo=False)
        return result.stdout.split() if result.ok else []

    def container_state(self, container: str) -> ContainerState:
        """What the engine says of a container; status "missing" when it has none of that ID."""
        template = "{{.State.Status}} {{.RestartCount}} {{.State.StartedAt}} {{if .State.Health}}{{.State.Health.Status}}{{end}}"
        result = self.docker("inspect", "--format", template, container, hide=True, warn=True, echo=False)
        fields = result.stdout.split() if result.ok else []
        if len(fields) < 3:
            return ContainerState("missing", "", 0, "")
        return ContainerState(fields[0], fields[3] if len(fields) > 3 else "", int(fields[1]), fields[2])

    def volumes(self) -> list[str]:
        """The project's volumes, by the label Compose puts on them (they outlive its containers)."""
        label = f"label=com.docker.compose.project={self.settings.project_name}"
        result = self.docker("volume", "ls", "--quiet", "--filter", label, hide=True, warn=True, echo=False)
        return result.stdout.split() if result.ok else []


def failure_line(result: Result) -> str:
    """The last line a failed command printed (stderr first), or its exit status: the reason to quote."""
    lines = (result.stderr or result.stdout or "").strip().splitlines()
    return lines[-1] if lines else f"exit status {result.exited}"


def echo_command(c: Context, argv: Sequence[str], suffix: str = "") -> None:
    """One line on stderr before a command runs; a dry run has Invoke print it instead."""
    if not c.config.run.dry:
        print(f"+ {describe(argv)}{suffix}", file=sys.stderr, flush=True)


def run_on_host(c: Context, argv: Sequence[str]) -> Result:
    """A command on this machine (the test runner), echoed like the docker ones."""
    echo_command(c, argv)
    return c.run(shlex.join(argv), pty=False)


def open_stack(c: Context, root: Path, *, production: bool = False) -> Stack:
    """Create `.env` on first use, load and check the settings, find the engine and make sure it answers.

    `production`: whatever ENVIRONMENT says, for the commands that ship the production image.
    """
    dry = bool(c.config.run.dry)
    if not dry:
        created = create_env_file(root)
        if created:
            print(f"created {created.name} from .env.example with a new SECRET_KEY and POSTGRES_PASSWORD", file=sys.stderr)
    settings = load_settings(root, {**os.environ, "ENVIRONMENT": "production"} if production else None)
    engine = find_engine(settings)
    if not dry:
        check_daemon(engine)
        if settings.passthrough:
            settings.passthrough_file.write_text(passthrough_compose_file(settings.passthrough), encoding="utf-8")
    return Stack(c, settings, engine)
