"""`inv deploy`, `inv releases`, `inv rollback`: run a pushed release on a Docker Swarm, and know what ran.

One deploy, in order, each step waited for and checked; the first that fails stops it with
one line, and the release that was serving goes on serving:

1. the Swarm answers and one node carries the data label (`<stack>.data=true`): the
   database, the uploads without DEPLOY_MEDIA_DIR, and the proxy live there;
2. the secrets exist, each under a name derived from its value (stack/swarm.py);
3. the first time only, the stack is created without web replicas (network, db, proxy);
4. the migrations run once, as a one-shot Swarm job of the new image, before any replica
   is replaced: its exit status and its last log lines decide;
5. `docker stack deploy` replaces the web replicas one by one, each new one healthy before
   an old one stops; one that fails makes Swarm put the previous release back by itself;
6. the wait lasts until the service converged (or was rolled back), then the release is
   recorded in the Swarm as a config object, which `inv releases` lists.

Swarm keeps the record of releases, so every machine that deploys sees the same history.
"""

from __future__ import annotations

import contextlib
import json
import re
import sys
import tempfile
import time
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Iterator, Mapping

from .compose import DB, WEB
from .errors import StackError
from .runner import Stack, failure_line
from .settings import BASE_COMPOSE_FILE, POSTGRES_COMPOSE_FILE
from .swarm import Release, SwarmSecret, compose_environment, stack_file

SWARM_COMPOSE_FILE = "compose/swarm.yml"
# Labels on the objects the deploy makes (release records, secrets, jobs).
LABEL = "django-docker"
NAMESPACE_LABEL = "com.docker.stack.namespace"
# Where the image's tools live (the Dockerfile's runtime stage).
IMAGE_TOOLS = "/usr/local/lib/django-docker"
MIGRATE_COMMAND = ("migrate",)
UNKNOWN_MIGRATIONS_COMMAND = ("python", f"{IMAGE_TOOLS}/dbtool.py", "unknown-migrations")
# Seconds between two looks at the Swarm while waiting.
POLL_SECONDS = 1.0
# As DEPLOY_REPLICAS allows (stack/settings.py).
MOST_REPLICAS = 100
# Failed starts of the database after which a deploy stops waiting for it.
FAILED_STARTS = 3
# Lines of a failed task's log shown with the reason.
LOG_LINES = 30
# Task states after which a task does nothing more (Swarm's TaskState).
_FINAL_TASK_STATES = {"complete", "failed", "shutdown", "rejected", "orphaned", "remove"}
_MIGRATION = re.compile(r"^[A-Za-z_][\w]*\.[\w]+$")

DEPLOYED, FAILED, ROLLED_BACK = "deployed", "failed", "rolled back"


def say(message: str) -> None:
    """Progress on stderr: stdout keeps what a script may read."""
    print(f"deploy: {message}", file=sys.stderr, flush=True)


# ---- the Swarm ----


def check_swarm(s: Stack) -> None:
    """StackError unless DEPLOY_HOST (or the local engine) is a Swarm manager that answers."""
    where = s.settings.deploy.host or "the local Docker engine"
    result = s.swarm("info", "--format", "{{.Swarm.LocalNodeState}} {{.Swarm.ControlAvailable}}", hide=True, warn=True)
    if result.failed:
        raise StackError(f"the Swarm manager at {where} does not answer ({failure_line(result)}): check DEPLOY_HOST in .env")
    state = result.stdout.split()
    if s.dry:
        return
    if not state or state[0] != "active":
        raise StackError(f"{where} is not part of a Swarm: run `docker swarm init` on the server (one is enough), "
                         "or point DEPLOY_HOST in .env at a manager")
    if state[1:] != ["true"]:
        raise StackError(f"{where} is a Swarm worker, and only a manager deploys: point DEPLOY_HOST at a manager "
                         "(`docker node ls` on one lists them)")


