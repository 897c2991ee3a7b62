"""The one way the tasks run docker: argument lists, echoed once, quoted once, run by Invoke."""

from __future__ import annotations

import os
import re
import shlex
import sys
from pathlib import Path
from typing import Iterable, Sequence

from invoke import Context, Result

from .compose import WEB, build_args, compose_args, exec_args, ps_args, run_args
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
        return self.run(compose_args(self.engine, *args), **options)

    def docker(self, *args: str, **options) -> Result:
        return self.run([*self.engine.docker, *args], **options)

    def up(self, ports: range) -> Result:
        """`compose up` in the background, one web container per port of `ports`."""
        up = ("up", "--detach", "--no-build", "--remove-orphans")
        if len(ports) == 1:
            return self.compose(*up)
        # Docker gives each replica a free port of the range, so they never clash.
        return self.compose(*up, "--scale", f"{WEB}={len(ports)}", env={"WEB_PORT": f"{ports[0]}-{ports[-1]}"})

    def build(self, *, no_cache: bool = False, pull: bool = False) -> None:
        """`compose build`; StackError with the build's exit status when it fails."""
        result = self.run(build_args(self.engine, no_cache=no_cache, pull=pull), warn=True, env={"DOCKER_BUILDKIT": "1"})
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
        argv = run_args(self.engine, command, tty=tty, env=env, user=user, volumes=volumes)
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
        argv = exec_args(self.engine, command, tty=tty, env=env, service=service)
        return self.run(argv, pty=tty, **options)

    def _tty(self, interactive: bool | None) -> bool:
        return self.interactive if interactive is None else interactive and self.interactive

    # ---- looking things up (quiet, and empty in a dry run) ----

    def image_exists(self) -> bool:
        result = self.docker("image", "inspect", "--format", "{{.Id}}", self.settings.image, hide=True, warn=True, echo=False)
        return bool(result.ok and result.stdout.strip())

    def container_id(self, service: str = WEB, *, running: bool = False) -> str:
        """The service's container (in any state unless `running`), or ""."""
        ids = self.container_ids(service, running=running)
        return ids[0] if ids else ""

    def container_ids(self, service: str = WEB, *, running: bool = False) -> list[str]:
        """The service's containers, one per replica, as `compose ps` lists them (one-off `run`s left out)."""
        result = self.run(ps_args(self.engine, service, running=running), hide=True, warn=True, echo=False)
        return result.stdout.split() if result.ok else []

    def container_state(self, container: str) -> tuple[str, str, int]:
        """(status, health, restart count) of a container; health is "" when it has no healthcheck."""
        template = "{{.State.Status}} {{.RestartCount}} {{if .State.Health}}{{.State.Health.Status}}{{end}}"
        result = self.docker("inspect", "--format", template, container, hide=True, warn=True, echo=False)
        fields = result.stdout.split() if result.ok else []
        if len(fields) < 2:
            return ("missing", "", 0)
        return (fields[0], fields[2] if len(fields) > 2 else "", int(fields[1]))

    def volumes(self) -> list[str]:
        """The project's volumes, by the label Compose puts on them (they outlive its containers)."""
        label = f"label=com.docker.compose.project={self.settings.project_name}"
        result = self.docker("volume", "ls", "--quiet", "--filter", label, hide=True, warn=True, echo=False)
        return result.stdout.split() if result.ok else []


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
