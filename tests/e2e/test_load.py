"""The site in production mode under load: `devtools/load.py` (wrk) against `/`, which reads the database.

The figures (req/s, p50, p99) are printed, not judged: they depend on the machine and
on whatever else it runs. What is judged is that not one request fails. LOAD_SECONDS
and LOAD_CONNECTIONS shorten a local run; CI runs the full 30 s at 64 connections.
"""

import json
import os
import subprocess
import sys

import pytest

from devtools import load

from .harness import REPO, skip_or_fail

pytestmark = pytest.mark.e2e

SECONDS = int(os.environ.get("LOAD_SECONDS") or 30)
CONNECTIONS = int(os.environ.get("LOAD_CONNECTIONS") or 64)
ROWS = 50


@pytest.fixture(scope="module")
def wrk():
    try:
        return load.wrk_command()
    except load.LoadError as error:
        skip_or_fail("wrk", str(error))


@pytest.fixture(scope="module")
def site(wrk, production_project):
    printed = production_project.python(
        "from guestbook.models import Entry; "
        f"Entry.objects.bulk_create(Entry(text=f'load row {{n}}') for n in range({ROWS})); "
        "print(Entry.objects.count())"
    )
    assert printed == str(ROWS)
    status, body = production_project.get("/")
    assert status == 200 and "load row " in body
    return production_project


def test_the_front_page_answers_every_request_under_load(site, report):
    figures = load.measure(site.base_url + "/", duration=SECONDS, connections=CONNECTIONS)

    report(f"{figures.requests} requests in {figures.seconds:.1f} s at {figures.connections} connections: "
           f"{figures.requests_per_second:.1f} req/s, p50 {figures.p50_ms:.1f} ms, p99 {figures.p99_ms:.1f} ms, "
           f"{figures.non_2xx} non-2xx, socket errors {figures.socket_errors}")
    assert figures.requests > 0, "wrk made no request at all"
    assert figures.non_2xx == 0, figures.failure()
    assert figures.errors == 0, figures.failure()


def test_the_script_prints_its_figures_as_json_against_the_running_stack(site):
    result = subprocess.run(
        [sys.executable, str(REPO / "devtools" / "load.py"), site.base_url + "/", "--duration", "2", "--connections", "4", "--json"],
        capture_output=True, text=True, timeout=120,
    )
    assert result.returncode == 0, result.stderr
    figures = json.loads(result.stdout)
    assert figures["requests"] > 0 and figures["errors"] == 0
    assert figures["p50_ms"] <= figures["p99_ms"]


def test_the_script_fails_with_one_line_when_requests_fail(site):
    result = subprocess.run(
        [sys.executable, str(REPO / "devtools" / "load.py"), site.base_url + "/no-such-page", "--duration", "1", "--connections", "2"],
        capture_output=True, text=True, timeout=120,
    )
    assert result.returncode == 1
    last = result.stderr.strip().splitlines()[-1]
    assert last.startswith("error: ") and "outside 2xx" in last, result.stderr
    assert "Traceback" not in result.stderr