def data_node(s: Stack) -> str:
    """The hostname of the one node with the data label; with a one-node Swarm, that node, labelled now.

    StackError when several nodes have no label, or more than one has it.
    """
    label = s.settings.deploy.data_label
    if s.dry:
        return "NODE"
    listed = s.swarm("node", "ls", "--format", "{{.ID}} {{.Hostname}}", hide=True).stdout.split("\n")
    nodes = [line.split(" ", 1) for line in listed if line.strip()]
    labelled = s.swarm("node", "ls", "--filter", f"node.label={label}=true", "--format", "{{.Hostname}}",
                       hide=True).stdout.split()
    if len(labelled) == 1:
        return labelled[0]
    if len(labelled) > 1:
        raise StackError(f"nodes {', '.join(labelled)} all carry the label {label}=true, and the data lives on one: "
                         f"remove it from all but one (`docker node update --label-rm {label} NODE`)")
    if len(nodes) == 1:
        node_id, hostname = nodes[0]
        s.swarm("node", "update", "--label-add", f"{label}=true", node_id, hide=True)
        say(f"the Swarm has one node, {hostname}: labelled it {label}=true, to keep the data")
        return hostname
    names = ", ".join(hostname for _, hostname in nodes)
    raise StackError(
        f"no node carries the label {label}=true, which says where the data lives (the database, the uploads, "
        f"the proxy's certificates): choose one of {names} and run `docker node update --label-add {label}=true NODE`"
    )


def service_name(s: Stack, service: str) -> str:
    return f"{s.settings.deploy.stack_name}_{service}"


def inspect_service(s: Stack, service: str) -> dict[str, Any] | None:
    """`docker service inspect` of one of the stack's services, or None when it does not exist."""
    result = s.swarm("service", "inspect", service_name(s, service), hide=True, warn=True, echo=False)
    if result.failed or s.dry:
        return None
    found = json.loads(result.stdout or "[]")
    return found[0] if found else None


def running_image(s: Stack) -> str:
    """The image the web service runs now (`repository:tag@sha256:...`), or ""."""
    service = inspect_service(s, WEB)
    return service["Spec"]["TaskTemplate"]["ContainerSpec"]["Image"] if service else ""


# ---- the stack file and its secrets ----


def render(s: Stack, release: Release) -> tuple[dict[str, Any], list[SwarmSecret]]:
    """The stack file for `release` (no secret values in it) and the secrets it names."""
    settings = s.settings
    files = [BASE_COMPOSE_FILE, *([POSTGRES_COMPOSE_FILE] if settings.database == "postgres" else []), SWARM_COMPOSE_FILE]
    paths = [str(settings.root / name) for name in files]
    if settings.passthrough:
        paths.append(str(settings.passthrough_file))
    env = {**compose_environment(settings.deploy, release), "COMPOSE_FILE": ":".join(paths), "COMPOSE_PATH_SEPARATOR": ":"}
    result = s.compose("config", "--format", "json", hide=True, warn=True, echo=False, env=env)
    if result.failed:
        raise StackError(f"the Compose files do not make a stack: {failure_line(result)}")
    config = json.loads(result.stdout) if result.stdout.strip() else {"services": {}}
    return stack_file(config, settings.deploy, sqlite=settings.database == "sqlite")


def ensure_secrets(s: Stack, secrets: list[SwarmSecret]) -> None:
    """Create the secrets the Swarm lacks; the value goes to `docker secret create` on stdin, never in argv."""
    stack = s.settings.deploy.stack_name
    existing = set(s.swarm("secret", "ls", "--format", "{{.Name}}", hide=True, warn=True, echo=False).stdout.split())
    for secret in secrets:
        if secret.name in existing:
            continue
        say(f"secret {secret.variable} as {secret.name}")
        s.swarm("secret", "create", "--label", f"{NAMESPACE_LABEL}={stack}", "--label", f"{LABEL}.variable={secret.variable}",
                secret.name, "-", input=secret.value, hide="out")


@contextlib.contextmanager
def written(document: Mapping[str, Any]) -> Iterator[Path]:
    """The stack file as a file, for as long as a command reads it (it holds no secret: see stack/swarm.py)."""
    with tempfile.TemporaryDirectory(prefix="django-docker-stack-") as folder:
        path = Path(folder) / "stack.json"
        path.write_text(json.dumps(document, indent=2), encoding="utf-8")
        yield path


def stack_deploy(s: Stack, document: Mapping[str, Any]) -> None:
    with written(document) as path:
        result = s.swarm("stack", "deploy", "--with-registry-auth", "--compose-file", str(path),
                         s.settings.deploy.stack_name, warn=True, progress=True)
    if result.failed:
        raise StackError(f"`docker stack deploy` failed (exit status {result.exited}): see the output above",
                         code=result.exited or 1)


# ---- one-shot jobs (migrations, the rollback's check) ----


@dataclass(frozen=True)
class JobResult:
    ok: bool
    reason: str
    logs: str


