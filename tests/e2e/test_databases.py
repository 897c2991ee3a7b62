"""Data that survives every fault, on SQLite and on PostgreSQL.

A fresh clone starts three web containers at once (one migrates), then its rows go through
`down`/`up`, a rebuild without cache, a web container killed while requests flow, a restarted
and a killed database, and a backup (the database and the uploaded files) restored onto new,
empty volumes. Each test counts rows before and after and reports the figures. The tests run
in file order.
"""

import json
import re
import time

import pytest

from .harness import docker, make_project
from .traffic import Traffic, Visitor, crash, row_counts, seconds_until_healthy, stored_texts

pytestmark = pytest.mark.e2e

RECOVERY_SECONDS = 30


@pytest.fixture(scope="module", params=["sqlite", "postgres"])
def stack(request, engine, image_name, tmp_path_factory):
    """A fresh clone with DATABASE=sqlite or postgres; removed afterwards."""
    database = request.param
    # The PostgreSQL image first: without it there is no point building the site's.
    postgres_image = request.getfixturevalue("postgres_image") if database == "postgres" else ""
    project = make_project(tmp_path_factory, f"data{database}", image_name)
    project.image = request.getfixturevalue("built_image")
    # Production: the faults that matter are those of the stack as it is deployed.
    project.env.update(DATABASE=database, ENVIRONMENT="production")
    if postgres_image:
        project.env["POSTGRES_IMAGE"] = postgres_image
    project.database = database
    try:
        yield project
    finally:
        project.remove_everything()


def sign(project, prefix: str, count: int) -> list[str]:
    visitor = Visitor(project.base_url)
    texts = [f"{prefix}-{number}" for number in range(count)]
    assert all(visitor.sign(text) for text in texts)
    return texts


def lost(before: dict, after: dict) -> int:
    return sum(max(rows - after.get(table, 0), 0) for table, rows in before.items())


def test_three_web_containers_starting_at_once_migrate_once(stack, report):
    stack.inv("up", "--scale", "3")

    containers = stack._ids("ps", "-q", "--filter", "label=com.docker.compose.service=web")
    assert len(containers) == 3
    logs = [(lambda out: out.stdout + out.stderr)(docker("logs", container)) for container in containers]
    applied = [log for log in logs if "Applying guestbook.0001_initial... OK" in log]
    assert len(applied) == 1, "exactly one container must have applied the migrations"
    assert sum("No migrations to apply." in log for log in logs) == 2
    assert not any(re.search(r"Traceback|Error", log) for log in logs)
    recorded = stack.python(
        "from django.db.migrations.recorder import MigrationRecorder as R; m = R.Migration.objects; "
        "print(m.count(), m.values('app', 'name').distinct().count())"
    )
    total, distinct = recorded.split()
    assert total == distinct, "a migration was recorded twice"
    for port in range(stack.port, stack.port + 3):
        assert Visitor(f"http://127.0.0.1:{port}").sign(f"replica-{port}")
    report(f"{stack.database}: 3 web containers started at once, 1 applied the migrations, {total} recorded once each")
    stack.inv("up")
    assert len(stack._ids("ps", "-q", "--filter", "label=com.docker.compose.service=web")) == 1


def test_the_database_is_the_configured_one_in_named_volumes_of_this_project(stack):
    vendor = stack.python("from django.db import connection; print(connection.vendor)")
    assert vendor == {"sqlite": "sqlite", "postgres": "postgresql"}[stack.database]
    volumes = set(stack.volumes())
    expected = {f"{stack.name}_data"} | ({f"{stack.name}_pgdata"} if stack.database == "postgres" else set())
    assert expected <= volumes
    if stack.database == "postgres":
        db = stack.inspect(stack.container_id("db", stopped_too=True))
        assert "pg_isready" in db["Config"]["Healthcheck"]["Test"]
        assert db["State"]["Health"]["Status"] == "healthy"
        assert stack.inv("dbshell", stdin="select current_database();\n").stdout.split()[2] == "django"


def rows_survive(stack, report, fault: str, *commands: tuple[str, ...]) -> None:
    """Sign, count, run the `inv` commands, count again: every row must still be there."""
    sign(stack, "survivor", 5)
    before = row_counts(stack)
    for command in commands:
        stack.inv(*command)
    after = row_counts(stack)
    report(f"{stack.database} {fault}: rows before {sum(before.values())}, after {sum(after.values())}, lost {lost(before, after)}")
    assert after == before


def test_rows_survive_down_and_up(stack, report):
    rows_survive(stack, report, "down/up", ("down",), ("up",))


