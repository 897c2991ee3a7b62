"""docker/entrypoint.py refuses to serve production with unsafe settings, by Django's own checks, in one line.

The site's settings file says DEBUG = True and holds a development key, as startproject
writes it: production is safe because the environment decides, and refused when it says
otherwise.

Run as the container runs it: a fresh interpreter in the Django project, with only the
variables given, the entrypoint's setup and check and nothing else (no database, no server).
"""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from .conftest import REPO

GOOD_KEY = "a-real-key-" + "x7Yq" * 12
CHECK = "import entrypoint; entrypoint.setup_django(); entrypoint.refuse_unsafe_settings(); print('serving')"


@pytest.fixture(autouse=True)
def data_volume(tmp_path, monkeypatch):
    """A data volume stand-in with the directories the entrypoint makes there before the checks."""
    (tmp_path / ".upload-tmp").mkdir()
    monkeypatch.setenv("DATA_DIR", str(tmp_path))


def check(**variables: str) -> subprocess.CompletedProcess[str]:
    """The check as the image runs it: the site's settings under the image's layer (see the Dockerfile)."""
    environment = {
        "DATA_DIR": os.environ["DATA_DIR"],
        "PATH": os.environ.get("PATH", ""),
        "PYTHONPATH": str(REPO / "docker"),
        "DJANGO_SETTINGS_MODULE": "imagesettings",
        "PROJECT_SETTINGS_MODULE": "config.settings",
        **variables,
    }
    return subprocess.run([sys.executable, "-c", CHECK], cwd=REPO / "site", env=environment,
                          capture_output=True, text=True, timeout=60)


def refusal(process: subprocess.CompletedProcess[str]) -> str:
    """The one line the container ends with; the test fails unless it refused, without a traceback."""
    assert process.returncode != 0 and "serving" not in process.stdout, process.stdout
    assert "Traceback" not in process.stderr, process.stderr
    lines = process.stderr.strip().splitlines()
    assert len(lines) == 1, process.stderr
    assert lines[0].startswith("entrypoint: error: ")
    return lines[0]


def test_safe_production_settings_are_served():
    process = check(SECRET_KEY=GOOD_KEY)
    assert process.returncode == 0, process.stderr
    assert process.stdout.strip() == "serving"


def test_debug_on_is_refused_by_djangos_own_check():
    assert "security.W018" in refusal(check(SECRET_KEY=GOOD_KEY, DEBUG="true"))


@pytest.mark.parametrize("key", ["", "short-key", "django-insecure-" + "x7Yq" * 12, "a" * 60])
def test_a_missing_weak_or_development_key_is_refused_by_djangos_own_check(key):
    assert "security.W009" in refusal(check(SECRET_KEY=key))


def test_both_problems_are_named_on_the_one_line():
    line = refusal(check(SECRET_KEY="short", DEBUG="yes"))
    assert "security.W009" in line and "security.W018" in line


def test_the_https_warnings_alone_do_not_stop_plain_http_serving():
    # check --deploy warns about HSTS, redirects and Secure cookies, which need HTTPS first.
    assert check(SECRET_KEY=GOOD_KEY, HTTPS="false").returncode == 0


def test_a_setting_the_settings_cannot_read_is_one_line_naming_it():
    line = refusal(check(SECRET_KEY=GOOD_KEY, HTTPS="maybe"))
    assert "HTTPS must be one of true/false" in line