def job_args(s: Stack, name: str, document: Mapping[str, Any], command: tuple[str, ...]) -> list[str]:
    """`docker service create` of a one-shot job running `command` in web's image, with web's environment,
    secrets, volumes and placement (so it reaches the database as web does); no retries, no health probe."""
    stack = s.settings.deploy.stack_name
    web = document["services"][WEB]
    args = ["service", "create", "--detach", "--quiet", "--name", name, "--mode", "replicated-job",
            "--restart-condition", "none", "--no-healthcheck", "--label", f"{NAMESPACE_LABEL}={stack}",
            "--network", f"{stack}_default"]
    environment = {**web.get("environment", {}), "DATABASE_WAIT_SECONDS": str(int(s.settings.wait_timeout))}
    for key, value in environment.items():
        args += ["--env", f"{key}={value}"]
    for secret in web.get("secrets", []):
        args += ["--secret", f"source={secret['source']},target={secret['target']}"]
    for volume in web.get("volumes", []):
        source = f"{stack}_{volume['source']}" if volume["type"] == "volume" else volume.get("source", "")
        mount = [f"type={volume['type']}", *([f"source={source}"] if source else []), f"target={volume['target']}"]
        args += ["--mount", ",".join(mount)]
    for constraint in web.get("deploy", {}).get("placement", {}).get("constraints", []):
        args += ["--constraint", constraint]
    if web.get("user"):
        args += ["--user", web["user"]]
    return [*args, web["image"], *command]


def run_job(s: Stack, name: str, document: Mapping[str, Any], command: tuple[str, ...]) -> JobResult:
    """Run a one-shot job to its end (at most DEPLOY_TIMEOUT seconds); its outcome and its log.

    The job's service stays until the next job of that name replaces it, for `docker service
    logs` to show; it carries the stack's label, so `docker stack rm` removes it too.
    """
    s.swarm("service", "rm", name, hide=True, warn=True, echo=False)
    created = s.swarm(*job_args(s, name, document, command), hide=True, warn=True)
    if created.failed:
        return JobResult(False, f"the job could not be created: {failure_line(created)}", "")
    if s.dry:
        return JobResult(True, "", "")
    deadline = time.monotonic() + s.settings.deploy.timeout
    while True:
        tasks = task_states(s, name)
        final = [task for task in tasks if task["state"] in _FINAL_TASK_STATES]
        if final:
            task = final[0]
            logs = service_logs(s, name)
            if task["state"] == "complete":
                return JobResult(True, "", logs)
            exit_code = task.get("exit")
            reason = f"exit status {exit_code}" if exit_code not in (None, 0) else (task["error"] or task["state"])
            return JobResult(False, reason, logs)
        if time.monotonic() > deadline:
            waiting = tasks[0] if tasks else {"state": "not scheduled", "error": ""}
            return JobResult(False, f"it did not finish within {s.settings.deploy.timeout:.0f}s "
                                    f"({waiting['state']}{': ' + waiting['error'] if waiting['error'] else ''})", "")
        time.sleep(POLL_SECONDS)


def task_states(s: Stack, service: str) -> list[dict[str, Any]]:
    """The service's tasks, newest first: id, state, error, exit code, image, desired state."""
    ids = s.swarm("service", "ps", "--quiet", "--no-trunc", service, hide=True, warn=True, echo=False).stdout.split()
    if not ids:
        return []
    template = ('{"id": {{json .ID}}, "state": {{json .Status.State}}, "error": {{json .Status.Err}}, '
                '"exit": {{if .Status.ContainerStatus}}{{json .Status.ContainerStatus.ExitCode}}{{else}}null{{end}}, '
                '"image": {{json .Spec.ContainerSpec.Image}}, "desired": {{json .DesiredState}}, '
                '"node": {{json .NodeID}}, "updated": {{json .UpdatedAt}}}')
    result = s.swarm("inspect", "--format", template, *ids, hide=True, warn=True, echo=False)
    tasks = [json.loads(line) for line in result.stdout.splitlines() if line.strip()]
    return sorted(tasks, key=lambda task: task["updated"], reverse=True)


def service_logs(s: Stack, service: str, tail: int = 0) -> str:
    """A service's (or a task's) log, its stdout and stderr lines merged in the order they were written."""
    options = ["--tail", str(tail)] if tail else []
    result = s.swarm("service", "logs", "--raw", "--timestamps", *options, service, hide=True, warn=True, echo=False)
    # `docker service logs` passes the container's stderr to its own stderr: the timestamps put them back in order.
    stamped = [line.partition(" ") for line in (result.stdout + result.stderr).splitlines() if line.strip()]
    return "\n".join(text for _, _, text in sorted(stamped, key=lambda parts: parts[0]))


