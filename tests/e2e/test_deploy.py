"""`inv push` and `inv deploy` on a three-node Swarm (the swarm_lab fixture): releases a user makes, one after
the other, on one stack, under load where a release could drop a request.

The tests run in file order, each building on the one before, as a team's releases do:
1 first deploy; 2 a migration and a new view under load; 3 a release that never turns healthy;
4 a release whose migration fails; 5 a good release, then rollbacks; a node lost and back; a new secret.
"""

from __future__ import annotations

import base64
import json
import re
import shutil
import subprocess
import threading
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from devtools.load import measure
from devtools.releases import UNHEALTHY_WSGI

from .harness import RUN_ID, Project, docker, make_project
from .traffic import Visitor

pytestmark = [pytest.mark.e2e, pytest.mark.swarm]

WEB_REPLICAS = 3
FIRST_SECRET_KEY = f"first-secret-key-{RUN_ID}-{'x' * 50}"
POSTGRES_PASSWORD = f"first-password-{RUN_ID}-0123456789abcdef"
# The site's port inside node 1 (host mode), which the lab publishes on 127.0.0.1.
DEPLOY_PORT = 8080
GIT_IDENTITY = {"GIT_AUTHOR_NAME": "Release Tester", "GIT_AUTHOR_EMAIL": "releases@example.com",
                "GIT_COMMITTER_NAME": "Release Tester", "GIT_COMMITTER_EMAIL": "releases@example.com"}
MIGRATION_2 = '''from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [("guestbook", "0001_initial")]
    operations = [migrations.AddField("entry", "mood", models.CharField(max_length=20, blank=True, default=""))]
'''
FAILING_MIGRATION = '''from django.db import migrations


def fail(apps, schema_editor):
    raise RuntimeError("release 4 cannot migrate")


class Migration(migrations.Migration):
    dependencies = [("guestbook", "0002_entry_mood")]
    operations = [migrations.RunPython(fail)]
'''


@dataclass
class Deployment:
    project: Project
    lab: object
    url: str
    stack: str
    media: Path
    releases: dict[str, str] = field(default_factory=dict)  # "r1" -> git release name

    def commit(self, label: str, message: str) -> str:
        """Commit the working copy as it is; remember its release under `label`."""
        self.git("add", "-A")
        self.git("commit", "--quiet", "--allow-empty", "-m", message)
        self.releases[label] = self.git("rev-parse", "--short=12", "HEAD").strip()
        return self.releases[label]

    def git(self, *args: str) -> str:
        return subprocess.run(["git", *args], cwd=self.project.path, env={**self.project.env, **GIT_IDENTITY},
                              check=True, capture_output=True, text=True).stdout

    def edit(self, relative: str, text: str) -> None:
        (self.project.path / "site" / relative).write_text(text)

    def swarm(self, *args: str) -> str:
        return self.lab.docker(*args).stdout

    def web_tasks(self) -> list[tuple[str, str, str]]:
        """(node, image, state) of every web task that should run."""
        listing = self.swarm("service", "ps", f"{self.stack}_web", "--filter", "desired-state=running",
                             "--no-trunc", "--format", "{{.Node}}|{{.Image}}|{{.CurrentState}}")
        return [tuple(line.split("|")) for line in listing.splitlines() if line.strip()]

    def running_image(self) -> str:
        return self.swarm("service", "inspect", f"{self.stack}_web", "--format",
                          "{{.Spec.TaskTemplate.ContainerSpec.Image}}").strip()

    def sql(self, query: str) -> str:
        """A query in the db task's container, on the data node (node 1)."""
        node = self.lab.manager
        container = self.lab.on_node(node, "ps", "-q", "--filter", f"label=com.docker.swarm.service.name={self.stack}_db").stdout.split()[0]
        return self.lab.on_node(node, "exec", container, "psql", "-U", "django", "-d", "django", "-tAc", query).stdout.strip()

    def get(self, path: str = "/", timeout: float = 10) -> tuple[int, str]:
        try:
            with urllib.request.urlopen(self.url + path.lstrip("/"), timeout=timeout) as response:
                return response.status, response.read().decode()
        except urllib.error.HTTPError as error:
            return error.code, error.read().decode(errors="replace")


