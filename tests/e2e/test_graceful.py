"""A stop drains the requests in flight: production mode, `inv down` in the middle of a slow request.

The working copy gets a view that takes one second (the bundled site has none, on
purpose), so this module builds its own image from it, through `inv up`.
"""

import subprocess
import threading
import time
import urllib.request

import pytest

from .harness import DOCKER, FLAVOURS, RUN_ID, docker, make_project

pytestmark = pytest.mark.e2e

SLOW_VIEW = '''

import time as _time

from django.http import HttpResponse


def _slow(request):
    _time.sleep(1)
    return HttpResponse("finished")


urlpatterns.insert(0, path("slow/", _slow))
'''


@pytest.fixture(scope="module")
def slow_site(first_flavour, tmp_path_factory):
    image_name = f"e2e-{RUN_ID}-slow"
    project = make_project(tmp_path_factory, "graceful", image_name, FLAVOURS[first_flavour])
    project.env["ENVIRONMENT"] = "production"
    urls = project.path / "site" / "config" / "urls.py"
    urls.write_text(urls.read_text() + SLOW_VIEW)
    try:
        project.inv("up")
        yield project
    finally:
        project.remove_everything()
        docker("image", "rm", "-f", f"{image_name}:e2e", check=False)


def moment(log_line: str) -> str:
    """The line's timestamp, comparable as text: Docker trims trailing zeros of the nanoseconds."""
    seconds, _, fraction = log_line.split()[0].rstrip("Z").partition(".")
    return f"{seconds}.{fraction:0<9}"


def test_a_request_in_flight_when_down_starts_completes_with_200(slow_site, report):
    outcome = {}

    def request():
        started = time.monotonic()
        try:
            with urllib.request.urlopen(f"{slow_site.base_url}/slow/", timeout=30) as response:
                outcome["answer"] = (response.status, response.read().decode())
        except OSError as error:
            outcome["answer"] = ("failed", repr(error))
        outcome["seconds"] = time.monotonic() - started

    # The server's log, timestamped, to tell whether the stop signal came before the answer.
    logs = subprocess.Popen([*DOCKER, "logs", "--follow", "--timestamps", slow_site.container_id()],
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    client = threading.Thread(target=request)
    client.start()
    time.sleep(0.2)  # inside the one second the view takes
    started = time.monotonic()
    slow_site.inv("down")
    down_seconds = time.monotonic() - started
    client.join(timeout=60)
    log_lines = logs.communicate(timeout=60)[0].splitlines()

    report(f"request answered {outcome.get('answer')} after {outcome.get('seconds', 0):.2f} s; "
           f"inv down took {down_seconds:.2f} s")
    assert outcome["answer"] == (200, "finished")
    signal_at = next(moment(line) for line in log_lines if "Handling signal: term" in line)
    answer_at = next(moment(line) for line in log_lines if '"GET /slow/ ' in line)
    assert signal_at < answer_at, "the request had finished before the stop began: nothing was drained"
    assert slow_site.containers() == []
    assert down_seconds < 9, "down waited for the grace period: the server did not stop on SIGTERM"
