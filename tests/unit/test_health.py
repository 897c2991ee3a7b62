"""wait_until_healthy: until every web container answers, or at once with the container's own reason when it never will."""

from __future__ import annotations

import dataclasses

import pytest
from invoke import Result

from devtools.scratch import free_ports
from stack.errors import StackError
from stack.health import (
    LOG_ROUNDS,
    front_page,
    http_status,
    stop_reason,
    wait_until_healthy,
)
from stack.settings import load_settings

from .conftest import (
    CONTAINER_ID,
    CONTAINER_STATE,
    WEB_UP,
    calls,
    http_server,
    ran,
    stack,
    write,
)

STARTING = Result("running 0 2026-11-30T09:00:00Z starting\n")
HEALTHY = Result("running 0 2026-11-30T09:00:00Z healthy\n")
LOGS = r".* logs --no-color --no-log-prefix --tail 200 web$"


@pytest.fixture
def site():
    """A server standing in for a published web container: /healthz answers 503 `site.failures` times, then 200."""

    def healthz(path):
        healthy = path == "/healthz" and server.failures <= 0
        server.failures -= 1
        return 200 if healthy else server.status_for_failures

    with http_server(healthz) as server:
        server.failures = 0
        server.status_for_failures = 503
        server.published = (r"docker port c0ffee 8000/tcp", Result(f"127.0.0.1:{server.server_address[1]}\n"))
        yield server


@pytest.fixture
def remote(monkeypatch):
    """An engine elsewhere: its ports are not this machine's to ask, so its health decides."""
    monkeypatch.setenv("DOCKER_HOST", "tcp://build-server:2376")


# ---- a local engine: the site's own answer decides ----


def test_wait_ends_when_the_published_port_answers_before_the_engine_probes(settings, engine, clock, site):
    s = stack(settings, engine, WEB_UP, site.published, (CONTAINER_STATE, STARTING))
    wait_until_healthy(s)
    assert clock.sleeps == []
    assert ran(s.c, "docker", "port", "c0ffee", "8000/tcp")


def test_wait_goes_on_until_healthz_answers_200(settings, engine, clock, site):
    site.failures = 2
    s = stack(settings, engine, WEB_UP, site.published, (CONTAINER_STATE, STARTING))
    wait_until_healthy(s)
    assert clock.sleeps == [0.2, 0.2]
    # The published port is looked up once, not on every round.
    assert sum(argv[:2] == ["docker", "port"] for argv, _ in calls(s.c)) == 1


def test_a_server_that_answers_healthz_with_404_is_named_within_a_second(project_root, engine, clock, site):
    # A project whose WSGI module sets DJANGO_SETTINGS_MODULE itself: no image layer, no /healthz.
    write(project_root, "WAIT_TIMEOUT=600\n")
    site.failures = 1000
    site.status_for_failures = 404
    s = stack(load_settings(project_root, {}), engine, WEB_UP, site.published, (CONTAINER_STATE, STARTING))
    with pytest.raises(StackError) as caught:
        wait_until_healthy(s)
    assert caught.value.message.startswith("error: the site answers, but /healthz is 404")
    assert "os.environ.setdefault" in caught.value.message
    assert len(clock.sleeps) == LOG_ROUNDS - 1


def test_the_engine_saying_healthy_is_not_enough_when_nothing_answers(project_root, engine, clock):
    # The engine's verdict lags: a server that just failed still shows "healthy" for a few probes.
    write(project_root, "WAIT_TIMEOUT=2\n")
    published = (r"docker port c0ffee 8000/tcp", Result(f"127.0.0.1:{free_ports()}\n"))
    s = stack(load_settings(project_root, {}), engine, WEB_UP, published, (CONTAINER_STATE, HEALTHY))
    with pytest.raises(StackError) as caught:
        wait_until_healthy(s)
    assert caught.value.message.startswith("error: the site did not answer within 2s")


# ---- a remote engine: its health decides ----


def test_a_remote_engine_is_waited_for_until_it_says_healthy(settings, engine, clock, remote):
    s = stack(settings, engine, WEB_UP, (CONTAINER_STATE, [STARTING, STARTING, HEALTHY]))
    wait_until_healthy(s)
    inspects = [argv for argv, _ in calls(s.c) if argv[:2] == ["docker", "inspect"]]
    assert len(inspects) == 3 and all(argv[-1] == "c0ffee" for argv in inspects)
    assert clock.sleeps == [0.2]
    assert not ran(s.c, "docker", "port")


