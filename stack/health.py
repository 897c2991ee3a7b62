"""Waiting until the site answers, and saying why when it never will."""

from __future__ import annotations

import itertools
import re
import sys
import time
from typing import NoReturn

from .compose import CONTAINER_PORT, WEB
from .errors import StackError
from .ports import engine_is_local
from .runner import Stack

POLL_SECONDS = 0.2
# The log is read every this many rounds (once a second), for a server that failed without exiting.
LOG_ROUNDS = 5
# Log lines read to find why a container stopped: enough for a long traceback.
READ_LINES = 200
# How docker/entrypoint.py says why it will not serve: one line, the container's own account.
_REFUSAL = "entrypoint: error: "
# What runserver logs when an edit makes it load the code again.
_RELOADING = "changed, reloading."
# A Python exception's own line: its dotted name, then a colon and the message, or nothing.
_EXCEPTION_LINE = re.compile(r"^[A-Za-z_][\w.]*(:|$)")
# Compose may put terminal control sequences (erase line) in front of a log line.
_TERMINAL_CODES = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]")


def wait_until_healthy(stack: Stack, timeout: float | None = None) -> None:
    """Poll the web containers until each answers.

    With a local engine a container counts once its /healthz answers 200 on its published
    port (the engine's own health lags behind by up to a probe); with a remote one, once the
    engine says healthy. Raises StackError as soon as a container stops, restarts or logs a
    traceback before answering (with the container's own last error line in the message and
    its last log lines above it), or after `timeout` seconds (WAIT_TIMEOUT by default).
    """
    if stack.dry:
        return
    timeout = stack.settings.wait_timeout if timeout is None else timeout
    containers = stack.container_ids(WEB)
    if not containers:
        raise StackError(f"no {WEB} container exists: run `inv up` (and `inv ps` to see the stack)")
    print(f"waiting up to {timeout:.0f}s for the site to answer...", file=sys.stderr, flush=True)
    restarts_before = {container: stack.container_state(container).restarts for container in containers}
    published: dict[str, int | None] = {}
    local = engine_is_local(stack)
    not_found = 0
    deadline = time.monotonic() + timeout
    for round_ in itertools.count():
        if not containers:
            return
        container = containers[0]
        state = stack.container_state(container)
        answer = healthz_status(stack, container, published) if local and state.status == "running" else None
        if state.status == "running" and (answer == 200 if local else state.health in ("healthy", "")):
            containers.pop(0)
            continue
        # The server answers, but not /healthz: the project is not running under the image's settings.
        not_found = not_found + 1 if answer == 404 else 0
        if not_found >= LOG_ROUNDS:
            raise StackError(
                "the site answers, but /healthz is 404: the project does not run under the image's settings "
                "layer. Does its WSGI module assign DJANGO_SETTINGS_MODULE? It must use "
                "os.environ.setdefault(...), as startproject writes it (docs/your-project.md)"
            )
        if state.status in ("exited", "dead", "missing", "restarting") or state.restarts > restarts_before[container]:
            fail_with_logs(stack, "stopped before it answered")
        # A server that failed to start may keep its container running (runserver waits for the fix).
        if round_ % LOG_ROUNDS == LOG_ROUNDS - 1 and (crash := crash_in_log(stack, container, state.started_at)):
            fail_with_logs(stack, "failed to start its server", crash)
        if time.monotonic() >= deadline:
            show_last_logs(stack)
            raise StackError(
                f"the site did not answer within {timeout:.0f}s (health: {state.health or state.status}): the "
                f"last log lines of {WEB} are above; see `inv logs {WEB}` and `inv ps`, or raise WAIT_TIMEOUT in .env"
            )
        time.sleep(POLL_SECONDS)


def front_page(stack: Stack) -> str:
    """Ask the URL `inv up` prints, as a browser would; "" when it answers 2xx or 3xx, else a note on it.

    StackError when the answer says the site cannot be used there: 400 (the host is not in
    ALLOWED_HOSTS) or a server error. Not asked of a remote engine or in a dry run.
    """
    if stack.dry or not engine_is_local(stack):
        return ""
    url = stack.settings.url
    status = http_status(url, timeout=10)
    if isinstance(status, str):
        raise StackError(f"the site is healthy, but {url} does not answer ({status}): see `inv logs web`")
    if status < 400:
        return ""
    if status == 400:
        host = url.split("//", 1)[1].rsplit(":", 1)[0].strip("[]")
        raise StackError(
            f"the site answers {url} with 400 Bad Request: Django refuses the host {host!r}. Add it to "
            f"ALLOWED_HOSTS in .env (now {stack.settings.get('ALLOWED_HOSTS') or 'empty: the project file decides'!s})"
        )
    if status >= 500:
        raise StackError(f"the site answers {url} with {status}: its last log lines say why (`inv logs web`)")
    return f"{url} answers {status}"