class Load(threading.Thread):
    """The load tool (wrk) against the site in 5 s rounds until stopped: every request and every error counted."""

    def __init__(self, url: str) -> None:
        super().__init__(daemon=True)
        self.url = url
        self.rounds = []
        self.stopping = threading.Event()

    def run(self) -> None:
        while not self.stopping.is_set():
            self.rounds.append(measure(self.url, duration=5, connections=8, threads=2, timeout=15))

    def stop(self) -> tuple[int, int]:
        """(requests, errors) over the whole run."""
        self.stopping.set()
        self.join(timeout=60)
        return sum(r.requests for r in self.rounds), sum(r.errors for r in self.rounds)

    def errors(self) -> list[tuple[int, dict]]:
        """Per round with errors: (responses outside 2xx, socket errors by kind)."""
        return [(r.non_2xx, r.socket_errors) for r in self.rounds if r.errors]


@pytest.fixture(scope="module")
def site(swarm_lab, postgres_image, tmp_path_factory):
    project = make_project(tmp_path_factory, "deploy", f"e2e-{RUN_ID}-deploy")
    # Its own temporary folder, to see what the tasks leave there.
    project.env["TMPDIR"] = str(tmp_path_factory.mktemp("deploy-tmp"))
    stack = project.name
    media = Path(swarm_lab.shared_dir) / f"{stack}-media"
    media.mkdir()
    # The image's user writes the uploads, as on a real shared mount prepared for it.
    subprocess.run(["chown", "10001:10001", str(media)], check=False)
    media.chmod(0o777)
    # The environment wins over .env: the run's own POSTGRES_IMAGE is not on the nodes, the pushed one is.
    project.env["POSTGRES_IMAGE"] = swarm_lab.push_image(postgres_image, f"{stack}-postgres")
    env_file = project.path / ".env"
    env_file.write_text((project.path / ".env.example").read_text() + "\n".join([
        "ENVIRONMENT=production",
        "DATABASE=postgres",
        f"POSTGRES_PASSWORD={POSTGRES_PASSWORD}",
        f"SECRET_KEY={FIRST_SECRET_KEY}",
        "ALLOWED_HOSTS=127.0.0.1,localhost",
        f"REGISTRY={swarm_lab.registry}",
        f"STACK_NAME={stack}",
        f"DEPLOY_HOST={swarm_lab.deploy_host}",
        f"DEPLOY_PORT={DEPLOY_PORT}",
        f"DEPLOY_URL={swarm_lab.url(DEPLOY_PORT)}",
        f"DEPLOY_REPLICAS={WEB_REPLICAS}",
        f"DEPLOY_MEDIA_DIR={media}",
        "DEPLOY_TIMEOUT=300",
        "",
    ]))
    deployment = Deployment(project, swarm_lab, swarm_lab.url(DEPLOY_PORT) + "/", stack, media)
    deployment.git("init", "--quiet")
    deployment.commit("r1", "release 1")
    swarm_lab.docker("node", "update", "--label-add", f"{stack}.data=true", swarm_lab.manager)
    try:
        yield deployment
    finally:
        swarm_lab.docker("stack", "rm", stack, check=False)
        shutil.rmtree(media, ignore_errors=True)
        images = docker("images", "--quiet", "--filter", f"label=com.docker.compose.project={project.name}", check=False)
        docker("image", "rm", "--force", f"e2e-{RUN_ID}-deploy:e2e", *set(images.stdout.split()), check=False)


