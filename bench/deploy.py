"""Releases on a three-node Swarm lab, timed: `python -m bench.deploy [--releases N] [--output DIR]`.

`inv bench --deploy` runs it. It starts a lab (devtools/swarmlab.py) with node 1's port 8080
published, makes a scratch copy of the project with a git repository of its own and a `.env`
for the lab (production, PostgreSQL, three web replicas, uploads in the lab's shared folder),
and drives it through `inv push` and `inv deploy` as a team would:

1. the first deploy (the stack, the database, the migrations, three replicas);
2. N good releases, each a new heading on the front page: `inv push` timed, then `inv deploy`
   timed under continuous load (wrk in 5 s rounds), every request and failure counted;
3. one release whose /healthz answers 503 while its pages work: the time until `inv deploy`
   exits non-zero because Swarm rolled it back, the requests failed meanwhile, and the release
   serving afterwards (it should be the one before).

Each `inv deploy` is also split into its phases (the migrations job, the rolling update) by the
lines it prints as it begins them. It prints a Markdown table and writes it with every figure as
JSON (bench-deploy.md and bench-deploy.json under --output). Figures are printed, never judged
by an exit status: the status is 0 with the table, else one `error:` line. The lab, the scratch
copy and the images the builds tagged on this engine are removed at the end, also after a
failure or Ctrl-C.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import re
import shlex
import shutil
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import uuid
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Callable, TypeVar

from dotenv import dotenv_values

from devtools import load
from devtools.releases import UNHEALTHY_WSGI
from devtools.scratch import copy_checkout
from devtools.swarmlab import DIRECT, LabError, SwarmLab
from stack.engine import Engine, check_daemon, find_engine
from stack.errors import StackError
from stack.settings import Settings, load_settings

from .compare import BenchError, log, machine_facts, run_command, timed
from .report import number, spread

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_RELEASES = 3
DEFAULT_OUTPUT = Path("bench-results")
# Node 1's port the proxy publishes (host mode); the lab publishes it on 127.0.0.1.
DEPLOY_PORT = 8080
WEB_REPLICAS = 3
# The load during a release, as the deploy tests put it: a steady stream of requests rather than
# the most the site can take, in rounds short enough to end soon after the release does.
LOAD = {"duration": 5, "connections": 8, "threads": 2, "timeout": 15}
# Load goes on this long after `inv deploy` returns: a replica stopped at its very end shows here.
AFTER_SECONDS = 2
TEMPLATE = "site/guestbook/templates/guestbook/index.html"
WSGI = "site/config/wsgi.py"
# What the scratch copy's commits are made as.
GIT_IDENTITY = {"GIT_AUTHOR_NAME": "Deploy Benchmark", "GIT_AUTHOR_EMAIL": "bench@example.com",
                "GIT_COMMITTER_NAME": "Deploy Benchmark", "GIT_COMMITTER_EMAIL": "bench@example.com"}
# Names that say where the engine and the images are: kept from the caller's environment. Every
# other name .env.example documents is dropped, so a developer's shell changes nothing here.
MACHINE_VARIABLES = {"DOCKER", "BASE_IMAGE", "POSTGRES_IMAGE", "EXTRA_CA_CERT"}

FIRST, GOOD, FAILING = "first", "good", "failing"
T = TypeVar("T")
# The lines `inv deploy` prints on stderr as it begins a step (stack/deploy.py's `say`), and the
# phase each begins; what comes before the first is PREPARATION (settings, the Swarm, secrets).
PREPARATION = "preparation"
PHASES = (
    ("deploy: first deploy: creating the stack", "stack and database"),
    ("deploy: running the migrations", "migrations"),
    ("deploy: replacing the web replicas", "rolling update"),
)


@dataclass(frozen=True)
class Options:
    releases: int = DEFAULT_RELEASES
    output: Path = DEFAULT_OUTPUT


@dataclass
class Release:
    """One `inv push` and `inv deploy` of the scratch copy, and what the load saw meanwhile.

    number         1 for the first deploy, then one more per commit
    kind           FIRST, GOOD or FAILING (its /healthz answers 503)
    name           the release: the commit's short sha, as `inv push` tags it
    push_seconds   `inv push` (the production build, then the push to the lab registry)
    deploy_seconds `inv deploy`, until it exited (non-zero for a rolled back release)
    exit_status    `inv deploy`'s
    requests       requests wrk completed during the deploy and AFTER_SECONDS after it; None without load
    failed         of those, responses outside 2xx and socket errors; None without load
    worst_p99_ms   the highest p99 of a 5 s round; None without load
    serving        the release the web service ran afterwards ("" if none)
    expected       the release that should serve afterwards: its own, or the one before for FAILING
    said           `inv deploy`'s last line on stderr when it failed
    phases         seconds of `inv deploy` per phase (PREPARATION, then PHASES' names), in its order
    """

    number: int
    kind: str
    name: str
    push_seconds: float
    deploy_seconds: float
    exit_status: int = 0
    requests: int | None = None
    failed: int | None = None
    worst_p99_ms: float | None = None
    serving: str = ""
    expected: str = ""
    said: str = ""
    phases: dict[str, float] = field(default_factory=dict)

    @property
    def served_as_expected(self) -> bool:
        return bool(self.serving) and self.serving == self.expected


@dataclass
class Figure:
    """One line of the summary: samples in `unit`, or `text` for what is not a number; `met` against `target`."""

    key: str
    label: str
    unit: str = ""
    samples: list[float] = field(default_factory=list)
    text: str = ""
    target: str = ""
    met: bool | None = None

    def value(self) -> str:
        return self.text or spread(self.samples, self.unit)


def parse_options(argv: list[str] | None = None) -> Options:
    """The options of `python -m bench.deploy`; BenchError for a number below 1 (argparse exits 2 on a malformed one)."""
    parser = argparse.ArgumentParser(prog="python -m bench.deploy",
                                     description="Releases on a three-node Swarm lab: deploy time, failed requests, time to rollback.")
    parser.add_argument("--releases", type=int, default=DEFAULT_RELEASES,
                        help=f"good releases under load, after the first deploy (default {DEFAULT_RELEASES})")
    parser.add_argument("--output", type=Path, default=DEFAULT_OUTPUT,
                        help=f"directory for bench-deploy.md and .json, relative to the project (default {DEFAULT_OUTPUT})")
    args = parser.parse_args(argv)
    if args.releases < 1:
        raise BenchError(f"--releases must be at least 1, got {args.releases}")
    return Options(releases=args.releases, output=args.output)


def with_heading(html: str, heading: str) -> str:
    """`html` with the text of its first <h1> replaced by `heading`; ValueError when it has none."""
    changed, count = re.subn(r"<h1>[^<]*</h1>", f"<h1>{heading}</h1>", html, count=1)
    if not count:
        raise ValueError("the template has no <h1> to change")
    return changed


def heading_of(number: int) -> str:
    return f"Guestbook, release {number}"


def phase_seconds(lines: list[tuple[float, str]], began: float, ended: float) -> dict[str, float]:
    """Seconds per phase of a command that ran from `began` to `ended` (time.monotonic()),
    from its stderr `lines` as (when it came, text): each line of PHASES starts its phase.

    {PREPARATION: s, "migrations": s, "rolling update": s}, in order, without the phases it never began.
    """
    starts = [(began, PREPARATION)]
    for when, text in lines:
        for prefix, phase in PHASES:
            if text.startswith(prefix):
                starts.append((when, phase))
    ends = [when for when, _ in starts[1:]] + [ended]
    return {phase: end - start for (start, phase), end in zip(starts, ends)}


def release_of(image: str) -> str:
    """The release (the tag) of a service's image `registry/name:release@sha256:...`; "" without a tag."""
    name = image.partition("@")[0]
    last = name.rpartition("/")[2]
    return last.partition(":")[2]


# ---- the table ----


def summary(releases: list[Release]) -> list[Figure]:
    """The figures the benchmark is for, from the releases in the order they were made."""
    first = [r for r in releases if r.kind == FIRST]
    good = [r for r in releases if r.kind == GOOD]
    failing = [r for r in releases if r.kind == FAILING]
    figures = []
    if first:
        figures.append(Figure("first_deploy", "first deploy (`inv deploy`: stack, database, migrations, "
                                              f"{WEB_REPLICAS} replicas)", "s", [first[0].deploy_seconds]))
    later = good + failing
    if later:
        figures.append(Figure("push", "`inv push` of a release (production build, push)", "s",
                              [r.push_seconds for r in later]))
    if good:
        figures.append(Figure("release", "release time (`inv deploy`, replicas replaced one at a time)", "s",
                              [r.deploy_seconds for r in good]))
        figures += phase_figures("release", good, ("migrations", "rolling update"))
        figures.append(failed_figure("release_failed", f"failed requests during the {len(good)} "
                                     f"release{'s' if len(good) != 1 else ''}", good))
    for release in failing:
        figures.append(Figure("rollback", "time to automatic rollback (`inv deploy` until it exits non-zero)", "s",
                              [release.deploy_seconds]))
        figures += phase_figures("rollback", [release], ("rolling update",))
        figures.append(failed_figure("rollback_failed", "failed requests during the rolled back release", [release]))
        figures.append(Figure("rollback_serving", "serving after the rollback", text=serving_text(release, releases),
                              target="the release before",
                              met=release.exit_status != 0 and release.served_as_expected))
    return figures


def phase_figures(key: str, releases: list[Release], phases: tuple[str, ...]) -> list[Figure]:
    """"of which <phase>" lines under a time, for the phases the releases went through."""
    figures = []
    for phase in phases:
        samples = [r.phases[phase] for r in releases if phase in r.phases]
        if samples:
            what = {"migrations": "the migrations job", "rolling update": "the rolling update"}.get(phase, phase)
            if key == "rollback" and phase == "rolling update":
                what += ", until Swarm rolled it back"
            figures.append(Figure(f"{key}_{phase.replace(' ', '_')}", f"… of which {what}", "s", samples))
    return figures


def phases_text(phases: dict[str, float]) -> str:
    """"preparation 2.1 s, migrations 20.3 s, rolling update 61.0 s"."""
    return ", ".join(f"{phase} {seconds:.1f} s" for phase, seconds in phases.items())


def serving_text(release: Release, releases: list[Release]) -> str:
    """"release 4 (<sha>)" for what served after `release`; the bare name for one this run did not make."""
    numbers = {r.name: r.number for r in releases}
    if release.serving in numbers:
        return f"release {numbers[release.serving]} ({release.serving})"
    return release.serving or "none"


def failed_figure(key: str, label: str, releases: list[Release]) -> Figure:
    requests = sum(r.requests or 0 for r in releases)
    failed = sum(r.failed or 0 for r in releases)
    return Figure(key, label, "requests", [float(failed)], text=f"{number(failed)} of {number(requests)}",
                  target="0", met=failed == 0)


def release_label(release: Release) -> str:
    what = {FIRST: "first deploy", GOOD: "a new heading", FAILING: "/healthz answers 503"}[release.kind]
    return f"{release.number} ({release.name}): {what}"


def markdown(releases: list[Release], facts: dict[str, str]) -> str:
    """The summary table, then one row per release, then the line that describes the machine and the run."""
    lines = ["| figure | value | target | met |", "|---|---|---|---|"]
    for figure in summary(releases):
        met = {True: "yes", False: "**no**", None: ""}[figure.met]
        lines.append(f"| {figure.label} | {figure.value()} | {figure.target} | {met} |")
    lines += ["", ("| release | `inv push` | `inv deploy` | migrations | rolling update | exit status "
                   "| requests during it | failed | worst p99 of a 5 s round | serving after |"),
              "|---|---|---|---|---|---|---|---|---|---|"]
    for r in releases:
        unloaded = r.requests is None
        serving = serving_text(r, releases).partition(" (")[0]
        if not r.served_as_expected:
            serving = f"**{serving}**"
        failed = "–" if unloaded else (str(r.failed) if not r.failed else f"**{number(r.failed)}**")
        phases = " | ".join(spread([r.phases[phase]], "s") if phase in r.phases else "–"
                            for phase in ("migrations", "rolling update"))
        lines.append(
            f"| {release_label(r)} | {spread([r.push_seconds], 's')} | {spread([r.deploy_seconds], 's')} | "
            f"{phases} | {r.exit_status} | {'–' if unloaded else number(r.requests)} | {failed} | "
            f"{'–' if r.worst_p99_ms is None else spread([r.worst_p99_ms], 'ms')} | {serving} |")
    facts_text = "; ".join(f"{name}: {value}" for name, value in facts.items())
    return "\n".join([*lines, "", f"Median (min–max) over the releases. {facts_text}."])


def as_json(releases: list[Release], facts: dict[str, str]) -> str:
    return json.dumps({"machine": facts, "figures": [asdict(figure) for figure in summary(releases)],
                       "releases": [asdict(release) for release in releases]}, indent=2)


# ---- the run ----


def run_stamped(argv: list[str], *, env: dict[str, str], cwd: Path,
                timeout: float = 1800) -> tuple[subprocess.CompletedProcess[str], list[tuple[float, str]]]:
    """Run `argv` with its output captured, and note when each line of its stderr came (time.monotonic()).

    (the finished process, [(when, line)]); BenchError when it runs over `timeout` seconds.
    """
    process = subprocess.Popen(argv, env=env, cwd=cwd, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                               stderr=subprocess.PIPE, text=True)
    stdout: list[str] = []
    # Read apart, or a full stdout pipe would block the command while stderr is read.
    reader = threading.Thread(target=lambda: stdout.append(process.stdout.read()), daemon=True)
    reader.start()
    expired = threading.Event()

    def expire() -> None:
        expired.set()
        process.kill()

    watchdog = threading.Timer(timeout, expire)
    watchdog.start()
    try:
        lines = [(time.monotonic(), line) for line in process.stderr]
        process.wait()
    finally:
        watchdog.cancel()
        if process.poll() is None:
            process.kill()
            process.wait()
        reader.join(timeout=10)
    if expired.is_set():
        raise BenchError(f"`{shlex.join(argv)}` did not finish within {timeout:.0f} s")
    return (subprocess.CompletedProcess(argv, process.returncode, "".join(stdout), "".join(line for _, line in lines)),
            lines)


class Load(threading.Thread):
    """wrk against a URL in 5 s rounds (LOAD) until stopped; a round that could not run ends it, and `stop` raises it."""

    def __init__(self, url: str) -> None:
        super().__init__(daemon=True)
        self.url = url
        self.rounds: list[load.Figures] = []
        self.error: load.LoadError | None = None
        self.stopping = threading.Event()

    def run(self) -> None:
        try:
            while not self.stopping.is_set():
                self.rounds.append(load.measure(self.url, **LOAD))
        except load.LoadError as error:
            self.error = error

    def stop(self) -> tuple[int, int, float]:
        """(requests, failed requests, worst p99 in ms) over every round; BenchError when wrk could not run."""
        self.stopping.set()
        # The round under way ends by itself within its 5 s, or wrk's own time limit.
        self.join(timeout=LOAD["duration"] + LOAD["timeout"] + 60)
        if self.error is not None:
            raise BenchError(str(self.error))
        return (sum(r.requests for r in self.rounds), sum(r.errors for r in self.rounds),
                max((r.p99_ms for r in self.rounds), default=0.0))


class DeployBench:
    """One run: the lab, the scratch copy, the names it gave both, and the releases so far."""

    def __init__(self, root: Path, settings: Settings, engine: Engine, options: Options) -> None:
        self.root = root
        self.settings = settings
        self.engine = engine
        self.options = options
        self.docker = list(engine.docker)
        run_id = uuid.uuid4().hex[:6]
        # The Compose project, the stack and the lab all carry the run's id, so nothing clashes with another run.
        self.name = f"benchdeploy{run_id}"
        self.image = f"{self.name}-web:bench"
        self.scratch = Path(tempfile.mkdtemp(prefix="django-docker-bench-deploy-"))
        self.copy = self.scratch / "project"
        self.lab: SwarmLab | None = None
        self.url = ""
        self.releases: list[Release] = []
        developer = set(dotenv_values(root / ".env.example")) - MACHINE_VARIABLES | {"COMPOSE_FILE", "COMPOSE_PROFILES"}
        self.env = {name: value for name, value in os.environ.items() if name not in developer}
        self.env.update(
            DOCKER=shlex.join(engine.docker),
            BASE_IMAGE=settings.base_image,
            COMPOSE_PROJECT_NAME=self.name,
            IMAGE_NAME=self.image.partition(":")[0],
            IMAGE_TAG=self.image.partition(":")[2],
            PYTHONDONTWRITEBYTECODE="1",
        )
        if settings.extra_ca_cert is not None:
            self.env["EXTRA_CA_CERT"] = str(settings.extra_ca_cert.resolve())

    # ---- the lab and the scratch copy ----

    def start_lab(self) -> None:
        log("starting a three-node Swarm lab")
        self.lab = SwarmLab.start(name=f"djlab-{self.name}", base_image=self.settings.base_image,
                                  published_ports=(DEPLOY_PORT,), extra_ca=self.settings.extra_ca_cert)
        self.url = self.lab.url(DEPLOY_PORT) + "/"
        log(f"lab {self.lab.name}: {len(self.lab.nodes)} nodes Ready in {self.lab.timings['total']:.1f} s")

    def prepare(self) -> None:
        lab = self.lab
        log(f"scratch copy in {self.copy}")
        try:
            copy_checkout(self.root, self.copy)
        except RuntimeError as error:
            raise BenchError(str(error)) from None
        media = Path(lab.shared_dir) / f"{self.name}-media"
        media.mkdir()
        # The image's user writes the uploads, as on a real shared mount prepared for it.
        subprocess.run(["chown", "10001:10001", str(media)], check=False, capture_output=True)
        media.chmod(0o777)
        # The environment wins over .env, and the nodes can pull only what is in the lab's registry.
        self.env["POSTGRES_IMAGE"] = lab.push_image(self.postgres_image(), f"{self.name}-postgres")
        secret = uuid.uuid4().hex
        (self.copy / ".env").write_text((self.copy / ".env.example").read_text() + "\n".join([
            "ENVIRONMENT=production",
            "DATABASE=postgres",
            f"POSTGRES_PASSWORD=bench-password-{secret}",
            f"SECRET_KEY=bench-secret-key-{secret}-{uuid.uuid4().hex}",
            "ALLOWED_HOSTS=127.0.0.1,localhost",
            f"REGISTRY={lab.registry}",
            f"STACK_NAME={self.name}",
            f"DEPLOY_HOST={lab.deploy_host}",
            f"DEPLOY_PORT={DEPLOY_PORT}",
            f"DEPLOY_URL={lab.url(DEPLOY_PORT)}",
            f"DEPLOY_REPLICAS={WEB_REPLICAS}",
            f"DEPLOY_MEDIA_DIR={media}",
            "DEPLOY_TIMEOUT=300",
            "",
        ]))
        template = self.copy / TEMPLATE
        # Never built before, or BuildKit would find each release's layers in its cache from an earlier run.
        template.write_text(template.read_text() + f"{{# deploy benchmark {self.name} #}}\n")
        self.git("init", "--quiet")
        lab.docker("node", "update", "--label-add", f"{self.name}.data=true", lab.manager)

    def postgres_image(self) -> str:
        """POSTGRES_IMAGE from the environment or .env (.env.example's official image by default), pulled when missing."""
        image = self.settings.get("POSTGRES_IMAGE") or "postgres:17"
        if run_command([*self.docker, "image", "inspect", image], check=False).returncode != 0:
            log(f"pulling {image}")
            run_command([*self.docker, "pull", "--quiet", image], timeout=600)
        return image

    # ---- the releases ----

    def first_deploy(self) -> None:
        self.edit_heading(1)
        name = self.commit("release 1")
        push = self.push(name)
        log(f"release 1 ({name}): first deploy")
        seconds, result, phases = self.deploy()
        self.check_page(heading_of(1))
        self.releases.append(Release(1, FIRST, name, push, seconds, result.returncode, phases=phases,
                                     serving=self.serving(), expected=name))
        log(f"release 1 ({name}): pushed in {push:.1f} s, deployed in {seconds:.1f} s ({phases_text(phases)})")

    def good_release(self, number: int) -> None:
        self.edit_heading(number)
        name = self.commit(f"release {number}: a new heading")
        push = self.push(name)
        log(f"release {number} ({name}): deploying under load")
        (seconds, result, phases), (requests, failed, p99) = self.under_load(self.deploy)
        self.check_page(heading_of(number))
        self.releases.append(Release(number, GOOD, name, push, seconds, result.returncode, requests, failed, p99,
                                     phases=phases, serving=self.serving(), expected=name))
        log(f"release {number} ({name}): deployed in {seconds:.1f} s ({phases_text(phases)}); "
            f"{requests} requests during it, {failed} failed")

    def failing_release(self, number: int) -> None:
        before = self.releases[-1]
        (self.copy / WSGI).write_text(UNHEALTHY_WSGI)
        name = self.commit(f"release {number}: a health check that fails")
        push = self.push(name)
        log(f"release {number} ({name}): deploying a release whose /healthz answers 503, under load")
        (seconds, result, phases), (requests, failed, p99) = self.under_load(lambda: self.deploy(check=False))
        said = (result.stderr.strip().splitlines() or [""])[-1]
        image = self.running_image()
        release = Release(number, FAILING, name, push, seconds, result.returncode, requests, failed, p99,
                          serving=release_of(image), expected=before.name, said=said, phases=phases)
        self.releases.append(release)
        outcome = "exited non-zero" if result.returncode else "exited 0, not rolled back"
        log(f"release {number} ({name}): `inv deploy` {outcome} after {seconds:.1f} s ({phases_text(phases)}); "
            f"{requests} requests during it, {failed} failed; serving {image}"
            + ("" if release.served_as_expected else f", not release {before.number} ({before.name})"))

    def deploy(self, *, check: bool = True) -> tuple[float, subprocess.CompletedProcess[str], dict[str, float]]:
        """`inv deploy`: (its seconds, its outcome, its seconds per phase); BenchError when it fails and `check`."""
        argv = [sys.executable, "-m", "invoke", "deploy"]
        began = time.monotonic()
        result, lines = run_stamped(argv, env=self.env, cwd=self.copy)
        ended = time.monotonic()
        if check and result.returncode != 0:
            said = (result.stderr.strip().splitlines() or [f"exit status {result.returncode}"])[-1]
            raise BenchError(f"`inv deploy` failed: {said}")
        return ended - began, result, phase_seconds(lines, began, ended)

    def under_load(self, action: Callable[[], T]) -> tuple[T, tuple[int, int, float]]:
        """(what `action` returned, Load.stop's figures), with the load on from before it until AFTER_SECONDS after."""
        running = Load(self.url)
        running.start()
        try:
            result = action()
            time.sleep(AFTER_SECONDS)
        finally:
            figures = running.stop()
        return result, figures

    def edit_heading(self, number: int) -> None:
        template = self.copy / TEMPLATE
        try:
            template.write_text(with_heading(template.read_text(), heading_of(number)))
        except ValueError as error:
            raise BenchError(f"{TEMPLATE}: {error}, which each release changes") from None

    def push(self, name: str) -> float:
        log(f"release {name}: inv push")
        return timed(lambda: self.inv("push"))

    def check_page(self, heading: str) -> None:
        """BenchError unless the front page answers 200 with `heading`: a release's figures mean nothing otherwise."""
        try:
            with DIRECT.open(self.url, timeout=10) as response:
                page = response.read().decode(errors="replace")
        except (OSError, urllib.error.URLError) as error:
            raise BenchError(f"the front page at {self.url} did not answer after the deploy: {error}") from None
        if f"<h1>{heading}</h1>" not in page:
            raise BenchError(f"`inv deploy` succeeded, but the front page at {self.url} does not show <h1>{heading}</h1>")

    def running_image(self) -> str:
        return self.lab.docker("service", "inspect", f"{self.name}_web", "--format",
                               "{{.Spec.TaskTemplate.ContainerSpec.Image}}").stdout.strip()

    def serving(self) -> str:
        return release_of(self.running_image())

    # ---- commands in the scratch copy ----

    def inv(self, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        return run_command([sys.executable, "-m", "invoke", *args], env=self.env, cwd=self.copy, check=check)

    def git(self, *args: str) -> str:
        return run_command(["git", *args], env={**self.env, **GIT_IDENTITY}, cwd=self.copy).stdout

    def commit(self, message: str) -> str:
        """Commit the scratch copy as it is; its release name (what `inv push` tags)."""
        self.git("add", "-A")
        self.git("commit", "--quiet", "--allow-empty", "-m", message)
        return self.git("rev-parse", "--short=12", "HEAD").strip()

    # ---- the end ----

    def facts(self) -> dict[str, str]:
        nodes_engine = self.lab.docker("version", "--format", "{{.Server.Version}}", check=False).stdout.strip()
        return {
            **machine_facts(self.engine),
            "base image": self.settings.base_image,
            "python (host)": platform.python_version(),
            "swarm lab": f"{len(self.lab.nodes)} Docker-in-Docker nodes (Engine {nodes_engine or 'unknown'}) "
                         f"on this machine, Ready in {self.lab.timings['total']:.0f} s",
            "runs": f"{WEB_REPLICAS} web replicas on PostgreSQL, {self.options.releases} good releases and one "
                    f"rolled back; load: wrk on / in {LOAD['duration']} s rounds, {LOAD['connections']} connections, "
                    f"from before `inv deploy` until {AFTER_SECONDS} s after it, on the same machine",
        }

    def clean_up(self) -> str:
        """Remove the lab, the images the builds tagged here, and the scratch copy; what could not go ("" when all went)."""
        log("cleaning up")
        left = ""
        if self.lab is not None:
            try:
                # Its registry's tags on this engine go with it, and so do the release images they named.
                self.lab.teardown()
            except LabError as error:
                left = str(error)
        # The production image, and the images a rebuild left untagged: all carry the Compose project's label.
        labelled = run_command([*self.docker, "images", "--quiet", "--filter",
                                f"label=com.docker.compose.project={self.name}"], check=False).stdout.split()
        run_command([*self.docker, "image", "rm", "--force", self.image, *dict.fromkeys(labelled)], check=False)
        shutil.rmtree(self.scratch, ignore_errors=True)
        return left


def run(root: Path, settings: Settings, engine: Engine, options: Options, output: Path) -> list[Release]:
    """Make the releases, print the Markdown table, and write it and the JSON under `output`."""
    bench = DeployBench(root, settings, engine, options)
    try:
        bench.start_lab()
        bench.prepare()
        bench.first_deploy()
        for release in range(2, options.releases + 2):
            bench.good_release(release)
        bench.failing_release(options.releases + 2)
        facts = bench.facts()
    except (LabError, load.LoadError) as error:
        raise BenchError(str(error)) from None
    finally:
        left = bench.clean_up()
        if left:
            log(left)
    output.mkdir(parents=True, exist_ok=True)
    table = markdown(bench.releases, facts)
    (output / "bench-deploy.md").write_text(table + "\n")
    (output / "bench-deploy.json").write_text(as_json(bench.releases, facts) + "\n")
    print(table)
    log(f"saved {output / 'bench-deploy.md'} and {output / 'bench-deploy.json'}")
    if left:
        # The figures stand; what the run left on the engine must still be said, and fail the command.
        raise BenchError(left)
    return bench.releases


def main(argv: list[str] | None = None) -> int:
    try:
        options = parse_options(argv)
        load.wrk_command()
        if shutil.which("git") is None:
            raise BenchError("git is not installed: the benchmark names each release after a commit of a scratch copy")
        settings = load_settings(ROOT)
        engine = find_engine(settings)
        check_daemon(engine)
        run(ROOT, settings, engine, options, ROOT / options.output)
    except load.LoadError as error:
        print(BenchError(str(error)).message, file=sys.stderr)
        return 1
    except StackError as error:
        print(error.message, file=sys.stderr)
        return error.code
    return 0


if __name__ == "__main__":
    sys.exit(main())
