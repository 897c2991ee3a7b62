"""wait_until_healthy: until every web container answers, or at once with the container's own reason when it stops."""

from __future__ import annotations

import http.server
import threading

import pytest
from invoke import Result

from devtools.scratch import free_ports
from stack.errors import StackError
from stack.health import stop_reason, wait_until_healthy
from stack.settings import load_settings

from .conftest import (
    CONTAINER_ID,
    CONTAINER_STATE,
    WEB_UP,
    calls,
    ran,
    write,

    stack,
)


def test_wait_returns_once_the_healthcheck_passes(settings, engine, clock):
    states = [Result("running 0 starting"), Result("running 0 starting"), Result("running 0 healthy")]
    s = stack(settings, engine, WEB_UP, (CONTAINER_STATE, states))
    wait_until_healthy(s)
    inspects = [argv for argv, _ in calls(s.c) if argv[:2] == ["docker", "inspect"]]
    assert len(inspects) == 3 and all(argv[-1] == "c0ffee" for argv in inspects)
    assert clock.sleeps == [0.2]
    assert not ran(s.c, "logs")


@pytest.fixture
def healthz_server():
    """A server on 127.0.0.1 that answers /healthz with 200, as a published web container would."""

    class Healthz(http.server.BaseHTTPRequestHandler):
        def do_GET(self):
            self.send_response(200 if self.path == "/healthz" else 404)
            self.end_headers()

        def log_message(self, *args):
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Healthz)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield server.server_address[1]
    server.shutdown()
    server.server_close()


def test_wait_ends_when_the_published_port_answers_before_the_engine_probes(settings, engine, clock, healthz_server):
    published = (r"docker port c0ffee 8000/tcp", Result(f"127.0.0.1:{healthz_server}\n"))
    s = stack(settings, engine, WEB_UP, published, (CONTAINER_STATE, Result("running 0 starting")))
    wait_until_healthy(s)
    assert clock.sleeps == []
    assert ran(s.c, "docker", "port", "c0ffee", "8000/tcp")


def test_wait_keeps_to_the_engine_probe_when_nothing_answers_on_the_port(settings, engine, clock):
    port = free_ports()
    published = (r"docker port c0ffee 8000/tcp", Result(f"127.0.0.1:{port}\n"))
    states = [Result("running 0 starting"), Result("running 0 starting"), Result("running 0 healthy")]
    s = stack(settings, engine, WEB_UP, published, (CONTAINER_STATE, states))
    wait_until_healthy(s)
    assert clock.sleeps == [0.2]
    # The published port is looked up once, not on every round.
    assert sum(argv[:2] == ["docker", "port"] for argv, _ in calls(s.c)) == 1


def test_wait_waits_for_every_web_container(settings, engine, clock):
    replicas = (CONTAINER_ID, Result("aaa\nbbb\n"))
    states = [Result(f"running 0 {health}") for health in ("starting", "starting", "healthy", "starting", "healthy")]
    s = stack(settings, engine, replicas, (CONTAINER_STATE, states))
    wait_until_healthy(s)
    inspected = [argv[-1] for argv, _ in calls(s.c) if argv[:2] == ["docker", "inspect"]]
    # The restart counts of both first, then each until healthy: bbb was still starting once.
    assert inspected == ["aaa", "bbb", "aaa", "bbb", "bbb"]
    assert clock.sleeps == [0.2]


def test_wait_accepts_a_container_without_healthcheck(settings, engine, clock):
    s = stack(settings, engine, WEB_UP, (CONTAINER_STATE, Result("running 0 ")))
    wait_until_healthy(s)
    assert clock.sleeps == []


def test_wait_for_an_exited_container_shows_its_logs_and_fails(settings, engine, compose_prefix, clock, capsys):
    logs = (r".* logs --no-color --no-log-prefix --tail 30 web$", Result("Traceback...\nImproperlyConfigured: SECRET_KEY\n"))
    s = stack(settings, engine, logs, WEB_UP, (CONTAINER_STATE, Result("exited 0 ")))
    with pytest.raises(StackError) as caught:
        wait_until_healthy(s)
    assert "stopped before it became healthy" in caught.value.message and "inv logs web" in caught.value.message
    assert [*compose_prefix, "logs", "--no-color", "--no-log-prefix", "--tail", "30", "web"] in [argv for argv, _ in calls(s.c)]
    # The logs go to stderr, like the error line after them, so stdout stays clean for scripts.
    captured = capsys.readouterr()
    assert "ImproperlyConfigured: SECRET_KEY" in captured.err
    assert "ImproperlyConfigured" not in captured.out


def test_wait_notices_a_container_that_restarted(settings, engine, clock):
    states = [Result("running 0 starting"), Result("running 1 starting")]
    s = stack(settings, engine, WEB_UP, (CONTAINER_STATE, states))
    with pytest.raises(StackError) as caught:
        wait_until_healthy(s)
    assert "stopped" in caught.value.message
    assert ran(s.c, "logs", "--no-color")


def test_wait_times_out_after_wait_timeout_and_says_how_to_raise_it(project_root, engine, clock):
    write(project_root, "WAIT_TIMEOUT=3\n")
    s = stack(load_settings(project_root, {}), engine, WEB_UP, (CONTAINER_STATE, Result("running 0 starting")))
    with pytest.raises(StackError) as caught:
        wait_until_healthy(s)
    message = caught.value.message
    assert "WAIT_TIMEOUT" in message and "3s" in message and "starting" in message
    assert sum(clock.sleeps) == pytest.approx(3.0)
    assert ran(s.c, "logs", "--no-color", "--no-log-prefix", "--tail", "30", "web")


def test_wait_without_a_container_says_run_up(settings, engine, clock):
    s = stack(settings, engine)
    with pytest.raises(StackError) as caught:
        wait_until_healthy(s)
    assert "inv up" in caught.value.message


def test_wait_is_skipped_in_a_dry_run(settings, engine):
    s = stack(settings, engine, dry=True)
    wait_until_healthy(s)
    assert not s.c.run.called


def test_a_stopped_container_is_reported_with_its_own_reason(settings, engine, clock):
    log = "entrypoint: starting granian\nentrypoint: error: refusing to serve in production: ?: (security.W018) DEBUG\n"
    logs = (r".* logs --no-color --no-log-prefix --tail 30 web$", Result(log))
    s = stack(settings, engine, logs, WEB_UP, (CONTAINER_STATE, [Result("running 0 starting"), Result("restarting 1 ")]))
    with pytest.raises(StackError) as caught:
        wait_until_healthy(s)
    assert caught.value.message.startswith(
        "error: the web container stopped before it became healthy: refusing to serve in production: ?: (security.W018) DEBUG; "
    )


@pytest.mark.parametrize(("log", "reason"), [
    (["entrypoint: waiting for the database: refused", "entrypoint: error: the database did not answer within 60s: x"],
     "the database did not answer within 60s: x"),
    (["\x1b[2Kentrypoint: error: WEB_SERVER must be one of granian, got 'uwsgi'"], "WEB_SERVER must be one of granian, got 'uwsgi'"),
    (["entrypoint: error: an older refusal", "Traceback (most recent call last):", '  File "x.py", line 1, in <module>',
      "    import blog", "ModuleNotFoundError: No module named 'blog'", "Watching for file changes"],
     "ModuleNotFoundError: No module named 'blog'"),
    (["entrypoint: starting granian", "entrypoint: waiting for the database: refused"], ""),
    ([], ""),
])
def test_stop_reason_is_the_containers_own_last_word(log, reason):
    assert stop_reason(log) == reason
