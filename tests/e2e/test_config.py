""".env on a real engine: odd values mean the same to the tasks and to Django, a broken
start explains itself, new migrations land in the working tree as the user's files.

The tests share one stack and run in file order.
"""

import re
import socket

import pytest
from dotenv import dotenv_values

from .harness import DEVELOPER

pytestmark = pytest.mark.e2e

# '$', '#', both quotes, spaces and what looks like a variable: each must survive as written
# (python-dotenv expands only ${NAME}, which .env may use only for what is set).
ODD_SECRET = """'k3y with $HOME, $USER, #hash, "double" and spaces; long enough to be a real key.'"""


def test_dry_run_prints_commands_and_starts_nothing(project):
    result = project.inv("--dry", "up")
    assert " up --detach" in result.stdout
    assert not (project.path / ".env").exists()
    assert project.containers() == []


def test_odd_env_values_mean_the_same_to_the_tasks_and_to_django(project):
    example = (project.path / ".env.example").read_text()
    text = re.sub(r"^SECRET_KEY=.*$", lambda _: f"SECRET_KEY={ODD_SECRET}", example, flags=re.MULTILINE)
    text = re.sub(r"^ALLOWED_HOSTS=.*$", 'ALLOWED_HOSTS="localhost, 127.0.0.1"  # a comment', text, flags=re.MULTILINE)
    (project.path / ".env").write_text(text)
    expected = dotenv_values(project.path / ".env")

    project.inv("up")

    printed = project.python("from django.conf import settings; print(repr((settings.SECRET_KEY, settings.ALLOWED_HOSTS)))")
    assert printed == repr((expected["SECRET_KEY"], ["localhost", "127.0.0.1"]))
    assert "$HOME" in expected["SECRET_KEY"] and "#hash" in expected["SECRET_KEY"]
    assert project.get("/")[0] == 200


def test_makemigrations_check_fails_when_a_model_changed(project):
    models = project.path / "site" / "guestbook" / "models.py"
    models.write_text(models.read_text() + "\n\nclass Tag(models.Model):\n    name = models.CharField(max_length=50)\n")
    result = project.inv("makemigrations", "--check", check=False)
    assert result.returncode != 0
    assert not list((project.path / "site" / "guestbook" / "migrations").glob("0002_*.py"))


def test_makemigrations_writes_the_file_into_the_working_tree_owned_by_the_user(project):
    result = project.inv("makemigrations", "guestbook", "--name", "add_tag")
    assert "Warning" not in result.stderr, "makemigrations must not trip over the data volume's file"
    created = project.path / "site" / "guestbook" / "migrations" / "0002_add_tag.py"
    assert created.is_file()
    assert (created.stat().st_uid, created.stat().st_gid) == DEVELOPER
    assert "CreateModel" in created.read_text()
    project.inv("makemigrations", "--check")


def test_a_container_that_cannot_start_shows_its_last_logs_and_what_to_do(project):
    result = project.inv("up", env={"DJANGO_SETTINGS_MODULE": "config.no_such_settings", "WAIT_TIMEOUT": "60"}, check=False)
    assert result.returncode != 0
    assert "last 30 log lines" in result.stderr
    assert "No module named 'config.no_such_settings'" in result.stderr
    last = result.stderr.strip().splitlines()[-1]
    assert last.startswith("error: the web container") and "inv logs web" in last


def test_up_again_with_good_settings_recovers(project):
    project.inv("up")
    assert project.get("/healthz") == (200, "ok")


def test_a_busy_port_is_named_before_anything_starts(project):
    project.inv("down")
    with socket.socket() as squatter:
        squatter.bind(("127.0.0.1", 0))
        squatter.listen()
        port = squatter.getsockname()[1]
        result = project.inv("up", env={"WEB_PORT": str(port)}, check=False)
    assert result.returncode != 0
    last = result.stderr.strip().splitlines()[-1]
    assert last.startswith("error: port") and str(port) in last and "WEB_PORT" in last
    assert "Traceback" not in result.stderr
    assert project.containers() == []
