"""Run the Django site in Docker. `inv --list` shows the commands, `inv --help NAME` their options.

Configuration comes from .env (documented in .env.example); the logic lives in stack/.
"""

import os
import sys
from pathlib import Path

from invoke import Collection, task

from stack import backup as backups
from stack import status as site_status
from stack.cli import allow_optional_positionals, line_count, split_arguments
from stack.compose import DB, WEB
from stack.django import manage_command, superuser_variables
from stack.errors import StackError
from stack.health import front_page, wait_until_healthy
from stack.ports import check_ports_free, web_ports
from stack.prompts import (
    confirm_restore,
    confirm_volume_deletion,
    offer_backup_before_deletion,
)
from stack.runner import open_stack, run_on_host
from stack.settings import load_settings

ROOT = Path(__file__).resolve().parent
allow_optional_positionals()


# ---- the stack ----


@task(help={"no_cache": "Build every layer anew, ignoring the cache.", "pull": "Pull a newer base image first."})
def build(c, no_cache=False, pull=False):
    """Build the web image (inv up does it too, whenever the code or requirements changed)."""
    s = open_stack(c, ROOT)
    s.require_images(WEB)
    s.build(no_cache=no_cache, pull=pull)


@task(help={
    "wait": "Wait until the site answers (--no-wait: don't).",
    "scale": "Run N web containers (N or web=N), published on WEB_PORT to WEB_PORT+N-1.",
})
def up(c, wait=True, scale="1"):
    """Start the site in the background, built from the current code and migrated, and print its URL."""
    s = open_stack(c, ROOT)
    ports = web_ports(s, scale)
    check_ports_free(s, ports)
    s.require_images(WEB, DB)
    s.current_image()
    s.up(ports)
    note = ""
    if wait:
        wait_until_healthy(s)
        note = front_page(s)
    if not s.dry:
        print(f"The site is {'up' if wait else 'starting'} at {s.settings.url}" + (f" ({note})" if note else ""))


@task(help={"volumes": "Also delete the data volumes: the database! Asks first.", "yes": "Don't ask before deleting volumes."})
def down(c, volumes=False, yes=False):
    """Stop and remove the containers; the data stays unless --volumes."""
    s = open_stack(c, ROOT)
    if volumes:
        offer_backup_before_deletion(s, yes)
        confirm_volume_deletion(s, yes)
    s.compose("down", "--remove-orphans", *(["--volumes"] if volumes else []))


@task(positional=["service"], help={"service": "Only this service (default: all).", "wait": "Wait until web answers (--no-wait: don't)."})
def restart(c, service=None, wait=True):
    """Restart the running containers as new ones, with the current code, requirements and .env."""
    s = open_stack(c, ROOT)
    replicas = len(s.container_ids(WEB, running=True))
    if not replicas and not s.dry:
        raise StackError("the site is not running: `inv up` starts it")
    s.require_images(WEB, DB)
    s.current_image()
    s.up(web_ports(s, str(replicas or 1)), "--force-recreate", *filter(None, [service]))
    if wait and service in (None, "", WEB):
        wait_until_healthy(s)


@task
def ps(c):
    """Show the containers and their health."""
    open_stack(c, ROOT).compose("ps")


@task
def status(c):
    """Show the mode, the database, the URL and its answer, the image's age and the containers' health."""
    for label, text in site_status.report(open_stack(c, ROOT)):
        print(f"{label:<11} {text}")


@task
def doctor(c):
    """Check Docker, Compose, .env, the port, disk, the data volume and the site: one line each, to paste in a bug report."""
    from stack import doctor as diagnostics  # here, not at the top: `inv --list` need not pay for it

    diagnostics.report(c, ROOT)


@task(name="open", help={"admin": "Open the admin (/admin/) instead of the front page."})
def open_(c, admin=False):
    """Open the site in your browser, or print its URL where there is none."""
    import webbrowser  # here, not at the top: `inv --list` need not pay for it

    url = load_settings(ROOT).url + ("admin/" if admin else "")
    # webbrowser honours BROWSER, as a terminal user expects.
    if not webbrowser.open(url):
        print(f"no browser to open here: visit {url}")


@task(positional=["service"], help={
    "service": "Only this service (default: all; web with --deployed).",
    "follow": "Keep printing new lines.",
    "tail": "Only the last N lines of each.",
    "deployed": "The Swarm deployment's logs, every replica's (docker service logs).",
})
def logs(c, service=None, follow=False, tail="", deployed=False):
    """Show the containers' logs, or the deployment's with --deployed."""
    args = ["logs", *(["--follow"] if follow else []), *(["--tail", line_count(tail, "--tail")] if tail else [])]
    if deployed:
        from stack.deploy import service_name

        s = open_stack(c, ROOT, production=True)
        s.swarm("service", *args, service_name(s, service or WEB))
    else:
        open_stack(c, ROOT).compose(*args, *filter(None, [service]))


