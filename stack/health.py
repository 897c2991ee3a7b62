"""Waiting until the site answers, and saying why when it never will."""

from __future__ import annotations

import re
import sys
import time

from .compose import CONTAINER_PORT, WEB
from .errors import StackError
from .ports import engine_is_local
from .runner import Stack

# How docker/entrypoint.py says why it will not serve: one line, the container's own account.
_REFUSAL = "entrypoint: error: "
# Compose may put terminal control sequences (erase line) in front of a log line.
_TERMINAL_CODES = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]")


def wait_until_healthy(stack: Stack, service: str = WEB, timeout: float | None = None) -> None:
    """Poll the service's containers until each is healthy.

    Raises StackError as soon as a container stops or restarts (with the container's own
    last error line in the message and its last log lines above it), or after `timeout`
    seconds (WAIT_TIMEOUT by default).
    """
    if stack.dry:
        return
    timeout = stack.settings.wait_timeout if timeout is None else timeout
    containers = stack.container_ids(service)
    if not containers:
        raise StackError(f"no {service} container exists: run `inv up` (and `inv ps` to see the stack)")
    print(f"waiting up to {timeout:.0f}s for {service} to become healthy...", file=sys.stderr, flush=True)
    restarts_before = {container: stack.container_state(container)[2] for container in containers}
    published: dict[str, int | None] = {}
    deadline = time.monotonic() + timeout
    while containers:
        container = containers[0]
        status, health, restarts = stack.container_state(container)
        if status == "running" and (health in ("healthy", "") or service == WEB and answers(stack, container, published)):
            containers.pop(0)
            continue
        if status in ("exited", "dead", "missing", "restarting") or restarts > restarts_before[container]:
            cause = show_last_logs(stack, service)
            raise StackError(
                f"the {service} container stopped before it became healthy: {cause or 'its last log lines are above'}; "
                f"fix the cause, then run `inv up` again (whole log: `inv logs {service}`)"
            )
        if time.monotonic() >= deadline:
            show_last_logs(stack, service)
            raise StackError(
                f"{service} was not healthy after {timeout:.0f}s (health: {health or status}): its last log "
                f"lines are above; see `inv logs {service}` and `inv ps`, or raise WAIT_TIMEOUT in .env"
            )
        time.sleep(0.2)


def answers(stack: Stack, container: str, published: dict[str, int | None]) -> bool:
    """Whether a web container's /healthz answers 200 on its published port, asked from here.

    The engine's own probe runs every couple of seconds; asking directly ends the wait the
    moment the site answers, and proves the published port works too. Not for a remote
    engine. `published` remembers each container's host port between calls.
    """
    if not engine_is_local(stack):
        return False
    if container not in published:
        result = stack.docker("port", container, f"{CONTAINER_PORT}/tcp", hide=True, warn=True, echo=False)
        ports = [line.rpartition(":")[2] for line in result.stdout.split()]
        published[container] = next((int(port) for port in ports if port.isdigit()), None)
    port = published[container]
    if port is None:
        return False
    import urllib.request  # here, not at the top: `inv --list` need not pay for it

    url = f"{stack.settings.url.rpartition(':')[0]}:{port}/healthz"
    try:
        with urllib.request.urlopen(url, timeout=1) as response:
            return response.status == 200
    except OSError:
        return False


def show_last_logs(stack: Stack, service: str = WEB, lines: int = 30) -> str:
    """Print the service's last log lines to stderr; return the line that says why it stopped, or ""."""
    result = stack.compose("logs", "--no-color", "--no-log-prefix", "--tail", str(lines), service, hide=True, warn=True)
    text = (result.stdout + result.stderr).rstrip()
    # Diagnostics, like the error line that follows them: stderr, so stdout stays clean for scripts.
    print(f"--- last {lines} log lines of {service} ---", file=sys.stderr)
    print(text, file=sys.stderr, flush=True)
    return stop_reason(text.splitlines())


def stop_reason(lines: list[str]) -> str:
    """Why the container stopped, from its log: the entrypoint's last `entrypoint: error: ...` line, or
    the exception line of a later traceback; "" when the log says neither."""
    lines = [_TERMINAL_CODES.sub("", line).rstrip() for line in lines]
    lines = [line for line in lines if line.strip()]
    refusal = max((i for i, line in enumerate(lines) if line.startswith(_REFUSAL)), default=-1)
    traceback = max((i for i, line in enumerate(lines) if line.startswith("Traceback (most recent call last)")), default=-1)
    if traceback > refusal:
        # The exception's own line is the first after it that is not indented (frames and code are).
        return next((line for line in lines[traceback + 1:] if not line.startswith(" ")), "")
    return lines[refusal][len(_REFUSAL):] if refusal >= 0 else ""