def test_rows_survive_a_rebuild_without_cache(stack, report):
    rows_survive(stack, report, "build --no-cache/up", ("build", "--no-cache"), ("up",))


def test_a_web_container_killed_while_requests_flow_comes_back_by_itself(stack, report):
    web = stack.container_id("web", stopped_too=True)
    restarts = stack.inspect(web)["RestartCount"]
    with Traffic(stack, "webkill") as traffic:
        time.sleep(2)
        started = time.monotonic()
        crash(stack, web)
        seconds = seconds_until_healthy(stack, started)
        time.sleep(1)
    stored = stored_texts(stack, "webkill")
    missing = set(traffic.acknowledged) - stored
    report(f"{stack.database} web SIGKILL: /healthz 200 again after {seconds:.1f} s; acknowledged writes "
           f"{len(traffic.acknowledged)}, stored {len(stored)}, lost {len(missing)}, failed requests {traffic.failed}")
    assert stack.inspect(web)["RestartCount"] == restarts + 1, "the restart policy must have restarted it"
    assert seconds < RECOVERY_SECONDS
    assert traffic.acknowledged and not missing


@pytest.mark.postgres_only
def test_a_restart_of_the_database_needs_no_one(stack, report):
    before = row_counts(stack)
    with Traffic(stack, "dbrestart") as traffic:
        time.sleep(2)
        started = time.monotonic()
        docker("restart", stack.container_id("db", stopped_too=True))
        seconds = seconds_until_healthy(stack, started)
        time.sleep(1)
    after = row_counts(stack)
    missing = set(traffic.acknowledged) - stored_texts(stack, "dbrestart")
    report(f"postgres db restart: /healthz 200 again after {seconds:.1f} s; rows before {sum(before.values())}, "
           f"after {sum(after.values())}, lost {lost(before, after)}; acknowledged writes {len(traffic.acknowledged)}, "
           f"lost {len(missing)}")
    assert seconds < RECOVERY_SECONDS
    assert lost(before, after) == 0 and not missing


@pytest.mark.postgres_only
def test_a_write_acknowledged_before_the_database_is_killed_is_there_after_it_restarts(stack, report):
    acknowledged = sign(stack, "dbkill", 10)
    before = row_counts(stack)
    docker("kill", "--signal", "KILL", stack.container_id("db", stopped_too=True))
    started = time.monotonic()
    stack.inv("up")
    seconds = seconds_until_healthy(stack, started)
    after = row_counts(stack)
    missing = set(acknowledged) - stored_texts(stack, "dbkill")
    report(f"postgres db SIGKILL then up: /healthz 200 after {seconds:.1f} s; rows before {sum(before.values())}, "
           f"after {sum(after.values())}, lost {lost(before, after)}; acknowledged writes lost {len(missing)}")
    assert not missing and after == before


@pytest.mark.postgres_only
def test_a_web_container_that_outwaits_the_database_gives_up_with_one_line_and_is_retried(stack, report):
    stack.inv("up", env={"DATABASE_WAIT_SECONDS": "3"})
    db, web = stack.container_id("db", stopped_too=True), stack.container_id("web", stopped_too=True)
    docker("stop", db)
    docker("restart", web)
    message = "entrypoint: error: the database did not answer within 3s"
    deadline = time.monotonic() + 60
    while message not in docker("logs", "--tail", "20", web).stderr and time.monotonic() < deadline:
        time.sleep(0.5)
    assert message in docker("logs", "--tail", "20", web).stderr
    started = time.monotonic()
    docker("start", db)
    seconds = seconds_until_healthy(stack, started)
    report(f"postgres db away past the web container's wait: /healthz 200 {seconds:.1f} s after the db started, "
           f"web restarts {stack.inspect(web)['RestartCount']}")
    assert seconds < RECOVERY_SECONDS
    stack.inv("up")


# Uploads as the site keeps them on the data volume: a name with a space, nested folders, bytes of every value.
MEDIA_FILES = {"a b.txt": b"an upload\n", "photos/2026/cat.bin": bytes(range(256)) * 64, "docs/x/y/readme.md": b"# deep\n"}
WRITE_MEDIA = """
import os
for name, data in {files!r}.items():
    path = os.path.join("/data/media", name)
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "wb") as handle:
        handle.write(data)
"""
READ_MEDIA = """
import json, os
found = {}
for folder, _, names in os.walk("/data/media"):
    for name in names:
        path = os.path.join(folder, name)
        found[os.path.relpath(path, "/data/media")] = open(path, "rb").read().hex()
print(json.dumps(found))
"""