def test_wait_waits_for_every_web_container(settings, engine, clock, remote):
    replicas = (CONTAINER_ID, Result("aaa\nbbb\n"))
    s = stack(settings, engine, replicas, (CONTAINER_STATE, [STARTING, STARTING, HEALTHY, STARTING, HEALTHY]))
    wait_until_healthy(s)
    inspected = [argv[-1] for argv, _ in calls(s.c) if argv[:2] == ["docker", "inspect"]]
    # The restart counts of both first, then each until healthy: bbb was still starting once.
    assert inspected == ["aaa", "bbb", "aaa", "bbb", "bbb"]
    assert clock.sleeps == [0.2]


def test_a_remote_container_without_healthcheck_counts_once_running(settings, engine, clock, remote):
    wait_until_healthy(stack(settings, engine, WEB_UP, (CONTAINER_STATE, Result("running 0 2026-11-30T09:00:00Z "))))
    assert clock.sleeps == []


# ---- never: said as soon as it is clear, with the container's own reason ----


def test_wait_for_an_exited_container_shows_its_logs_and_fails(settings, engine, compose_prefix, clock, capsys):
    logs = (LOGS, Result("Traceback (most recent call last):\n  File x\nImproperlyConfigured: SECRET_KEY\n"))
    s = stack(settings, engine, logs, WEB_UP, (CONTAINER_STATE, Result("exited 1 2026-11-30T09:00:00Z ")))
    with pytest.raises(StackError) as caught:
        wait_until_healthy(s)
    assert caught.value.message.startswith(
        "error: the web container stopped before it answered: ImproperlyConfigured: SECRET_KEY; fix the cause"
    )
    assert [*compose_prefix, "logs", "--no-color", "--no-log-prefix", "--tail", "200", "web"] in [argv for argv, _ in calls(s.c)]
    # The logs go to stderr, like the error line after them, so stdout stays clean for scripts.
    captured = capsys.readouterr()
    assert "ImproperlyConfigured: SECRET_KEY" in captured.err
    assert "ImproperlyConfigured" not in captured.out


def test_wait_notices_a_container_that_restarted(settings, engine, clock):
    states = [STARTING, Result("running 1 2026-11-30T09:00:01Z starting")]
    s = stack(settings, engine, WEB_UP, (CONTAINER_STATE, states))
    with pytest.raises(StackError) as caught:
        wait_until_healthy(s)
    assert "stopped before it answered" in caught.value.message
    assert ran(s.c, "logs", "--no-color")


def test_a_server_that_failed_but_left_its_container_running_is_named_within_a_second(settings, engine, clock, site):
    # runserver, say, after an error in the URLconf: it waits for a fix instead of exiting.
    site.failures = 1000
    crash = "Watching for file changes\nTraceback (most recent call last):\n  File x\nNameError: name 'pth' is not defined\n"
    since = (r"docker logs --since 2026-11-30T09:00:00Z --tail 200 c0ffee$", Result(crash))
    s = stack(settings, engine, WEB_UP, site.published, since, (CONTAINER_STATE, STARTING), (LOGS, Result(crash)))
    with pytest.raises(StackError) as caught:
        wait_until_healthy(s)
    assert caught.value.message.startswith(
        "error: the web container failed to start its server: NameError: name 'pth' is not defined"
    )
    assert len(clock.sleeps) == LOG_ROUNDS - 1


def test_a_server_error_followed_by_other_lines_but_no_reload_is_a_crash(settings, engine, clock, site):
    site.failures = 1000
    log = ("Traceback (most recent call last):\n  File x\nModuleNotFoundError: No module named 'blgo'\n"
           "2026-11-30 09:37:57,139 INFO django.utils.autoreload: Watching for file changes with StatReloader\n")
    s = stack(settings, engine, WEB_UP, site.published, (r"docker logs --since", Result(log)), (CONTAINER_STATE, STARTING))
    with pytest.raises(StackError) as caught:
        wait_until_healthy(s)
    assert "failed to start its server: ModuleNotFoundError: No module named 'blgo'" in caught.value.message


def test_an_error_the_server_has_logged_more_after_is_not_taken_for_a_crash(project_root, engine, clock, site):
    # runserver reloading after the fix: the old traceback is still in the log, but not last.
    write(project_root, "WAIT_TIMEOUT=2\n")
    site.failures = 1000
    log = "Traceback (most recent call last):\n  File x\nNameError: name 'pth' is not defined\n/app/config/urls.py changed, reloading.\n"
    s = stack(load_settings(project_root, {}), engine, WEB_UP, site.published, (r"docker logs --since", Result(log)),
              (CONTAINER_STATE, STARTING))
    with pytest.raises(StackError) as caught:
        wait_until_healthy(s)
    assert "did not answer within 2s" in caught.value.message


