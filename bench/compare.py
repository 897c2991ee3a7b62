"""This project's image and stack side by side with the classic tutorial Dockerfile, in one run.

`inv bench` calls `run()`. Everything happens in a scratch copy of the project, with its own
Compose project name, ports and image tags, all removed at the end: your `.env`, containers,
volumes and images are not touched. One thing is shared with the rest of the machine: before
each of our cold builds BuildKit's cache mounts (pip's download cache) are emptied, because
the tutorial downloads every package too; your next build downloads them again.

Both build contexts are made realistic the same way: a `.git` directory, a virtualenv and a
50 MB migrated SQLite database in the Django project directory, as a developer's checkout has.
The tutorial image runs as the tutorial says (`docker run -p`, its CMD, settings as
`startproject` leaves them: DEBUG on); ours runs in production mode through `inv`.
"""

from __future__ import annotations

import http.client
import os
import platform
import re
import shlex
import shutil
import sqlite3
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
import uuid
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

from devtools import load
from devtools.scratch import copy_checkout, free_ports
from devtools.servers import WEB_SERVERS
from stack.engine import Engine
from stack.errors import StackError
from stack.settings import Settings

from .report import NOT_ABOVE_BASELINE, Figures, at_least_times, at_most, at_most_fraction

TUTORIAL_DOCKERFILE = Path(__file__).with_name("tutorial.Dockerfile")
# The production servers WEB_SERVER selects; the first is the image's default.
SERVERS = WEB_SERVERS
# What each URL makes the site do; the targets differ accordingly.
# (/healthz is the image's, not the site's: the tutorial has none to compare.)
PATHS = {"/": "reads the database", "/robots.txt": "no query"}
# The developer's local database in both build contexts, in MB.
DATABASE_MB = 50
# Targets on req/s, as multiples of the tutorial's runserver.
RPS_TARGETS = {"/": at_least_times(3.5), "/robots.txt": at_least_times(8)}
POLL_SECONDS = 0.05
START_TIMEOUT = 180.0


class BenchError(StackError):
    """Something the benchmark needs is missing or broke: one line, no traceback."""


@dataclass(frozen=True)
class Options:
    repeat: int = 3
    duration: int = 15
    connections: int = 32
    servers: tuple[str, ...] = SERVERS
    warmup: int = 3


def parse_servers(text: str) -> tuple[str, ...]:
    names = tuple(name.strip() for name in text.split(",") if name.strip()) or SERVERS
    unknown = [name for name in names if name not in SERVERS]
    if unknown:
        raise BenchError(f"unknown server {unknown[0]!r}: choose from {', '.join(SERVERS)}")
    return names


def check_options(options: Options) -> None:
    """Refuse what cannot run, before anything is built: numbers below 1, no load generator."""
    for name, value in (("--repeat", options.repeat), ("--duration", options.duration),
                        ("--connections", options.connections)):
        if value < 1:
            raise BenchError(f"{name} must be at least 1, got {value}")
    try:
        load.wrk_command()
    except load.LoadError as error:
        raise BenchError(str(error)) from None


def log(message: str) -> None:
    print(f"bench: {message}", file=sys.stderr, flush=True)


def run_command(argv: list[str], *, env: dict[str, str] | None = None, cwd: Path | None = None,
                check: bool = True, timeout: float = 1800) -> subprocess.CompletedProcess[str]:
    try:
        result = subprocess.run(argv, env=env, cwd=cwd, capture_output=True, text=True, timeout=timeout,
                                stdin=subprocess.DEVNULL)
    except subprocess.TimeoutExpired:
        raise BenchError(f"`{shlex.join(argv)}` did not finish within {timeout:.0f} s") from None
    if check and result.returncode != 0:
        lines = (result.stderr + result.stdout).strip().splitlines() or [f"exit status {result.returncode}"]
        raise BenchError(f"`{shlex.join(argv)}` failed: {lines[-1].strip()}")
    return result


def timed(action: Callable[[], object]) -> float:
    start = time.monotonic()
    action()
    return time.monotonic() - start


def timed_while_polling(action: Callable[[], object], url: str) -> tuple[float, float | None]:
    """Seconds `action` took, and seconds from its start until `url` first answered 200 (None if it did not).

    What `action` raises is raised at once.
    """
    started = time.monotonic()
    failed = threading.Event()
    with ThreadPoolExecutor(max_workers=1) as pool:
        poll = pool.submit(first_200, url, started, stop=failed)
        try:
            seconds = timed(action)
        except BaseException:
            # Or leaving the pool would wait out the poll's timeout before the error, or Ctrl-C, is seen.
            failed.set()
            raise
        return seconds, poll.result()


