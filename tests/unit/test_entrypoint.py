"""docker/entrypoint.py's production servers: the exact command each WEB_SERVER gets."""

from __future__ import annotations

import importlib.util
import os
import re
import stat

import pytest

from .conftest import REPO

APP = "config.wsgi:application"
# Every production server, in the entrypoint's order: the tests below cover each.
SERVERS = ("granian", "gunicorn-gthread", "gunicorn-sync")
# Where each server takes WEB_THREADS (gunicorn-sync has no threads).
THREADS_OPTION = {"granian": "--blocking-threads", "gunicorn-gthread": "--threads"}


@pytest.fixture
def entrypoint(monkeypatch):
    """The entrypoint as a module, on a host with two CPUs unless a test says otherwise."""
    for name in ("PORT", "GRACEFUL_TIMEOUT"):
        monkeypatch.delenv(name, raising=False)
    spec = importlib.util.spec_from_file_location("entrypoint", REPO / "docker" / "entrypoint.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    monkeypatch.setattr(module, "cpu_count", lambda: 2)
    return module


def option(command: list[str], name: str) -> str:
    return command[command.index(name) + 1]


def test_granian_serves_wsgi_with_a_worker_per_cpu_and_four_threads_each(entrypoint):
    assert entrypoint.production_command(APP, {"WEB_SERVER": "granian"}) == [
        "granian", "--interface", "wsgi", APP,
        "--host", "0.0.0.0",
        "--port", "8000",
        "--workers", "2",
        "--blocking-threads", "4",
        "--access-log",
        "--log-config", str(REPO / "docker" / "granian-log.json"),
        "--workers-kill-timeout", "8",
        "--respawn-failed-workers",
    ]


def test_gunicorn_gthread_runs_two_workers_per_cpu_plus_one_with_four_threads_each(entrypoint):
    assert entrypoint.production_command(APP, {"WEB_SERVER": "gunicorn-gthread"}) == [
        "gunicorn", APP,
        "--bind", "0.0.0.0:8000",
        "--workers", "5",
        "--worker-class", "gthread",
        "--threads", "4",
        "--access-logfile", "-",
        "--logger-class", "gunicornlogger.ProbeQuietLogger",
        "--error-logfile", "-",
        "--graceful-timeout", "8",
        "--no-control-socket",
    ]


def test_gunicorn_sync_gets_no_threads_which_would_turn_it_into_gthread(entrypoint):
    command = entrypoint.production_command(APP, {"WEB_SERVER": "gunicorn-sync", "WEB_THREADS": "8"})
    assert command == [
        "gunicorn", APP,
        "--bind", "0.0.0.0:8000",
        "--workers", "5",
        "--worker-class", "sync",
        "--access-logfile", "-",
        "--logger-class", "gunicornlogger.ProbeQuietLogger",
        "--error-logfile", "-",
        "--graceful-timeout", "8",
        "--no-control-socket",
    ]


@pytest.mark.parametrize("value", ["", "  ", None])
def test_granian_is_the_default(entrypoint, value):
    environ = {} if value is None else {"WEB_SERVER": value}
    assert entrypoint.production_command(APP, environ)[0] == "granian"
    assert entrypoint.DEFAULT_WEB_SERVER == "granian"


def test_the_name_is_trimmed_and_case_insensitive(entrypoint):
    assert entrypoint.production_command(APP, {"WEB_SERVER": " Gunicorn-Sync "})[:2] == ["gunicorn", APP]


def test_an_unknown_server_stops_the_container_with_one_line_naming_the_choices(entrypoint):
    with pytest.raises(SystemExit) as stopped:
        entrypoint.production_command(APP, {"WEB_SERVER": "uwsgi"})
    assert stopped.value.code == (
        "entrypoint: error: WEB_SERVER must be one of granian, gunicorn-gthread, gunicorn-sync, got 'uwsgi'"
    )


@pytest.mark.parametrize("name", ["WEB_CONCURRENCY", "WEB_THREADS"])
@pytest.mark.parametrize("value", ["0", "four", "65", "-1", "٣"])
def test_a_count_that_is_not_1_to_64_stops_the_container_with_one_line(entrypoint, name, value):
    with pytest.raises(SystemExit) as caught:
        entrypoint.production_command(APP, {"WEB_SERVER": "gunicorn-gthread", name: value})
    assert caught.value.code == f"entrypoint: error: {name} must be a whole number from 1 to 64, got {value!r}"


def test_the_default_is_one_of_the_servers_and_every_server_is_tested_here(entrypoint):
    assert entrypoint.DEFAULT_WEB_SERVER in entrypoint.SERVERS
    assert tuple(entrypoint.SERVERS) == SERVERS


@pytest.mark.parametrize("server, workers", [("granian", "64"), ("gunicorn-gthread", "3"), ("gunicorn-sync", "1")])
def test_web_concurrency_and_web_threads_win(entrypoint, server, workers):
    command = entrypoint.production_command(APP, {"WEB_SERVER": server, "WEB_CONCURRENCY": workers, "WEB_THREADS": "7"})
    assert option(command, "--workers") == workers
    if server in THREADS_OPTION:
        assert option(command, THREADS_OPTION[server]) == "7"


@pytest.mark.parametrize("cpus, granian, gunicorn", [(1, "1", "3"), (2, "2", "5"), (5, "5", "11"), (64, "12", "12")])
def test_default_workers_follow_the_cpus_up_to_twelve(entrypoint, monkeypatch, cpus, granian, gunicorn):
    monkeypatch.setattr(entrypoint, "cpu_count", lambda: cpus)
    assert option(entrypoint.production_command(APP, {"WEB_SERVER": "granian"}), "--workers") == granian
    for server in ("gunicorn-gthread", "gunicorn-sync"):
        assert option(entrypoint.production_command(APP, {"WEB_SERVER": server}), "--workers") == gunicorn


@pytest.mark.parametrize("server", SERVERS)
def test_every_server_listens_on_port_on_every_interface(entrypoint, monkeypatch, server):
    monkeypatch.setattr(entrypoint, "PORT", "9000")
    text = " ".join(entrypoint.production_command(APP, {"WEB_SERVER": server}))
    assert "--bind 0.0.0.0:9000" in text or "--host 0.0.0.0 --port 9000" in text


def test_requests_in_flight_get_less_than_compose_waits_before_sigkill(entrypoint):
    grace = re.search(r"stop_grace_period: (\d+)s", (REPO / "docker-compose.yml").read_text())
    assert grace and int(entrypoint.GRACEFUL_TIMEOUT) < int(grace.group(1))
    for server, name in (("granian", "--workers-kill-timeout"), ("gunicorn-gthread", "--graceful-timeout"),
                         ("gunicorn-sync", "--graceful-timeout")):
        assert option(entrypoint.production_command(APP, {"WEB_SERVER": server}), name) == entrypoint.GRACEFUL_TIMEOUT


@pytest.mark.parametrize("name", ["WEB_SERVER", "WEB_CONCURRENCY", "WEB_THREADS"])
def test_compose_hands_the_server_variables_to_the_container(name):
    assert re.search(rf"^      {name}:$", (REPO / "docker-compose.yml").read_text(), re.MULTILINE)


# ---- the data volume, before anything runs ----


@pytest.fixture
def volume(entrypoint, tmp_path, monkeypatch):
    monkeypatch.setattr(entrypoint, "DATA_DIR", str(tmp_path))
    old = os.umask(0o002)
    yield tmp_path
    os.umask(old)


def test_the_sqlite_file_is_made_group_writable_before_sqlite_makes_it_0644(entrypoint, volume, monkeypatch):
    monkeypatch.setenv("DATABASE_URL", f"sqlite:///{volume}/db.sqlite3")
    entrypoint.make_sqlite_file()
    made = volume / "db.sqlite3"
    assert made.stat().st_size == 0 and stat.S_IMODE(made.stat().st_mode) == 0o664
    made.write_bytes(b"SQLite format 3\x00 and more")
    entrypoint.make_sqlite_file()
    assert made.read_bytes().startswith(b"SQLite format 3")


@pytest.mark.parametrize("url", ["postgres://u:p@db/site", "sqlite:///relative.sqlite3", "sqlite:////elsewhere/db.sqlite3", ""])
def test_other_databases_and_places_are_left_alone(entrypoint, volume, monkeypatch, url):
    monkeypatch.setenv("DATABASE_URL", url)
    entrypoint.make_sqlite_file()
    assert list(volume.iterdir()) == []


def test_the_upload_directories_exist_before_djangos_checks_ask_for_them(entrypoint, volume):
    entrypoint.make_upload_directories()
    assert sorted(path.name for path in volume.iterdir()) == [".upload-tmp", "media"]


# ---- what each command does, in order (the Django and database steps stand in) ----


@pytest.fixture
def steps(entrypoint, monkeypatch):
    """The steps `serve` and `migrate` take, recorded by name instead of run."""
    done: list[str] = []
    for name in ("setup_django", "share_data_volume", "wait_for_database", "migrate", "log_overridden_settings"):
        monkeypatch.setattr(entrypoint, name, lambda *args, name=name: done.append(name))
    monkeypatch.setattr(entrypoint, "refuse_unsafe_settings", lambda action="serve": done.append(f"refuse unsafe: {action}"))
    monkeypatch.setattr(entrypoint.os, "execvp", lambda program, argv: done.append(f"exec {program}"))
    monkeypatch.setenv("ENVIRONMENT", "production")
    for name in ("MIGRATE", "WEB_SERVER", "WEB_CONCURRENCY", "WEB_THREADS"):
        monkeypatch.delenv(name, raising=False)
    return done


@pytest.mark.parametrize("value", [None, "", "true", "YES", "1", "on"])
def test_serve_migrates_before_the_server_starts_unless_told_not_to(entrypoint, steps, monkeypatch, value):
    if value is not None:
        monkeypatch.setenv("MIGRATE", value)
    entrypoint.serve()
    assert steps == ["setup_django", "share_data_volume", "refuse unsafe: serve", "log_overridden_settings",
                     "wait_for_database", "migrate", "exec granian"]


@pytest.mark.parametrize("value", ["false", "False", "0", "no", "off"])
def test_migrate_false_serves_after_the_wait_without_migrating(entrypoint, steps, monkeypatch, value):
    monkeypatch.setenv("MIGRATE", value)
    entrypoint.serve()
    assert steps == ["setup_django", "share_data_volume", "refuse unsafe: serve", "log_overridden_settings",
                     "wait_for_database", "exec granian"]


def test_a_migrate_value_that_is_not_yes_or_no_stops_serve_before_the_database(entrypoint, steps, monkeypatch):
    monkeypatch.setenv("MIGRATE", "later")
    with pytest.raises(SystemExit) as stopped:
        entrypoint.serve()
    assert stopped.value.code == "entrypoint: error: MIGRATE must be one of true/false, 1/0, yes/no, on/off; got 'later'"
    assert "wait_for_database" not in steps


def test_the_migrate_command_checks_waits_migrates_and_returns(entrypoint, steps, volume):
    entrypoint.main(["migrate"])
    assert steps == ["setup_django", "share_data_volume", "refuse unsafe: migrate", "log_overridden_settings",
                     "wait_for_database", "migrate"]


def test_the_migrate_command_in_development_leaves_the_deployment_checks_out(entrypoint, steps, volume, monkeypatch):
    monkeypatch.setenv("ENVIRONMENT", "development")
    entrypoint.main(["migrate"])
    assert "refuse unsafe: migrate" not in steps and steps[-1] == "migrate"


@pytest.mark.parametrize("argv", [["migrate", "--plan"], ["migrate-data"], ["python", "manage.py", "migrate"]])
def test_any_other_command_is_executed_as_given(entrypoint, steps, volume, argv):
    entrypoint.main(argv)
    assert steps == [f"exec {argv[0]}"]


def test_a_failed_migrate_prints_its_traceback_then_one_line(entrypoint, steps, volume, monkeypatch, capsys):
    def broken():
        raise RuntimeError('relation "guestbook_entry"\nalready exists')

    monkeypatch.setattr(entrypoint, "migrate", broken)
    with pytest.raises(SystemExit) as stopped:
        entrypoint.main(["migrate"])
    assert stopped.value.code == (
        'entrypoint: error: migrate failed: RuntimeError: relation "guestbook_entry" already exists'
    )
    assert "Traceback (most recent call last)" in capsys.readouterr().err


# ---- secrets as files, before anything reads the environment ----


def test_the_database_url_of_a_secret_file_is_read_before_the_sqlite_file_is_made(entrypoint, volume, monkeypatch):
    import settingsrules

    secrets = volume / "secrets"
    secrets.mkdir()
    (secrets / "DATABASE_URL").write_text(f"sqlite:///{volume}/db.sqlite3\n")
    monkeypatch.setattr(settingsrules, "SECRETS_DIR", str(secrets))
    monkeypatch.setenv("DATABASE_URL", "")
    monkeypatch.setenv("DATABASE_URL_FILE", str(secrets / "DATABASE_URL"))
    ran = []
    monkeypatch.setattr(entrypoint.os, "execvp", lambda program, argv: ran.append(argv))
    entrypoint.main(["env"])
    assert (volume / "db.sqlite3").is_file()
    # What it runs inherits the value, as every other variable.
    assert ran == [["env"]] and os.environ["DATABASE_URL"] == f"sqlite:///{volume}/db.sqlite3"


def test_a_secret_file_that_cannot_be_read_stops_the_container_with_one_line(entrypoint, volume, monkeypatch):
    import settingsrules

    monkeypatch.setattr(settingsrules, "SECRETS_DIR", str(volume))
    monkeypatch.setenv("SECRET_KEY", "")
    monkeypatch.setenv("SECRET_KEY_FILE", f"{volume}/SECRET_KEY")
    with pytest.raises(SystemExit) as stopped:
        entrypoint.main(["serve"])
    assert stopped.value.code == (
        f"entrypoint: error: SECRET_KEY_FILE={volume}/SECRET_KEY: cannot read the secret for SECRET_KEY "
        "(No such file or directory)"
    )