def media_files(stack) -> dict[str, bytes]:
    """Every file under /data/media in the web container, by its path there."""
    printed = stack.inv("exec", "--", "python", "-c", READ_MEDIA).stdout.strip().splitlines()[-1]
    return {name: bytes.fromhex(data) for name, data in json.loads(printed).items()}


def test_backup_then_new_empty_volumes_then_restore_gives_the_same_rows(stack, report):
    stack.inv("up")
    sign(stack, "backup", 5)
    stack.inv("exec", "--", "python", "-c", WRITE_MEDIA.format(files=MEDIA_FILES))
    assert media_files(stack) == MEDIA_FILES
    before = row_counts(stack)
    made = stack.inv("db.backup").stdout.strip().splitlines()[-1]
    path = made.split(" (")[0]
    assert made.endswith(f", {len(MEDIA_FILES)} media files)")
    assert (stack.path / path).stat().st_size > 0
    listed = stack.inv("db.list").stdout
    assert path in listed and f"  {len(MEDIA_FILES)} media files" in listed

    down = stack.inv("down", "--volumes", "--yes")
    assert f"the last backup is {path}" in down.stderr
    stack.inv("up")
    empty = row_counts(stack)
    assert empty.get("guestbook_entry") == 0
    assert media_files(stack) == {}

    restored = stack.inv("db.restore", path, "--yes").stdout
    after = row_counts(stack)
    media_after = media_files(stack)
    report(f"{stack.database} backup/down --volumes/up/restore: rows before {sum(before.values())}, after "
           f"{sum(after.values())}, lost {lost(before, after)}; media files before {len(MEDIA_FILES)}, after "
           f"{len(media_after)} ({stack.path.joinpath(path).stat().st_size} byte backup)")
    assert after == before
    assert media_after == MEDIA_FILES
    assert "guestbook_entry" in restored and str(before["guestbook_entry"]) in restored
    assert f"{len(MEDIA_FILES)} media files restored" in restored
    assert sign(stack, "after-restore", 1), "the restored database must take new rows"


def test_a_bad_backup_file_gets_one_line_and_leaves_the_database_alone(stack, report):
    before = row_counts(stack)
    media_before = media_files(stack)
    good = sorted((stack.path / "backups").glob("*.tar"))[-1]
    truncated = stack.path / "backups" / "truncated.tar"
    truncated.write_bytes(good.read_bytes()[: good.stat().st_size * 2 // 3])
    other = stack.path / "backups" / ("other.sqlite3" if stack.database == "postgres" else "other.pgdump")
    other.write_bytes(b"PGDMP" if stack.database == "sqlite" else b"SQLite format 3\0" + bytes(200))
    for name, message in ((truncated.name, "is truncated or damaged"),
                          (other.name, "backup, but this stack runs"),
                          ("missing.tar", "no backup file")):
        result = stack.inv("db.restore", f"backups/{name}", "--yes", check=False)
        last = result.stderr.strip().splitlines()[-1]
        assert result.returncode == 1 and last.startswith("error: ") and message in last, result.stderr
        assert "Traceback" not in result.stderr
    after = row_counts(stack)
    report(f"{stack.database} bad backup files: rows before {sum(before.values())}, after {sum(after.values())}, lost {lost(before, after)}")
    assert after == before
    assert media_files(stack) == media_before


@pytest.mark.postgres_only
def test_a_changed_postgres_password_is_named_at_once_not_waited_out(stack, report):
    started = time.monotonic()
    result = stack.inv("up", env={"POSTGRES_PASSWORD": "not-the-one-the-volume-was-made-with",
                                  "DATABASE_WAIT_SECONDS": "600", "WAIT_TIMEOUT": "600"}, check=False)
    seconds = time.monotonic() - started
    report(f"postgres password changed after the volume was made: inv up said so after {seconds:.1f} s")
    assert result.returncode != 0
    last = result.stderr.strip().splitlines()[-1]
    assert "the database refused the password of user 'django'" in last
    assert "POSTGRES_PASSWORD in .env is used only when the database volume is first created" in last
    stack.inv("up")
    assert stack.get("/")[0] == 200


def test_with_the_stack_down_migrate_and_counts_start_what_they_need_and_leave_nothing(stack, report):
    stack.inv("down")
    assert stack.containers() == []
    before = stack.networks()
    migrated = stack.inv("migrate")
    assert "No migrations to apply" in migrated.stdout
    counts = stack.inv("db.counts").stdout
    assert re.search(r"^guestbook_entry +[0-9]+$", counts, re.MULTILINE), counts
    report(f"{stack.database} with the stack down: migrate and db.counts ran; containers left "
           f"{len(stack.containers())}, networks left {len(stack.networks()) - len(before)}")
    assert stack.containers() == [] and stack.networks() == before == []