def first_200(url: str, started: float, timeout: float = START_TIMEOUT,
              stop: threading.Event | None = None) -> float | None:
    """Seconds from `started` until `url` answers 200, polling every 50 ms.

    None if it does not within `timeout`, or once `stop` is set.
    """
    while time.monotonic() - started < timeout and not (stop and stop.is_set()):
        try:
            with urllib.request.urlopen(url, timeout=1) as response:
                if response.status == 200:
                    return time.monotonic() - started
        # Refused, reset, an HTTP error status, or an answer cut short by a server still starting.
        except (OSError, http.client.HTTPException):
            pass
        time.sleep(POLL_SECONDS)
    return None


class MemoryPeak:
    """The highest total memory of some containers, read from `docker stats` while it runs."""

    _USAGE = re.compile(r"^([0-9.]+)\s*([KMGT]?i?B)\s*/")
    _UNITS = {"B": 1, "KiB": 2**10, "MiB": 2**20, "GiB": 2**30, "TiB": 2**40,
              "kB": 1e3, "KB": 1e3, "MB": 1e6, "GB": 1e9, "TB": 1e12}

    def __init__(self, docker: list[str], containers: list[str]) -> None:
        self.peak = 0.0
        self._latest: dict[str, float] = {}
        self._process = subprocess.Popen(
            [*docker, "stats", "--format", "{{.ID}} {{.MemUsage}}", *containers],
            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, stdin=subprocess.DEVNULL, text=True,
        )
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        for line in self._process.stdout:
            # A streaming `docker stats` clears the screen between frames.
            line = re.sub(r"\x1b\[[0-9;]*[A-Za-z]", "", line).strip()
            container, _, usage = line.partition(" ")
            match = self._USAGE.match(usage)
            if match and match.group(2) in self._UNITS:
                self._latest[container] = float(match.group(1)) * self._UNITS[match.group(2)]
                self.peak = max(self.peak, sum(self._latest.values()))

    def stop(self) -> float:
        """The peak in MiB."""
        self._process.terminate()
        self._process.wait(timeout=10)
        self._reader.join(timeout=5)
        return self.peak / 2**20