def last_lines(text: str, count: int = LOG_LINES) -> str:
    lines = [line for line in text.splitlines() if line.strip()]
    return "\n".join(lines[-count:])


# ---- waiting for web ----


def wait_for_web(s: Stack, before: Mapping[str, Any] | None, replicas: int) -> tuple[str, str]:
    """Wait until the web service converged on its spec, or Swarm rolled it back; (state, reason).

    `before` is `docker service inspect` of web before the deploy (None the first time): an
    update is one whose UpdateStatus started after it. State is DEPLOYED, ROLLED_BACK or
    FAILED (paused, or not converged within DEPLOY_TIMEOUT).
    """
    if s.dry:
        return DEPLOYED, ""
    started_before = ((before or {}).get("UpdateStatus") or {}).get("StartedAt")
    template_before = (before or {}).get("Spec", {}).get("TaskTemplate")
    deadline = time.monotonic() + s.settings.deploy.timeout
    while True:
        service = inspect_service(s, WEB) or {}
        status = service.get("UpdateStatus") or {}
        ours = status.get("StartedAt") and status.get("StartedAt") != started_before
        changed = before is not None and service.get("Spec", {}).get("TaskTemplate") != template_before
        state = status.get("State", "") if ours else ""
        if state in ("rollback_completed", "rollback_paused"):
            return ROLLED_BACK, status.get("Message", "") or "Swarm rolled the update back"
        if state == "paused":
            return FAILED, status.get("Message", "") or "the update paused"
        # An update Swarm has not begun yet would look converged on the old replicas.
        settled = state == "completed" or (not state and not changed)
        if settled and running_replicas(s) == replicas:
            return DEPLOYED, ""
        if time.monotonic() > deadline:
            return FAILED, (f"the web service did not converge within {s.settings.deploy.timeout:.0f}s "
                            f"({running_replicas(s)} of {replicas} replicas running{', update ' + state if state else ''})")
        time.sleep(POLL_SECONDS)


def running_replicas(s: Stack, service: str = WEB) -> int:
    """Tasks of the service that should run and do (Swarm counts a task running once its health probe passed)."""
    tasks = task_states(s, service_name(s, service))
    return sum(1 for task in tasks if task["desired"] == "running" and task["state"] == "running")


def wait_for_database(s: Stack) -> None:
    """Wait until the db service runs (healthy), so the migrations find it; StackError with its reason when not."""
    if s.dry:
        return
    deadline = time.monotonic() + s.settings.deploy.timeout
    while running_replicas(s, DB) < 1:
        failures = [task for task in task_states(s, service_name(s, DB)) if task["state"] in ("failed", "rejected")]
        # Swarm would go on retrying a wrong image or a crashing server; three times tell enough.
        if len(failures) >= FAILED_STARTS or time.monotonic() > deadline:
            report = failed_task_report(s, DB)
            if report:
                print(report, file=sys.stderr)
            tasks = task_states(s, service_name(s, DB))
            state = f"{tasks[0]['state']}{': ' + tasks[0]['error'] if tasks[0]['error'] else ''}" if tasks else "no task"
            raise StackError(f"the database service did not start ({state}): its log is above, "
                             "and `inv logs --deployed db` shows it all")
        time.sleep(POLL_SECONDS)


def failed_task_report(s: Stack, service: str = WEB, image: str = "") -> str:
    """The newest failed task of the service (of `image`, when given): its error and its last log lines."""
    for task in task_states(s, service_name(s, service)):
        if (not image or task["image"] == image) and task["state"] in ("failed", "rejected", "shutdown") and (task["error"] or task["exit"]):
            logs = service_logs(s, task["id"], tail=LOG_LINES)
            return f"{task['error'] or 'exit status ' + str(task['exit'])}\n{logs}".strip()
    return ""


# ---- release records ----


@dataclass(frozen=True)
class Record:
    """A release as the Swarm keeps it: a config object named <stack>_release_<time>_<release>."""

    name: str
    release: str
    web_image: str
    proxy_image: str
    replicas: int
    time: str  # UTC, ISO 8601
    state: str
    reason: str

    @property
    def digest(self) -> str:
        return self.web_image.rpartition("@")[2]


