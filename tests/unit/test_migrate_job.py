"""`migrate`, the image's command for a release's one-shot job, run as the container runs it: a fresh
interpreter in the bundled site, with only the variables given, on a SQLite file here.

It applies the migrations with their output on stdout and exits 0; it refuses unsafe production
settings before touching the database, as `serve` does; and a migration that fails leaves its
traceback, then one line the deploy relays, and a non-zero exit.
"""

from __future__ import annotations

import os
import sqlite3
import subprocess
import sys

import pytest

from .conftest import REPO
from .test_refusals import GOOD_KEY


@pytest.fixture
def data(tmp_path):
    """A data volume stand-in: the database goes there."""
    return tmp_path


def migrate_job(data, **variables: str) -> subprocess.CompletedProcess[str]:
    environment = {
        "PATH": os.environ.get("PATH", ""),
        "PYTHONPATH": str(REPO / "docker"),
        "DJANGO_SETTINGS_MODULE": "imagesettings",
        "PROJECT_SETTINGS_MODULE": "config.settings",
        "ENVIRONMENT": "production",
        "SECRET_KEY": GOOD_KEY,
        "DATA_DIR": str(data),
        "DATABASE_URL": f"sqlite:///{data}/db.sqlite3",
        "DATABASE_WAIT_SECONDS": "5",
        **variables,
    }
    return subprocess.run([sys.executable, str(REPO / "docker" / "entrypoint.py"), "migrate"], cwd=REPO / "site",
                          env=environment, capture_output=True, text=True, timeout=120, check=False)


def tables(data) -> set[str]:
    with sqlite3.connect(data / "db.sqlite3") as connection:
        return {row[0] for row in connection.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}


def test_the_job_applies_the_migrations_with_their_output_on_stdout_and_exits_0(data):
    first = migrate_job(data)
    assert first.returncode == 0, first.stderr
    assert "Applying guestbook.0001_initial... OK" in first.stdout
    assert "guestbook_entry" in tables(data)
    again = migrate_job(data)
    assert again.returncode == 0, again.stderr
    assert "No migrations to apply." in again.stdout


def test_unsafe_production_settings_are_refused_in_one_line_before_any_table_is_made(data):
    job = migrate_job(data, SECRET_KEY="short", DEBUG="true")
    assert job.returncode != 0
    assert job.stderr.strip().splitlines() == [job.stderr.strip()]
    assert job.stderr.startswith("entrypoint: error: refusing to migrate in production: ")
    assert "security.W009" in job.stderr and "security.W018" in job.stderr
    assert tables(data) == set()


def test_a_failed_migration_leaves_its_traceback_then_one_line_and_a_failure_status(data):
    # A table the migration is about to create, already there: as after a half-restored backup.
    with sqlite3.connect(data / "db.sqlite3") as connection:
        connection.execute("CREATE TABLE guestbook_entry (id integer)")
    job = migrate_job(data)
    assert job.returncode != 0
    lines = job.stderr.strip().splitlines()
    assert lines[-1] == 'entrypoint: error: migrate failed: OperationalError: table "guestbook_entry" already exists'
    assert "Traceback (most recent call last)" in job.stderr