class Bench:
    """One run: the scratch copies, the images and containers it made, and the figures."""

    def __init__(self, root: Path, settings: Settings, engine: Engine, options: Options) -> None:
        self.root = root
        self.settings = settings
        self.options = options
        self.engine = engine
        self.docker = list(engine.docker)
        self.figures = Figures()
        run_id = uuid.uuid4().hex[:6]
        self.name = f"bench{run_id}"
        self.scratch = Path(tempfile.mkdtemp(prefix="django-docker-bench-"))
        self.ours = self.scratch / "ours"
        self.tutorial = self.scratch / "tutorial"
        self.tutorial_image = f"{self.name}-tutorial:latest"
        self.tutorial_base = settings.base_image
        self.tutorial_container = f"{self.name}-tutorial"
        self.ours_port = free_ports()
        self.tutorial_port = free_ports()
        self.built_images: set[str] = set()
        # What the scratch copy's `inv` gets on top of this environment: this machine's engine
        # settings from your .env, then the comparison's own project, port and mode.
        self.env = {
            **os.environ,
            "DOCKER": shlex.join(engine.docker),
            "BASE_IMAGE": settings.base_image,
            "COMPOSE_PROJECT_NAME": self.name,
            "IMAGE_NAME": f"{self.name}-web",
            "IMAGE_TAG": "latest",
            "WEB_BIND": "127.0.0.1",
            "WEB_PORT": str(self.ours_port),
            "ENVIRONMENT": "production",
            "DATABASE": "sqlite",
            "ECHO_COMMANDS": "false",
        }
        for name in ("DEBUG", "DJANGO_PROJECT_DIR", "WEB_CONCURRENCY", "WEB_THREADS", "WEB_SERVER"):
            self.env.pop(name, None)
        if settings.extra_ca_cert is not None:
            self.env["EXTRA_CA_CERT"] = str(settings.extra_ca_cert.resolve())
        if settings.get("DOCKER_HOST"):
            self.env["DOCKER_HOST"] = settings.get("DOCKER_HOST")

    # ---- the scratch copies ----

    def prepare(self) -> None:
        log(f"scratch copies in {self.scratch}")
        try:
            copy_checkout(self.root, self.ours)
            # The tutorial's layout: Dockerfile and requirements.txt beside manage.py.
            copy_checkout(self.root / "site", self.tutorial)
        except RuntimeError as error:
            raise BenchError(str(error)) from None
        project = self.ours / "site"
        # The same packages as ours: the site's own, then the runtime's (servers and drivers it never runs).
        runtime = (self.root / "requirements.txt").read_text()
        (self.tutorial / "requirements.txt").write_text((project / "requirements.txt").read_text() + runtime)
        shutil.copy2(TUTORIAL_DOCKERFILE, self.tutorial / "Dockerfile")
        database = project / "db.sqlite3"
        self.make_database(database)
        shutil.copy2(database, self.tutorial / "db.sqlite3")
        for checkout in (self.ours, self.tutorial):
            self.add_git_directory(checkout)
            run_command([sys.executable, "-m", "venv", str(checkout / ".venv")])
        if self.settings.extra_ca_cert is not None:
            self.tutorial_base = self.build_tutorial_base()

    def make_database(self, path: Path) -> None:
        """A developer's local database at `path`, the site's own (BASE_DIR/db.sqlite3): migrated, then padded to 50 MB."""
        env = {**os.environ, "DJANGO_SETTINGS_MODULE": "config.settings"}
        try:
            run_command([sys.executable, "manage.py", "migrate", "--noinput", "--verbosity", "0"],
                        env=env, cwd=path.parent)
        except BenchError as error:
            raise BenchError(f"cannot migrate a local database for the build context ({error}); "
                             "run `inv bench` from the virtualenv with requirements-dev.txt installed") from None
        with sqlite3.connect(path) as database:
            database.execute("CREATE TABLE local_padding (data BLOB)")
            for _ in range(DATABASE_MB):
                database.execute("INSERT INTO local_padding VALUES (randomblob(1048576))")

    def add_git_directory(self, checkout: Path) -> None:
        if (self.root / ".git").is_dir():
            shutil.copytree(self.root / ".git", checkout / ".git", symlinks=True)
        elif shutil.which("git"):
            run_command(["git", "init", "--quiet", str(checkout)])

    def build_tutorial_base(self) -> str:
        """The base image plus this machine's extra CA for pip, which the tutorial has no other way to get.

        Only when your .env or environment names one (PIP_CERT, EXTRA_CA_CERT): a proxy that
        intercepts TLS would otherwise fail the tutorial's pip install.
        """
        context = self.scratch / "tutorial-base"
        context.mkdir()
        shutil.copy2(self.settings.extra_ca_cert, context / "extra-ca.pem")
        (context / "Dockerfile").write_text(
            "ARG BASE_IMAGE\nFROM ${BASE_IMAGE}\nCOPY extra-ca.pem /usr/local/share/extra-ca.pem\n"
            "ENV PIP_CERT=/usr/local/share/extra-ca.pem\n"
        )
        tag = f"{self.name}-tutorial-base:latest"
        self.docker_build(context, tag, base=self.settings.base_image)
        return tag

    # ---- the commands ----

    def inv(self, *args: str, env: dict[str, str] | None = None, check: bool = True) -> subprocess.CompletedProcess[str]:
        return run_command([sys.executable, "-m", "invoke", *args], env={**self.env, **(env or {})},
                           cwd=self.ours, check=check)

    def docker_run(self, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        return run_command([*self.docker, *args], check=check)

    def docker_build(self, context: Path, tag: str, *, base: str, no_cache: bool = False) -> None:
        run_command(
            [*self.docker, "build", "--quiet", "--build-arg", f"BASE_IMAGE={base}", "--tag", tag,
             *(["--no-cache"] if no_cache else []), str(context)],
            env={**os.environ, "DOCKER_BUILDKIT": "1"},
        )
        self.remember_image(tag)

    def remember_image(self, tag: str) -> None:
        result = self.docker_run("image", "inspect", "--format", "{{.Id}}", tag, check=False)
        if result.returncode == 0:
            self.built_images.add(result.stdout.strip())

    def image_bytes(self, image: str) -> int:
        return int(self.docker_run("image", "inspect", "--format", "{{.Size}}", image).stdout.strip())

    def web_containers(self) -> list[str]:
        return self.docker_run(
            "ps", "--quiet", "--filter", f"label=com.docker.compose.project={self.name}",
            "--filter", "label=com.docker.compose.service=web",
        ).stdout.split()

    # ---- one repetition ----

    def repetition(self, number: int) -> None:
        log(f"repetition {number} of {self.options.repeat}: builds")
        self.builds(number)
        log(f"repetition {number}: start to first 200")
        self.starts()
        self.inv_timings()
        tutorial = self.serve_tutorial()
        for server in self.options.servers:
            log(f"repetition {number}: {server} under load")
            self.serve_ours(server, tutorial)

    def builds(self, number: int) -> None:
        cold = self.figures.row("cold_build", "cold build (no cache, base present)", "s")
        cold.base.append(timed(lambda: self.docker_build(self.tutorial, self.tutorial_image, base=self.tutorial_base,
                                                         no_cache=True)))
        # Ours caches pip's downloads between builds; a cold build starts without them.
        self.docker_run("builder", "prune", "--force", "--filter", "type=exec.cachemount")
        cold.ours.append(timed(lambda: self.inv("build", "--no-cache")))
        self.remember_image(f"{self.name}-web:latest")

        warm = self.figures.row("warm_rebuild", "rebuild after a one-line view edit", "s",
                                target=at_most(1, "s", and_baseline=True))
        for checkout in (self.ours / "site", self.tutorial):
            with (checkout / "guestbook" / "views.py").open("a") as view:
                # Never seen before, or BuildKit would find the layers of an earlier run in its cache.
                view.write(f"# edited for the benchmark {self.name}, repetition {number}\n")
        warm.base.append(timed(lambda: self.docker_build(self.tutorial, self.tutorial_image, base=self.tutorial_base)))
        warm.ours.append(timed(lambda: self.inv("build")))
        self.remember_image(f"{self.name}-web:latest")

        ours, tutorial = self.image_bytes(f"{self.name}-web:latest"), self.image_bytes(self.tutorial_image)
        size = self.figures.row("image_size", "image size", "MB")
        size.ours.append(ours / 1e6)
        size.base.append(tutorial / 1e6)
        added = self.figures.row("image_added", "size added over the base image", "MB", target=NOT_ABOVE_BASELINE)
        added.ours.append((ours - self.image_bytes(self.settings.base_image)) / 1e6)
        added.base.append((tutorial - self.image_bytes(self.tutorial_base)) / 1e6)

    def starts(self) -> None:
        first = self.figures.row("first_200", "start to first 200 on /", "s",
                                 note="ours: `inv up` on a fresh volume, migrations included")
        self.docker_run("rm", "--force", self.tutorial_container, check=False)
        started = time.monotonic()
        # The site's settings as `startproject` writes them (DEBUG on, a fixed key), as they are.
        self.docker_run("run", "--detach", "--name", self.tutorial_container,
                        "--publish", f"127.0.0.1:{self.tutorial_port}:8000", self.tutorial_image)
        seconds = first_200(self.tutorial_url("/"), started)
        if seconds is None:
            first.note += "; the tutorial's / never answered 200"
        else:
            first.base.append(seconds)

        self.inv("down", "--volumes", "--yes")
        up = self.figures.row("up_healthy", "`inv up` until healthy (warm image)", "s", baseline="",
                              target=at_most(5, "s"))
        took, answered = timed_while_polling(lambda: self.inv("up"), self.ours_url("/"))
        up.ours.append(took)
        if answered is not None:
            first.ours.append(answered)

    def inv_timings(self) -> None:
        python = median_seconds([sys.executable, "-c", "pass"], self.env, self.ours)
        commands = (
            ("inv_list", "`inv --list`", ["-m", "invoke", "--list"], at_most(150, "ms")),
            ("inv_ps", "`inv ps`", ["-m", "invoke", "ps"], None),
            # The floor under every `inv` command, whatever tasks.py does.
            ("import_invoke", "`python -c 'import invoke'`", ["-c", "import invoke"], None),
        )
        for key, label, args, target in commands:
            row = self.figures.row(key, label, "ms", baseline="python -c pass", target=target)
            row.ours.append(1000 * median_seconds([sys.executable, *args], self.env, self.ours))
            row.base.append(1000 * python)

    def serve_tutorial(self) -> dict[str, float]:
        figures = self.under_load(self.tutorial_url, [self.tutorial_container])
        figures["stop"] = timed(lambda: self.docker_run("stop", self.tutorial_container))
        self.docker_run("rm", "--force", self.tutorial_container)
        return figures

    def serve_ours(self, server: str, tutorial: dict[str, float]) -> None:
        self.inv("up", env={"WEB_SERVER": server})
        ours = self.under_load(self.ours_url, self.web_containers())
        ours["stop"] = timed(lambda: self.docker_run("stop", *self.web_containers()))
        name = server + (" (default)" if server == SERVERS[0] else "")
        for path, effect in PATHS.items():
            for figure, label, unit, target in (
                ("rps", "req/s", "req/s", RPS_TARGETS.get(path)),
                ("p50", "p50", "ms", None),
                ("p99", "p99", "ms", at_most_fraction(0.1)),
            ):
                row = self.figures.row(f"{figure} {path} {server}", f"{label} on {path} ({effect}), {name}", unit,
                                       baseline="runserver", target=target)
                row.ours.append(ours[f"{figure} {path}"])
                row.base.append(tutorial[f"{figure} {path}"])
                failed = {side: int(figures[f"errors {path}"]) for side, figures in (("ours", ours), ("tutorial", tutorial))}
                if any(failed.values()):
                    row.note = ", ".join(f"{count} failed requests ({side})" for side, count in failed.items() if count)
        for key, label, unit in (("memory", "peak memory under load", "MiB"), ("stop", "`docker stop`", "s")):
            row = self.figures.row(f"{key} {server}", f"{label}, {name}", unit, baseline="runserver")
            row.ours.append(ours[key])
            row.base.append(tutorial[key])

    def under_load(self, url: Callable[[str], str], containers: list[str]) -> dict[str, float]:
        figures: dict[str, float] = {}
        for path in PATHS:
            load.measure(url(path), duration=self.options.warmup, connections=self.options.connections)
        memory = MemoryPeak(self.docker, containers)
        try:
            for path in PATHS:
                result = load.measure(url(path), duration=self.options.duration, connections=self.options.connections)
                figures.update({f"rps {path}": result.requests_per_second, f"p50 {path}": result.p50_ms,
                                f"p99 {path}": result.p99_ms, f"errors {path}": result.errors})
        finally:
            figures["memory"] = memory.stop()
        return figures

    def ours_url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.ours_port}{path}"

    def tutorial_url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.tutorial_port}{path}"

    # ---- the end ----

    def facts(self) -> dict[str, str]:
        return {
            **machine_facts(self.engine),
            "base image": self.settings.base_image,
            "python (host)": platform.python_version(),
            "runs": f"{self.options.repeat} repetitions, load {self.options.duration} s per URL at "
                    f"{self.options.connections} connections after a {self.options.warmup} s warm-up, "
                    "wrk on the same machine",
        }

    def clean_up(self) -> None:
        log("cleaning up")
        self.docker_run("rm", "--force", self.tutorial_container, check=False)
        if self.ours.exists():
            self.inv("down", "--volumes", "--yes", check=False)
        # Only what this run built: never the base image, whatever tag it came under.
        base = self.docker_run("image", "inspect", "--format", "{{.Id}}", self.settings.base_image, check=False)
        for image in self.built_images - {base.stdout.strip()}:
            self.docker_run("rmi", "--force", image, check=False)
        shutil.rmtree(self.scratch, ignore_errors=True)