# ---- Django ----


@task(positional=["args"], help={"args": 'manage.py arguments in one quoted string, e.g. "check --deploy" (or after --).'})
def manage(c, args=None):
    """Run a manage.py command: inv manage "check --deploy", or inv manage -- check --deploy."""
    words = split_arguments(args, remainder=c.remainder, task_name="manage")
    if not words:
        raise StackError('say which manage.py command to run, e.g. `inv manage showmigrations` or `inv manage -- help`')
    open_stack(c, ROOT).in_web(manage_command(words))


@task(positional=["app", "migration"], help={"app": "Only this app.", "migration": "Migrate the app to this migration ('zero': unapply all)."})
def migrate(c, app=None, migration=None):
    """Apply migrations (inv up does it on every start). More options after --."""
    words = split_arguments(remainder=c.remainder, task_name="migrate")
    open_stack(c, ROOT).in_web(manage_command(["migrate", *filter(None, [app, migration]), *words]))


@task(positional=["app"], help={"app": "Only this app.", "check": "Fail if models changed without migrations; write nothing.", "name": "Name of the new migration."})
def makemigrations(c, app=None, check=False, name=""):
    """Create migrations for model changes, as files owned by you. More options after --."""
    args = ["makemigrations", *filter(None, [app]), *(["--check"] if check else []), *(["--name", name] if name else [])]
    args += split_arguments(remainder=c.remainder, task_name="makemigrations")
    open_stack(c, ROOT).in_web(manage_command(args), as_host_user=True)


@task(help={"command": "Run this Python code and exit, instead of opening a shell.", "bash": "Open bash instead of Django's shell."})
def shell(c, command="", bash=False):
    """Open a Django shell (or bash) in the web container."""
    s = open_stack(c, ROOT)
    if bash:
        s.in_web(["bash"])
    elif command:
        s.in_web(manage_command(["shell", "--command", command]), interactive=False)
    else:
        s.in_web(manage_command(["shell"]))


@task
def dbshell(c):
    """Open the database's SQL shell (psql in the db container with DATABASE=postgres)."""
    s = open_stack(c, ROOT)
    if s.settings.database == "postgres":
        backups.require_db_running(s)
        s.exec(backups.postgres_client(s, "psql"), service=DB)
    else:
        s.in_web(manage_command(["dbshell"]))


@task(help={"username": "Username (else DJANGO_SUPERUSER_USERNAME).", "email": "Email (else DJANGO_SUPERUSER_EMAIL)."})
def createsuperuser(c, username="", email=""):
    """Create an admin user: asks at a terminal, else takes DJANGO_SUPERUSER_* from .env."""
    s = open_stack(c, ROOT)
    args = ["createsuperuser", *(["--username", username] if username else []), *(["--email", email] if email else [])]
    if s.interactive:
        s.in_web(manage_command(args))
    else:
        # Handed over by name, so the password never shows on a command line.
        names = superuser_variables(s.settings.environment, username=username, email=email)
        s.in_web(manage_command([*args, "--noinput"]), env=names)


@task(name="exec", positional=["cmd"], help={"cmd": 'The command in one quoted string, e.g. "ls -la" (or after --).', "service": "The service to run it in (default: web)."})
def exec_(c, cmd=None, service=WEB):
    """Run a command in a running container: inv exec "ls -la", or inv exec -- ls -la."""
    words = split_arguments(cmd, remainder=c.remainder, task_name="exec")
    if not words:
        raise StackError('say what to run, e.g. `inv exec "ls -la"` or `inv exec -- env`')
    open_stack(c, ROOT).exec(words, service=service)


# ---- tests ----


@task(help={"site": "Run the Django site's own tests in the container instead.", "quick": "Skip the tests that need a Docker engine.", "k": "Only tests whose names match this expression (pytest's or Django's -k)."})
def test(c, site=False, quick=False, k=""):
    """Run the test suite: unit, site, and end to end against Docker. pytest options after --."""
    words = split_arguments(remainder=c.remainder, task_name="test")
    selection = ["-k", k] if k else []
    if site:
        if quick:
            raise StackError("--quick skips the engine tests and --site runs tests in the engine: use one or the other")
        open_stack(c, ROOT).in_web(manage_command(["test", "--noinput", *selection, *words]), interactive=False)
        return
    # pytest finds its settings and test folders from the working directory, wherever `inv` was typed.
    os.chdir(ROOT)
    run_on_host(c, [sys.executable, "-m", "pytest", *(["-m", "not e2e"] if quick else []), *selection, *words])


# ---- benchmark ----