def record(s: Stack, release: Release, document: Mapping[str, Any], state: str, reason: str = "") -> None:
    """Keep what was deployed, and how it went, in the Swarm: the stack file (no secrets) and labels."""
    stack = s.settings.deploy.stack_name
    now = datetime.now(timezone.utc)
    name = f"{stack}_release_{now:%Y%m%dT%H%M%S%f}_{release.name}"[:64]
    labels = {
        NAMESPACE_LABEL: stack,
        f"{LABEL}.stack": stack,
        f"{LABEL}.release": release.name,
        f"{LABEL}.web-image": release.web_image,
        f"{LABEL}.proxy-image": release.proxy_image,
        f"{LABEL}.replicas": str(release.replicas),
        f"{LABEL}.time": now.isoformat(timespec="seconds"),
        f"{LABEL}.state": state,
        f"{LABEL}.reason": " ".join(reason.split())[:300],
    }
    args = [arg for key, value in labels.items() for arg in ("--label", f"{key}={value}")]
    # From a file: Invoke feeds `input` to a command a character at a time, slow for a stack file.
    with written(document) as path:
        s.swarm("config", "create", *args, name, str(path), hide=True, warn=True, echo=False)


def records(s: Stack) -> list[Record]:
    """The stack's release records, oldest first."""
    label = f"{LABEL}.stack={s.settings.deploy.stack_name}"
    ids = s.swarm("config", "ls", "--quiet", "--filter", f"label={label}", hide=True, warn=True, echo=False).stdout.split()
    if not ids:
        return []
    result = s.swarm("config", "inspect", "--format", "{{json .Spec.Name}} {{json .Spec.Labels}}", *ids,
                     hide=True, warn=True, echo=False)
    found = []
    for line in result.stdout.splitlines():
        if not line.strip():
            continue
        name, _, labels = line.partition(" ")
        values = {key.removeprefix(f"{LABEL}."): value for key, value in json.loads(labels).items()}
        get = values.get
        found.append(Record(json.loads(name), get("release", ""), get("web-image", ""), get("proxy-image", ""),
                            int(get("replicas") or 0), get("time", ""), get("state", ""), get("reason", "")))
    return sorted(found, key=lambda item: item.time + item.name)


def current_record(s: Stack, found: list[Record]) -> Record | None:
    """The newest deployed record whose image the web service runs now."""
    image = running_image(s)
    digest = image.rpartition("@")[2]
    matching = [item for item in found if item.state == DEPLOYED and digest and item.digest == digest]
    return matching[-1] if matching else None


# ---- the commands ----


def deploy(s: Stack, release: Release, *, migrate: bool = True) -> None:
    """Run `release` on the Swarm (the steps in this module's docstring); StackError when a step fails."""
    deploy_settings = s.settings.deploy
    sqlite = s.settings.database == "sqlite"
    if not 1 <= release.replicas <= MOST_REPLICAS:
        raise StackError(f"--replicas must be a whole number from 1 to {MOST_REPLICAS}, got {release.replicas}")
    if sqlite and release.replicas > 1:
        raise StackError(
            f"DATABASE=sqlite keeps the database in one file on one node, which one replica can use, not "
            f"{release.replicas}: deploy with --replicas 1, or set DATABASE=postgres in .env for more"
        )
    if sqlite and not s.settings.get("DATABASE_URL").startswith("sqlite:////data/"):
        raise StackError("DATABASE=sqlite on a Swarm needs the database on the data volume: DATABASE_URL=sqlite:////data/db.sqlite3")
    check_swarm(s)
    node = data_node(s)
    if not deploy_settings.media_dir and release.replicas > 1:
        say(f"web runs on {node}, beside the uploads' volume: set DEPLOY_MEDIA_DIR to a folder every node mounts to spread it")
    document, secrets = render(s, release)
    ensure_secrets(s, secrets)
    before = inspect_service(s, WEB)
    if before is None and not s.dry:
        say("first deploy: creating the stack (network, database, proxy) before the site")
        first = json.loads(json.dumps(document))
        first["services"][WEB]["deploy"]["replicas"] = 0
        stack_deploy(s, first)
    if DB in document["services"]:
        wait_for_database(s)
    if migrate:
        say(f"running the migrations of release {release.name}, once")
        outcome = run_job(s, service_name(s, "migrate"), document, MIGRATE_COMMAND)
        if not outcome.ok:
            record(s, release, document, FAILED, f"migrations: {outcome.reason}")
            if outcome.logs:
                print(last_lines(outcome.logs), file=sys.stderr)
            raise StackError(f"the migrations of release {release.name} failed ({outcome.reason}), so it was not deployed"
                             + serving_note(s))
    say(f"replacing the web replicas with release {release.name}, one at a time")
    stack_deploy(s, document)
    state, reason = wait_for_web(s, before, release.replicas)
    record(s, release, document, state, reason)
    if state != DEPLOYED:
        report = failed_task_report(s, WEB, release.web_image)
        if report:
            print(report, file=sys.stderr)
        raise StackError(f"release {release.name} was not deployed: {reason}" + serving_note(s))
    if not s.dry:
        print(f"Release {release.name} is serving at {deploy_settings.site_url} "
              f"({release.replicas} web replica{'s' if release.replicas != 1 else ''}, {release.web_image.rpartition('@')[2][:19]})")


