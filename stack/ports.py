"""The host ports the web containers are published on, checked before anything starts."""

from __future__ import annotations

import errno
import os
import re
import socket

from .compose import WEB
from .errors import StackError
from .runner import Stack


def web_ports(stack: Stack, scale: str = "1") -> range:
    """The host ports N web containers (`--scale N` or `web=N`) are published on: N from WEB_PORT on."""
    count, first = _web_scale(scale), stack.settings.web_port
    if first + count - 1 > 65535:
        raise StackError(f"--scale {count} needs ports {first} to {first + count - 1}: lower WEB_PORT in .env")
    return range(first, first + count)


def check_ports_free(stack: Stack, ports: range) -> None:
    """Say which port is taken before Compose fails with a long message (skipped for a remote engine)."""
    # Our own web container, even a crashing one, holds the port: that is not "another program".
    if stack.dry or not engine_is_local(stack) or stack.container_id(WEB):
        return
    for port in ports:
        if in_use(stack.settings.web_bind, port):
            holder = compose_project_publishing(stack, port)
            if holder:
                raise StackError(
                    f"port {port} on {stack.settings.web_bind} is held by Compose project {holder!r}, another stack "
                    f"(another checkout, or this one under an earlier COMPOSE_PROJECT_NAME): stop it with "
                    f"`{' '.join(stack.engine.compose)} --project-name {holder} down`, or set WEB_PORT in .env"
                )
            raise StackError(
                f"port {port} on {stack.settings.web_bind} is already in use by another program: stop it, "
                "or set WEB_PORT in .env to a free port"
            )


def compose_project_publishing(stack: Stack, port: int) -> str:
    """The Compose project of a container that publishes `port` on this engine, or ""."""
    template = '{{.Label "com.docker.compose.project"}}'
    result = stack.docker("ps", "--filter", f"publish={port}", "--format", template, hide=True, warn=True, echo=False)
    return next((name for name in result.stdout.split() if name), "") if result.ok else ""


def engine_is_local(stack: Stack) -> bool:
    """Ports a remote engine publishes are not this machine's to check or to ask."""
    host = stack.settings.environment.get("DOCKER_HOST") or os.environ.get("DOCKER_HOST", "")
    return not host or host.startswith("unix://")


def in_use(bind: str, port: int) -> bool:
    """Whether something holds the port; StackError when `bind` is no address of this machine."""
    try:
        family = socket.AF_INET6 if ":" in bind else socket.AF_INET
        with socket.socket(family, socket.SOCK_STREAM) as probe:
            probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            probe.bind((bind.strip("[]"), port))
    except OSError as exc:
        if exc.errno == errno.EADDRINUSE:
            return True
        if exc.errno in (errno.EADDRNOTAVAIL, errno.EAFNOSUPPORT):
            raise StackError(f"WEB_BIND={bind} is not an address of this machine: use 127.0.0.1 or 0.0.0.0") from None
        # Anything else (e.g. a privileged port for a non-root user) is for the engine to judge.
    return False


def _web_scale(value: str) -> int:
    """`3` or `web=3` (Compose's own spelling): how many web containers; only web is ever scaled."""
    match = re.fullmatch(rf"(?:{WEB}=)?([0-9]{{1,3}})", str(value).strip())
    if not match or int(match.group(1)) < 1:
        raise StackError(f"--scale takes a number of web containers, 1 or more (e.g. --scale 3); got {value!r}")
    return int(match.group(1))
