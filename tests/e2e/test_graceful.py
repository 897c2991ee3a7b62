"""Each production server WEB_SERVER can pick, on a real engine: `inv up` returns once the
site answers and the engine then says healthy, with the server as PID 1; `/` answers 200; a request makes one
access-log line; and `inv down` in the middle of a slow request drains it.

The working copy gets a view that takes one second (the bundled site has none, on
purpose), so this module builds its own image from it, once. Each server then gets one
stack, shared by its tests in file order; the last one takes it down.
"""

import subprocess
import threading
import time
import urllib.request
import uuid

import pytest

from devtools.servers import WEB_SERVERS

from .harness import DOCKER, RUN_ID, docker, make_project

pytestmark = pytest.mark.e2e

# What each server logs when SIGTERM reaches it.
STOP_LINE = {
    "granian": "Shutting down granian",
    "gunicorn-gthread": "Handling signal: term",
    "gunicorn-sync": "Handling signal: term",
}
# What PID 1's command line holds for each.
PID_1 = {
    "granian": ["granian", "--interface", "wsgi"],
    "gunicorn-gthread": ["gunicorn", "--worker-class", "gthread"],
    "gunicorn-sync": ["gunicorn", "--worker-class", "sync"],
}

SLOW_VIEW = '''

import time as _time

from django.http import HttpResponse


def _slow(request):
    _time.sleep(1)
    return HttpResponse("finished")


urlpatterns.insert(0, path("slow/", _slow))
'''


@pytest.fixture(scope="module")
def slow_copy(engine, tmp_path_factory):
    """A working copy in production mode with the slow view, and its image, built once for every server."""
    image_name = f"e2e-{RUN_ID}-slow"
    project = make_project(tmp_path_factory, "graceful", image_name)
    project.env["ENVIRONMENT"] = "production"
    urls = project.path / "site" / "config" / "urls.py"
    urls.write_text(urls.read_text() + SLOW_VIEW)
    try:
        project.inv("build")
        yield project
    finally:
        project.remove_everything()
        docker("image", "rm", "-f", f"{image_name}:e2e", check=False)


@pytest.fixture(scope="module", params=WEB_SERVERS)
def slow_site(slow_copy, request):
    """The stack up with one server; removed before the next server's starts."""
    slow_copy.env["WEB_SERVER"] = request.param
    try:
        started = time.monotonic()
        slow_copy.inv("up")
        slow_copy.up_seconds = time.monotonic() - started
        yield slow_copy
    finally:
        slow_copy.remove_everything()


def server(site) -> str:
    return site.env["WEB_SERVER"]


def web_logs(site) -> str:
    logs = site.inv("logs", "web")
    return logs.stdout + logs.stderr


def moment(log_line: str) -> str:
    """The line's timestamp, comparable as text: Docker trims trailing zeros of the nanoseconds."""
    seconds, _, fraction = log_line.split()[0].rstrip("Z").partition(".")
    return f"{seconds}.{fraction:0<9}"


def test_up_returns_once_healthy_with_the_server_as_pid_1(slow_site, report):
    report(f"inv up returned, the site answering, after {slow_site.up_seconds:.1f} s")
    assert slow_site.get("/healthz") == (200, "ok")
    assert slow_site.engine_health() == "healthy"
    command = slow_site.inv("exec", "--", "python", "-c", "print(open('/proc/1/cmdline').read().replace(chr(0), ' '))")
    words = command.stdout.strip().splitlines()[-1].split()
    program, *options = PID_1[server(slow_site)]
    # The interpreter runs the server's script: no shell and no entrypoint left in between.
    assert words[1].endswith(f"/{program}")
    assert " ".join(options) in " ".join(words)
    assert "Read-only file system" not in web_logs(slow_site)


def test_the_home_page_answers_200(slow_site):
    assert slow_site.get("/")[0] == 200


def test_a_request_makes_one_access_log_line(slow_site):
    path = f"/access-log-{uuid.uuid4().hex}/"
    assert slow_site.get(path)[0] == 404
    deadline = time.monotonic() + 10
    while True:
        lines = [line for line in web_logs(slow_site).splitlines() if f'"GET {path} HTTP/1.1" 404' in line]
        if lines or time.monotonic() > deadline:
            break
        time.sleep(0.5)
    assert len(lines) == 1, f"expected one access-log line for {path}, found {lines}"


def test_the_engines_health_probes_stay_out_of_the_access_log(slow_site):
    # The engine has probed by now (the container is healthy), every 2 s, from inside the container.
    assert slow_site.engine_health() == "healthy"
    probes = [line for line in web_logs(slow_site).splitlines() if "/healthz" in line and "127.0.0.1" in line]
    assert probes == []
    # A /healthz from outside the container is a request like any other, and logged.
    before = web_logs(slow_site).count("/healthz")
    assert slow_site.get("/healthz")[0] == 200
    deadline = time.monotonic() + 10
    while web_logs(slow_site).count("/healthz") == before and time.monotonic() < deadline:
        time.sleep(0.5)
    assert web_logs(slow_site).count("/healthz") == before + 1


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
    signal_at = next(moment(line) for line in log_lines if STOP_LINE[server(slow_site)] in line)
    answer_at = next(moment(line) for line in log_lines if '"GET /slow/ ' in line)
    assert signal_at < answer_at, "the request had finished before the stop began: nothing was drained"
    assert slow_site.containers() == []
    assert down_seconds < 9, "down waited for the grace period: the server did not stop on SIGTERM"
