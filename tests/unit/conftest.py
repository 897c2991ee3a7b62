"""Shared fixtures for the unit tests: a throwaway project root, its settings, and a scripted docker.

Nothing here needs a Docker engine: every command the tasks would run goes to an
Invoke MockContext, which answers from a table of regexes and records each call.
"""

from __future__ import annotations

import contextlib
import http.server
import os
import re
import shlex
import shutil
import textwrap
import threading
from pathlib import Path

import pytest
from invoke import Config, MockContext, Result

from stack import health, runner
from stack.engine import Engine
from stack.settings import Settings, load_settings

REPO = Path(__file__).resolve().parents[2]

# Patterns for the quiet look-ups the tasks make (MockContext matches them with re.match).
IMAGE_INSPECT = r"docker image inspect "
# The web container, only if it is running.
RUNNING_WEB = r"docker compose .*ps --status running --format .* web$"
# The web container in any state.
CONTAINER_ID = r"docker compose .*ps --all --format .* web$"
CONTAINER_STATE = r"docker inspect "
VOLUME_LS = r"docker volume ls "
# The build every command that runs the image starts with: BuildKit makes it cheap when nothing changed.
BUILD_WEB = ["docker", "compose", "--env-file", os.devnull, "build", "web"]
# Answers to them: a web container that exists, and one that is running.
WEB_UP = (CONTAINER_ID, Result("c0ffee\n"))
WEB_RUNNING = (RUNNING_WEB, Result("c0ffee\n"))


def write(root: Path, text: str, name: str = ".env") -> Path:
    path = root / name
    path.write_text(textwrap.dedent(text).lstrip("\n"), encoding="utf-8")
    return path


def mock_context(*responses, dry: bool = False, remainder: str = "") -> MockContext:
    """A context whose `run` answers the first matching (regex, result) pair, else succeeds with no output.

    A result may be a list: successive calls get successive items (cycling).
    """
    table = {re.compile(pattern): result for pattern, result in responses}
    table[re.compile(".*", re.DOTALL)] = Result("")
    c = MockContext(config=Config(overrides={"run": {"dry": dry}}), run=table, repeat=True)
    c.remainder = remainder
    return c


def stack(settings: Settings, engine: Engine, *responses, dry: bool = False) -> runner.Stack:
    """A Stack whose commands go to a scripted MockContext (see mock_context)."""
    return runner.Stack(mock_context(*responses, dry=dry), settings, engine)


@contextlib.contextmanager
def http_server(answer):
    """A server on 127.0.0.1 answering each GET with the status `answer(path)` returns (a redirect elsewhere)."""

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self):
            status = answer(self.path)
            self.send_response(status)
            if 300 <= status < 400:
                self.send_header("Location", "https://elsewhere.invalid/")
            self.end_headers()

        def log_message(self, *args):
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield server
    finally:
        server.shutdown()
        server.server_close()


def calls(c: MockContext) -> list[tuple[list[str], dict]]:
    """Every command handed to c.run, split back into its argument list, with the keyword arguments."""
    return [(shlex.split(call.args[0]), call.kwargs) for call in c.run.call_args_list]


def shown(c: MockContext) -> list[list[str]]:
    """The commands a user sees run (the quiet look-ups left out)."""
    return [argv for argv, kwargs in calls(c) if not kwargs.get("hide")]


def ran(c: MockContext, *words: str) -> bool:
    """Whether any command contained these words in this order, next to each other."""
    n = len(words)
    return any(argv[i : i + n] == list(words) for argv, _ in calls(c) for i in range(len(argv) - n + 1))


class FakeClock:
    """Stands in for the `time` module in stack.health, so waiting and timeouts take no real time."""

    def __init__(self) -> None:
        self.now = 1000.0
        self.sleeps: list[float] = []

    def monotonic(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds


@pytest.fixture(autouse=True)
def host(monkeypatch):
    """No test may depend on the terminal pytest runs in, or on a DOCKER_HOST of the machine."""
    tty = {"value": False}
    monkeypatch.setattr(runner, "stdin_is_terminal", lambda: tty["value"])
    monkeypatch.delenv("DOCKER_HOST", raising=False)

    class Host:
        @staticmethod
        def set_tty(value: bool) -> None:
            tty["value"] = value

    return Host


@pytest.fixture
def clock(monkeypatch) -> FakeClock:
    fake = FakeClock()
    monkeypatch.setattr(health, "time", fake)
    return fake


def make_project(root: Path) -> Path:
    (root / "site").mkdir(parents=True)
    (root / "site" / "manage.py").write_text("")
    shutil.copy(REPO / ".env.example", root / ".env.example")
    return root


@pytest.fixture
def project_root(tmp_path) -> Path:
    return make_project(tmp_path / "proj")


@pytest.fixture(scope="session")
def settings(tmp_path_factory):
    """load_settings of a project holding only .env.example, shared: Settings is frozen and no test writes there.

    Read once per session: python-dotenv is slow enough that parsing .env.example for
    every test would dominate the suite. Tests that write a .env use `project_root`.
    """
    return load_settings(make_project(tmp_path_factory.mktemp("shared") / "proj"), {})


@pytest.fixture
def engine() -> Engine:
    return Engine(("docker",))


@pytest.fixture
def compose_prefix() -> list[str]:
    return ["docker", "compose", "--env-file", os.devnull]