def push_and_deploy(site: Deployment, *deploy_args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    pushed = site.project.inv("push")
    release = site.git("rev-parse", "--short=12", "HEAD").strip()
    assert re.search(rf"pushed release {release}: \S+/e2e-{RUN_ID}-deploy:{release}@sha256:[0-9a-f]{{64}}", pushed.stdout)
    return site.project.inv("deploy", *deploy_args, check=check)


def test_first_deploy_runs_three_replicas_on_three_nodes_after_one_migration(site, report):
    began = time.monotonic()
    deployed = push_and_deploy(site)
    report(f"first push and deploy: {time.monotonic() - began:.1f} s")
    r1 = site.releases["r1"]
    assert f"Release {r1} is serving at {site.url}" in deployed.stdout
    tasks = site.web_tasks()
    assert len(tasks) == WEB_REPLICAS and all(state.startswith("Running") for _, _, state in tasks)
    assert len({node for node, _, _ in tasks}) == 3, tasks
    assert len({image for _, image, _ in tasks}) == 1 and "@sha256:" in tasks[0][1]
    status, page = site.get()
    assert status == 200 and "<h1>Guestbook</h1>" in page
    # Migrated once: one job task, complete, and each migration recorded once.
    job = site.swarm("service", "ps", f"{site.stack}_migrate", "--format", "{{.CurrentState}}").splitlines()
    assert len(job) == 1 and job[0].startswith("Complete"), job
    assert site.sql("SELECT count(*) FROM django_migrations WHERE app = 'guestbook'") == "1"
    assert site.sql("SELECT count(*) = count(DISTINCT (app, name)) FROM django_migrations") == "t"
    # The replicas never migrate; their logs reach `inv logs --deployed`.
    shown = site.project.inv("logs", "--deployed", "--tail", "50")
    logs = shown.stdout + shown.stderr
    assert "starting granian" in logs and "Apply" not in logs
    assert len(set(re.findall(rf"{site.stack}_web\.\d\.\w+@(\S+)", logs))) == 3
    assert "Applying guestbook.0001_initial" in site.project.inv("logs", "--deployed", "migrate").stdout


def test_a_release_with_a_migration_and_a_new_view_under_load_drops_no_request(site, report):
    visitor = Visitor(site.url.rstrip("/"))
    assert visitor.sign("written before release 2")
    site.edit("guestbook/migrations/0002_entry_mood.py", MIGRATION_2)
    models = site.project.path / "site/guestbook/models.py"
    models.write_text(models.read_text().replace(
        '    created = models.DateTimeField("created at", auto_now_add=True)\n',
        '    created = models.DateTimeField("created at", auto_now_add=True)\n'
        '    mood = models.CharField(max_length=20, blank=True, default="")\n'))
    template = site.project.path / "site/guestbook/templates/guestbook/index.html"
    template.write_text(template.read_text().replace("<h1>Guestbook</h1>", "<h1>Guestbook, release 2</h1>"))
    r2 = site.commit("r2", "release 2: a mood for each entry")
    site.project.inv("push")
    load = Load(site.url)
    load.start()
    began = time.monotonic()
    deployed = site.project.inv("deploy")
    seconds = time.monotonic() - began
    time.sleep(2)
    requests, errors = load.stop()
    report(f"release 2: deployed in {seconds:.1f} s; {requests} requests during it, {errors} failed")
    assert f"Release {r2} is serving" in deployed.stdout
    assert errors == 0 and requests > 100, (requests, load.errors())
    pages = [site.get()[1] for _ in range(2 * WEB_REPLICAS)]
    assert all("<h1>Guestbook, release 2</h1>" in page and "written before release 2" in page for page in pages)
    assert site.sql("SELECT count(*) FROM django_migrations WHERE app = 'guestbook'") == "2"
    assert all(r2 in image for _, image, _ in site.web_tasks())


def test_a_release_that_never_turns_healthy_is_rolled_back_by_swarm_and_drops_no_request(site, report):
    before = site.running_image()
    site.edit("config/wsgi.py", UNHEALTHY_WSGI)
    r3 = site.commit("r3", "release 3: a health check that fails")
    site.project.inv("push")
    load = Load(site.url)
    load.start()
    began = time.monotonic()
    failed = site.project.inv("deploy", check=False)
    seconds = time.monotonic() - began
    requests, errors = load.stop()
    report(f"release 3: rolled back after {seconds:.1f} s; {requests} requests during it, {errors} failed")
    assert failed.returncode != 0
    assert f"error: release {r3} was not deployed:" in failed.stderr and "goes on serving" in failed.stderr
    assert re.search(r"roll(ed )?back", failed.stderr), failed.stderr
    assert errors == 0 and requests > 100, (requests, load.errors())
    assert site.running_image() == before
    assert "<h1>Guestbook, release 2</h1>" in site.get()[1]
    listed = site.project.inv("releases").stdout
    assert re.search(rf"^\* {site.releases['r2']} .* deployed ", listed, re.MULTILINE), listed
    assert re.search(rf"^  {r3} .* rolled back ", listed, re.MULTILINE), listed


def test_a_release_whose_migration_fails_never_takes_traffic(site):
    before = site.running_image()
    site.edit("config/wsgi.py", (Path(__file__).parents[2] / "site/config/wsgi.py").read_text())
    site.edit("guestbook/migrations/0003_fail.py", FAILING_MIGRATION)
    r4 = site.commit("r4", "release 4: a migration that fails")
    failed = push_and_deploy(site, check=False)
    assert failed.returncode != 0
    assert f"error: the migrations of release {r4} failed (exit status 1), so it was not deployed" in failed.stderr
    assert "RuntimeError: release 4 cannot migrate" in failed.stderr
    assert site.running_image() == before
    assert not any(r4 in image for _, image, _ in site.web_tasks())
    assert "<h1>Guestbook, release 2</h1>" in site.get()[1]
    assert re.search(rf"^  {r4} .* failed .*migrations: exit status 1", site.project.inv("releases").stdout, re.MULTILINE)


def test_rollback_goes_back_to_the_previous_release_and_refuses_one_older_than_the_migrations(site):
    (site.project.path / "site/guestbook/migrations/0003_fail.py").unlink()
    template = site.project.path / "site/guestbook/templates/guestbook/index.html"
    template.write_text(template.read_text().replace("release 2</h1>", "release 5</h1>"))
    r5 = site.commit("r5", "release 5: a new heading")
    assert f"Release {r5} is serving" in push_and_deploy(site).stdout
    assert "<h1>Guestbook, release 5</h1>" in site.get()[1]

    back = site.project.inv("rollback")
    assert f"Release {site.releases['r2']} is serving" in back.stdout
    assert "<h1>Guestbook, release 2</h1>" in site.get()[1]

    refused = site.project.inv("rollback", site.releases["r1"], check=False)
    assert refused.returncode != 0
    assert f"error: release {site.releases['r1']} predates migrations the database already has: guestbook.0002_entry_mood" in refused.stderr
    assert "--force" in refused.stderr
    assert "<h1>Guestbook, release 2</h1>" in site.get()[1]
    status = site.project.inv("deploy", "--status").stdout
    assert f"release  {site.releases['r2']}" in status and status.count(f"{site.stack}_web.") == WEB_REPLICAS


def test_a_worker_node_that_stops_loses_no_row_no_file_and_no_request(site, report):
    visitor = Visitor(site.url.rstrip("/"))
    assert visitor.sign("written before a node stopped")
    (site.media / "kept.txt").write_text("an upload")
    rows = site.sql("SELECT count(*) FROM guestbook_entry")
    worker = site.lab.nodes[-1]
    failures, requests = [], [0]
    stop = threading.Event()

    def ask() -> None:
        while not stop.is_set():
            requests[0] += 1
            try:
                site.get(timeout=15)
            except OSError as error:
                failures.append(repr(error))
            time.sleep(0.05)

    asking = threading.Thread(target=ask, daemon=True)
    asking.start()
    try:
        site.lab.stop_node(worker)
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            tasks = site.web_tasks()
            if len(tasks) == WEB_REPLICAS and all(state.startswith("Running") and node != worker for node, _, state in tasks):
                break
            time.sleep(1)
        else:
            pytest.fail(f"the web tasks were not rescheduled off {worker}: {site.web_tasks()}")
    finally:
        stop.set()
        asking.join(timeout=30)
        site.lab.start_node(worker)
    report(f"node {worker} stopped: {requests[0]} requests, {len(failures)} failed")
    assert not failures, failures[:3]
    assert site.sql("SELECT count(*) FROM guestbook_entry") == rows
    assert site.get("/media/kept.txt") == (200, "an upload")
    assert "written before a node stopped" in site.get()[1]


def test_a_changed_secret_is_deployed_under_a_new_name_and_shows_nowhere(site):
    env_file = site.project.path / ".env"
    old_key = FIRST_SECRET_KEY
    new_key = f"second-secret-key-{RUN_ID}-{'y' * 50}"
    # The last line of a name wins, as in any .env.
    env_file.write_text(env_file.read_text() + f"SECRET_KEY={new_key}\n")
    before = json.loads(site.swarm("service", "inspect", f"{site.stack}_web"))
    site.project.inv("deploy", "--release", site.releases["r2"])
    after_text = site.swarm("service", "inspect", f"{site.stack}_web")
    after = json.loads(after_text)

    def secret_names(spec):
        return {item["SecretName"] for item in spec[0]["Spec"]["TaskTemplate"]["ContainerSpec"]["Secrets"]}

    # Only the changed value's secret is new: the database's stay, so the database is not restarted.
    changed = secret_names(after) - secret_names(before)
    assert len(changed) == 1 and next(iter(changed)).startswith(f"{site.stack}_secret_key_"), changed
    records = site.swarm("config", "ls", "--quiet", "--filter", f"label=django-docker.stack={site.stack}").split()
    stored = "".join(base64.b64decode(json.loads(line)).decode() for line in
                     site.swarm("config", "inspect", "--format", "{{json .Spec.Data}}", *records).splitlines())
    assert '"services"' in stored
    for value in (old_key, new_key, POSTGRES_PASSWORD):
        assert value not in after_text and value not in stored
    assert not list(Path(site.project.env["TMPDIR"]).glob("django-docker-stack-*")), "a stack file was left on disk"
    status, page = site.get()
    assert status == 200 and "<h1>Guestbook, release 2</h1>" in page