def fail_with_logs(stack: Stack, what: str, cause: str = "") -> NoReturn:
    cause = show_last_logs(stack) or cause
    raise StackError(
        f"the {WEB} container {what}: {cause or 'its last log lines are above'}; "
        f"fix the cause, then run `inv up` again (whole log: `inv logs {WEB}`)"
    )


def crash_in_log(stack: Stack, container: str, since: str) -> str:
    """The error a running container's server failed with (see stop_reason), or "".

    The one server that outlives such an error is runserver, which waits for the fix: once
    it says a file changed and reloads, an error before that is history, not a crash.
    """
    since_start = ["--since", since] if since else []
    result = stack.docker("logs", *since_start, "--tail", str(READ_LINES), container, hide=True, warn=True, echo=False)
    lines = [line for line in _clean((result.stdout + result.stderr).splitlines()) if line.strip()] if result.ok else []
    reason = stop_reason(lines)
    if not reason:
        return ""
    after = lines[max(i for i, line in enumerate(lines) if line.endswith(reason)) + 1:]
    return "" if any(_RELOADING in line for line in after) else reason


def answers(stack: Stack, container: str, published: dict[str, int | None]) -> bool:
    """Whether a web container's /healthz answers 200 on its published port (see healthz_status)."""
    return healthz_status(stack, container, published) == 200


def healthz_status(stack: Stack, container: str, published: dict[str, int | None]) -> int | None:
    """What a web container's /healthz answers on its published port, asked from here; None for no answer.

    The engine's own probe runs every couple of seconds; asking directly ends the wait the
    moment the site answers, and proves the published port works too. Not for a remote
    engine. `published` remembers each container's host port between calls.
    """
    if not engine_is_local(stack):
        return None
    if container not in published:
        result = stack.docker("port", container, f"{CONTAINER_PORT}/tcp", hide=True, warn=True, echo=False)
        ports = [line.rpartition(":")[2] for line in result.stdout.split()]
        published[container] = next((int(port) for port in ports if port.isdigit()), None)
    port = published[container]
    if port is None:
        return None
    status = http_status(f"{stack.settings.url.rpartition(':')[0]}:{port}/healthz", timeout=1)
    return status if isinstance(status, int) else None


def http_status(url: str, timeout: float = 5) -> int | str:
    """The status `url` answers, asked directly (no proxy), a redirect not followed (it is an answer:
    to https://, to a login page); why nothing came back, as text, when there is no answer."""
    import urllib.error
    import urllib.request  # here, not at the top: `inv --list` need not pay for it

    class NoRedirect(urllib.request.HTTPRedirectHandler):
        def redirect_request(self, *args, **kwargs):
            return None

    opener = urllib.request.build_opener(NoRedirect, urllib.request.ProxyHandler({}))
    try:
        with opener.open(url, timeout=timeout) as response:
            return response.status
    except urllib.error.HTTPError as error:
        return error.code
    except OSError as error:
        return str(getattr(error, "reason", error))


def show_last_logs(stack: Stack, service: str = WEB, lines: int = 30) -> str:
    """Print the service's last log lines to stderr; return the line that says why it stopped, or ""."""
    # More is read than shown: a traceback's first line may lie further back than its last.
    result = stack.compose("logs", "--no-color", "--no-log-prefix", "--tail", str(READ_LINES), service, hide=True, warn=True)
    text = (result.stdout + result.stderr).rstrip().splitlines()
    # Diagnostics, like the error line that follows them: stderr, so stdout stays clean for scripts.
    print(f"--- last {lines} log lines of {service} ---", file=sys.stderr)
    print("\n".join(text[-lines:]), file=sys.stderr, flush=True)
    return stop_reason(text)


def stop_reason(lines: list[str]) -> str:
    """Why the container stopped, from its log: the entrypoint's last `entrypoint: error: ...` line, or
    the exception line of a later traceback; "" when the log says neither."""
    lines = [line for line in _clean(lines) if line.strip()]
    refusal = max((i for i, line in enumerate(lines) if line.startswith(_REFUSAL)), default=-1)
    traceback = max((i for i, line in enumerate(lines) if line.startswith("Traceback (most recent call last)")), default=-1)
    if traceback > refusal:
        # The exception's own line: frames and code are indented, and log lines of other threads
        # may come in between.
        return next((line for line in lines[traceback + 1:] if _EXCEPTION_LINE.match(line)), "")
    return lines[refusal][len(_REFUSAL):] if refusal >= 0 else ""


def _clean(lines: list[str]) -> list[str]:
    return [_TERMINAL_CODES.sub("", line).rstrip() for line in lines]