def machine_facts(engine: Engine) -> dict[str, str]:
    """What the line under a table says of the machine: cores (and CPU model), memory, kernel, engine and Compose versions."""

    def first_line(argv: list[str]) -> str:
        result = run_command(argv, check=False)
        return (result.stdout.strip().splitlines() or ["unknown"])[0]

    cpus = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    model = next((line.split(":", 1)[1].strip() for line in _read_lines("/proc/cpuinfo")
                  if line.startswith("model name")), platform.machine())
    memory = next((line.split()[1] for line in _read_lines("/proc/meminfo") if line.startswith("MemTotal")), "")
    return {
        "cores": f"{cpus} ({model})",
        "memory": f"{int(memory) / 2**20:.1f} GiB" if memory else "unknown",
        "kernel": platform.release(),
        "docker engine": first_line([*engine.docker, "version", "--format", "{{.Server.Version}}"]),
        "compose": first_line([*engine.compose, "version", "--short"]),
    }


def median_seconds(argv: list[str], env: dict[str, str], cwd: Path, times: int = 7) -> float:
    samples = sorted(timed(lambda: run_command(argv, env=env, cwd=cwd)) for _ in range(times))
    return samples[len(samples) // 2]


def _read_lines(path: str) -> list[str]:
    try:
        return Path(path).read_text().splitlines()
    except OSError:
        return []


def run(root: Path, settings: Settings, engine: Engine, options: Options, output: Path) -> Figures:
    """Measure, print the Markdown table, and write it and the JSON under `output`.

    `options` are the ones `check_options` accepted.
    """
    bench = Bench(root, settings, engine, options)
    try:
        bench.prepare()
        for number in range(1, options.repeat + 1):
            bench.repetition(number)
        facts = bench.facts()
    except load.LoadError as error:
        raise BenchError(str(error)) from None
    finally:
        bench.clean_up()
    output.mkdir(parents=True, exist_ok=True)
    table = bench.figures.markdown(facts)
    (output / "bench.md").write_text(table + "\n")
    (output / "bench.json").write_text(bench.figures.as_json(facts) + "\n")
    print(table)
    log(f"saved {output / 'bench.md'} and {output / 'bench.json'}")
    return bench.figures