@task(help={
    "repeat": "Repetitions of every measurement; the table shows the median (min-max). With --deploy: good releases.",
    "duration": "Seconds of load per URL and server.",
    "connections": "Open connections during the load.",
    "servers": "Production servers to measure, comma-separated (default: granian,gunicorn-gthread,gunicorn-sync).",
    "output": "Directory for bench.md and bench.json (bench-deploy.md and .json with --deploy).",
    "deploy": "Measure releases on a three-node Swarm lab instead: deploy time, failed requests, time to rollback.",
})
def bench(c, repeat=3, duration=15, connections=32, servers="", output="bench-results", deploy=False):
    """Measure this stack against the tutorial Dockerfile, side by side; print and save the table."""
    # A program of its own (bench/__main__.py, bench/deploy.py), found from the project directory like the tests.
    os.chdir(ROOT)
    if deploy:
        run_on_host(c, [sys.executable, "-m", "bench.deploy", "--releases", str(repeat), "--output", output])
        return
    run_on_host(c, [sys.executable, "-m", "bench", "--repeat", str(repeat), "--duration", str(duration),
                    "--connections", str(connections), "--servers", servers, "--output", output])


# ---- shipping: inv push, deploy, releases, rollback (stack/registry.py, stack/deploy.py) ----


@task(help={"allow_dirty": "Push uncommitted changes too; the release's tag then ends in -dirty."})
def push(c, allow_dirty=False):
    """Build the production image, tag it with the git commit under REGISTRY and push it; print the digest."""
    from stack import registry

    s = open_stack(c, ROOT, production=True)
    release = registry.push(s, registry.current_release(s.settings.project_dir, allow_dirty=allow_dirty))
    if not s.dry:
        print(f"pushed release {release.name}: {release.web_image}")


@task(help={
    "replicas": "Web replicas (default: DEPLOY_REPLICAS).",
    "release": "The pushed release to deploy (default: the current commit's).",
    "status": "Show the deployment (release, services, replicas per node) instead of deploying.",
})
def deploy(c, replicas=0, release="", status=False):
    """Deploy the pushed release to the Swarm at DEPLOY_HOST: migrations once, then a rolling update that rolls back by itself."""
    from stack import deploy as deployment, registry

    s = open_stack(c, ROOT, production=True)
    if status:
        deployment.print_status(s)
        return
    name = registry.check_release_name(release) if release else registry.current_release(s.settings.project_dir, allow_dirty=True)
    deployment.deploy(s, registry.pushed_release(s, name, replicas or s.settings.deploy.replicas))


@task
def releases(c):
    """List the releases deployed to the Swarm (release, time, state, digest); * marks the one serving."""
    from stack import deploy as deployment

    deployment.print_releases(open_stack(c, ROOT, production=True))


@task(positional=["release"], help={
    "release": "The release to go back to (default: the one before the current).",
    "force": "Go back even past migrations the database already has.",
})
def rollback(c, release=None, force=False):
    """Deploy an earlier release again, with the same checks and waiting as inv deploy."""
    from stack import deploy as deployment, registry

    deployment.rollback(open_stack(c, ROOT, production=True), registry.check_release_name(release) if release else "", force=force)


# ---- backups: inv db.backup, db.restore, db.list, db.counts ----


@task
def backup(c):
    """Back up the database and the media files to a timestamped file under backups/ and print its path and size."""
    s = open_stack(c, ROOT)
    backups.report_backup(backups.backup(s), ROOT)


@task(positional=["file"], help={"file": "The backup file (inv db.list shows them).", "yes": "Don't ask before replacing the data."})
def restore(c, file=None, yes=False):
    """Replace the database and the media files with a backup's (asks first), then show the rows of every table."""
    if not file:
        raise StackError("say which backup to restore, e.g. `inv db.restore backups/NAME`; `inv db.list` shows them")
    s = open_stack(c, ROOT)
    with backups.checked_backup(s, backups.backup_file(s, file)) as checked:
        confirm_restore(s, checked, yes)
        backups.restore(s, checked)
    if not s.dry:
        backups.print_counts(backups.table_counts(s))
        print(backups.restored_media(checked))


@task(name="list")
def list_(c):
    """List the backups under backups/: file, engine, size, time, media files."""
    found = backups.list_backups(ROOT)
    for item in found:
        print(backups.describe_backup(item, ROOT))
    if not found:
        print("no backups yet: `inv db.backup` makes one", file=sys.stderr)


@task
def counts(c):
    """Show the number of rows in every table of the database."""
    backups.print_counts(backups.table_counts(open_stack(c, ROOT)))


# ---- the namespace: every command, by name ----

ns = Collection(
    build, up, down, restart, ps, status, doctor, logs, open_,
    manage, migrate, makemigrations, shell, dbshell, createsuperuser, exec_,
    test, bench,
    push, deploy, releases, rollback,
    Collection("db", backup, restore, list_, counts),
)