def test_a_log_without_an_error_keeps_the_wait_going(project_root, engine, clock, site):
    write(project_root, "WAIT_TIMEOUT=3\n")
    site.failures = 1000
    quiet = (r"docker logs --since", Result("entrypoint: waiting for the database: refused\n"))
    s = stack(load_settings(project_root, {}), engine, WEB_UP, site.published, quiet, (CONTAINER_STATE, STARTING))
    with pytest.raises(StackError) as caught:
        wait_until_healthy(s)
    message = caught.value.message
    assert "WAIT_TIMEOUT" in message and "3s" in message and "starting" in message
    assert sum(clock.sleeps) == pytest.approx(3.0)
    assert ran(s.c, "logs", "--no-color", "--no-log-prefix", "--tail", "200", "web")


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
    s = stack(settings, engine, (LOGS, Result(log)), WEB_UP,
              (CONTAINER_STATE, [STARTING, Result("restarting 1 2026-11-30T09:00:01Z ")]))
    with pytest.raises(StackError) as caught:
        wait_until_healthy(s)
    assert caught.value.message.startswith(
        "error: the web container stopped before it answered: refusing to serve in production: ?: (security.W018) DEBUG; "
    )


@pytest.mark.parametrize(("log", "reason"), [
    (["entrypoint: waiting for the database: refused", "entrypoint: error: the database did not answer within 60s: x"],
     "the database did not answer within 60s: x"),
    (["\x1b[2Kentrypoint: error: WEB_SERVER must be one of granian, got 'uwsgi'"], "WEB_SERVER must be one of granian, got 'uwsgi'"),
    (["entrypoint: error: an older refusal", "Traceback (most recent call last):", '  File "x.py", line 1, in <module>',
      "    import blog", "ModuleNotFoundError: No module named 'blog'", "Watching for file changes"],
     "ModuleNotFoundError: No module named 'blog'"),
    (["entrypoint: starting granian", "entrypoint: waiting for the database: refused"], ""),
    # Another thread's log line between the frames and the exception's own line.
    (["Traceback (most recent call last):", '  File "x.py", line 1', "2026-11-30 09:37:57,139 INFO django.utils.autoreload: "
      "Watching for file changes", "ModuleNotFoundError: No module named 'blgo'"], "ModuleNotFoundError: No module named 'blgo'"),
    ([], ""),
])
def test_stop_reason_is_the_containers_own_last_word(log, reason):
    assert stop_reason(log) == reason


# ---- the front page, as the URL `inv up` prints answers it ----


@pytest.fixture
def front(settings):
    """A server answering with `front.status`, and settings whose URL points at it."""
    with http_server(lambda path: server.status) as server:
        server.status = 200
        server.settings = dataclasses.replace(settings, web_port=server.server_address[1],
                                              environment={**settings.environment, "ALLOWED_HOSTS": "example.com"})
        yield server


@pytest.mark.parametrize("status", [200, 302])
def test_a_front_page_that_answers_2xx_or_3xx_is_fine(engine, front, status):
    front.status = status
    assert front_page(stack(front.settings, engine)) == ""


def test_a_400_names_allowed_hosts_and_the_host(engine, front):
    front.status = 400
    with pytest.raises(StackError) as caught:
        front_page(stack(front.settings, engine))
    assert caught.value.message == (
        f"error: the site answers {front.settings.url} with 400 Bad Request: Django refuses the host '127.0.0.1'. "
        "Add it to ALLOWED_HOSTS in .env (now example.com)"
    )


def test_a_server_error_is_an_error_and_a_404_only_a_note(engine, front):
    front.status = 500
    with pytest.raises(StackError) as caught:
        front_page(stack(front.settings, engine))
    assert "with 500" in caught.value.message and "inv logs web" in caught.value.message
    front.status = 404
    assert front_page(stack(front.settings, engine)) == f"{front.settings.url} answers 404"


def test_http_status_does_not_follow_a_redirect():
    with http_server(lambda path: 302) as server:
        assert http_status(f"http://127.0.0.1:{server.server_address[1]}/") == 302
    assert isinstance(http_status(f"http://127.0.0.1:{free_ports()}/"), str)