def serving_note(s: Stack) -> str:
    """"; <image> goes on serving" when web replicas run, for the end of a failed deploy's line."""
    serving = running_image(s) if running_replicas(s) else ""
    return f"; {serving} goes on serving" if serving else ""


def rollback(s: Stack, name: str = "", *, force: bool = False) -> None:
    """Deploy an earlier release again: `name`, or the one before the current; StackError when none, or when the
    database has migrations the release does not know (unless `force`)."""
    check_swarm(s)
    found = records(s)
    current = current_record(s, found)
    deployed = [item for item in found if item.state == DEPLOYED]
    if name:
        candidates = [item for item in deployed if item.release == name]
        if not candidates:
            raise StackError(f"release {name} was never deployed on this stack: `inv releases` lists those that were")
        target = candidates[-1]
    else:
        earlier = [item for item in deployed if current is None or (item.time + item.name < current.time + current.name
                                                                      and item.digest != current.digest)]
        if not earlier:
            raise StackError("there is no earlier deployed release to go back to: `inv releases` lists them")
        target = earlier[-1]
    if current is not None and target.digest == current.digest:
        raise StackError(f"release {target.release} is the one serving already")
    replicas = (inspect_service(s, WEB) or {}).get("Spec", {}).get("Mode", {}).get("Replicated", {}).get("Replicas")
    release = Release(target.release, target.web_image, target.proxy_image, int(replicas or target.replicas or 1))
    document, secrets = render(s, release)
    ensure_secrets(s, secrets)
    say(f"checking the database for migrations release {release.name} does not know")
    outcome = run_job(s, service_name(s, "migrate"), document, UNKNOWN_MIGRATIONS_COMMAND)
    if not outcome.ok:
        if outcome.logs:
            print(last_lines(outcome.logs), file=sys.stderr)
        raise StackError(f"could not check the migrations with release {release.name} ({outcome.reason}): nothing changed")
    unknown = [line.strip() for line in outcome.logs.splitlines() if _MIGRATION.match(line.strip())]
    if unknown and not force:
        raise StackError(
            f"release {release.name} predates migrations the database already has: {', '.join(unknown)}. Its code "
            "may not work with that schema; `inv rollback " + release.name + " --force` deploys it anyway (the "
            "schema stays as it is)"
        )
    deploy(s, release, migrate=False)


def print_releases(s: Stack) -> None:
    found = records(s)
    if not found:
        print("no release deployed yet: `inv push`, then `inv deploy`", file=sys.stderr)
        return
    current = current_record(s, found)
    print(f"  {'RELEASE':<19} {'DEPLOYED (UTC)':<20} {'STATE':<12} {'DIGEST':<19} WEB")
    for item in reversed(found):
        mark = "*" if current is not None and item.name == current.name else " "
        when = item.time.replace("T", " ")[:19]
        reason = f"  ({item.reason})" if item.reason else ""
        print(f"{mark} {item.release:<19} {when:<20} {item.state:<12} {item.digest[:19]:<19} {item.replicas}{reason}")


def print_status(s: Stack) -> None:
    """The release serving, then the stack's services and where their tasks run."""
    check_swarm(s)
    current = current_record(s, records(s))
    stack = s.settings.deploy.stack_name
    print(f"release  {current.release + ' (deployed ' + current.time + ')' if current else 'none recorded'}")
    print(f"url      {s.settings.deploy.site_url}")
    s.swarm("stack", "services", stack)
    s.swarm("stack", "ps", "--filter", "desired-state=running", "--format",
            "table {{.Name}}\t{{.Node}}\t{{.CurrentState}}\t{{.Error}}", stack)
