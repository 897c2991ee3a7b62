"""`inv doctor`: one line per check, ok, warn or fail with its fix, skipped when an earlier one found
something missing; exit status 1 after every line when any failed; never a secret in its output.

Docker is scripted (MockContext); the docker command on PATH, the disk and the site's answers are faked.
"""

from __future__ import annotations

import socket
from collections import namedtuple
from types import SimpleNamespace
from unittest.mock import DEFAULT

import pytest
from invoke import Exit, Result
from invoke.exceptions import CommandTimedOut

import tasks
from devtools.scratch import free_ports
from stack import doctor, health
from stack.errors import StackError

from .conftest import (
    CONTAINER_ID,
    CONTAINER_STATE,
    RUNNING_WEB,
    VOLUME_LS,
    calls,
    mock_context,
    ran,
    write,
)

CHECKS = ["docker", "daemon", "compose", "buildkit", "base image", ".env", "port", "disk", "data volume", "site",
          "extra CA"]
ENGINE = [
    (r"docker --version", Result("Docker version 28.2.2, build e6534b4\n")),
    (r"docker version --format", Result("28.2.2\n")),
    (r"docker compose version --short", Result("2.37.1\n")),
    (r"docker buildx version", Result("github.com/docker/buildx v0.25.0 faeb6a8\n")),
    (r"docker image inspect ", Result("sha256:0123\n")),
]
LS_DATA = r"docker compose .* exec -T web ls -ln /data$"
LISTING = (
    "total 140\n"
    "-rw-rw-r-- 1 10001 10001 131072 Jan  1 00:00 db.sqlite3\n"
    "-rw-rw-r-- 1 10001 10001  32768 Jan  1 00:00 db.sqlite3-shm\n"
    "-rw-rw-r-- 1 10001 10001      0 Jan  1 00:00 db.sqlite3-wal\n"
    "-rw-r--r-- 1 10001 10001      0 Jan  1 00:00 migrate.lock\n"
)
RUNNING = [(VOLUME_LS, Result("proj_data\n")), (RUNNING_WEB, Result("c0ffee\n")), (LS_DATA, Result(LISTING))]
NO_DAEMON = (r"docker version --format", Result(
    "", stderr="Cannot connect to the Docker daemon at unix:///var/run/docker.sock. Is the docker daemon running?\n",
    exited=1))
GB = 10**9
Usage = namedtuple("Usage", "total used free")


class Machine:
    """The docker command on PATH, the free disk space, and what the site answers."""

    def __init__(self, monkeypatch, tmp_path):
        self.installed = {"docker"}
        self.free = 50 * GB
        self.disk_paths: list[str] = []
        self.data_root = tmp_path / "docker-root"
        self.data_root.mkdir()
        self.healthz = True
        self.status: int | str = 200
        monkeypatch.setattr(doctor, "shutil", SimpleNamespace(which=self.which, disk_usage=self.disk_usage))
        monkeypatch.setattr(health, "answers", lambda stack, container, published: self.healthz)
        monkeypatch.setattr(doctor, "http_status", lambda url: self.status)

    def which(self, name):
        if name not in self.installed:
            return None
        return name if name.startswith("/") else f"/usr/bin/{name}"

    def disk_usage(self, path):
        self.disk_paths.append(str(path))
        return Usage(500 * GB, 500 * GB - self.free, self.free)

    @property
    def info(self):
        return (r"docker info --format", Result(f"{self.data_root}\n"))


@pytest.fixture
def machine(monkeypatch, tmp_path):
    return Machine(monkeypatch, tmp_path)


@pytest.fixture
def root(project_root):
    write(project_root, f"COMPOSE_PROJECT_NAME=proj\nWEB_PORT={free_ports()}\n")
    return project_root


def scripted(*responses):
    """A mock context answering from the responses, the first for a pattern winning (overrides go first)."""
    first: dict[str, Result] = {}
    for pattern, result in responses:
        first.setdefault(pattern, result)
    return mock_context(*first.items())


def diagnose(root, *responses, environ=None):
    """(c, {check: (status, text)}) of a doctor run against scripted docker answers."""
    c = scripted(*responses)
    lines = list(doctor.diagnose(c, root, environ or {}))
    assert [line.check for line in lines] == CHECKS
    return c, {line.check: (line.status, line.text) for line in lines}


def all_up(machine):
    return [machine.info, *ENGINE, *RUNNING]


# ---- all well ----


def test_a_healthy_machine_with_the_site_up_is_ok_on_every_line(root, machine):
    c, rows = diagnose(root, *all_up(machine))
    port = rows["port"][1].split()[0]
    assert rows == {
        "docker": ("ok", "Docker version 28.2.2 (/usr/bin/docker)"),
        "daemon": ("ok", "Docker Engine 28.2.2"),
        "compose": ("ok", "Compose 2.37.1"),
        "buildkit": ("ok", "in the daemon (Docker 28.2.2 >= 18.09); buildx v0.25.0"),
        "base image": ("ok", "python:3.13-slim is here"),
        ".env": ("ok", ".env, ENVIRONMENT=development, DATABASE=sqlite"),
        "port": ("ok", f"{port} on 127.0.0.1 is free"),
        "disk": ("ok", f"50.0 GB free under {machine.data_root}"),
        "data volume": ("ok", "proj_data: db.sqlite3, db.sqlite3-shm, db.sqlite3-wal group-writable"),
        "site": ("ok", "http://127.0.0.1:" + port + "/ answers 200, /healthz 200"),
        "extra CA": ("ok", "none set"),
    }
    assert machine.disk_paths == [str(machine.data_root)]
    # Only look-ups: nothing pulled, built, started or echoed.
    assert not any(ran(c, word) for word in ("pull", "build", "up", "run"))
    assert all(kwargs.get("hide") for _, kwargs in calls(c))


def test_lines_are_aligned_status_then_check_then_text(root, machine, capsys):
    doctor.report(mock_context(*all_up(machine)), root, {})
    lines = capsys.readouterr().out.splitlines()
    assert lines[0] == "ok    docker      Docker version 28.2.2 (/usr/bin/docker)"
    assert len(lines) == len(CHECKS)
    for line in lines:
        assert line[:6].rstrip() in ("ok", "warn", "fail", "-") and line[6] != " " and line[17] == " " and line[18] != " "


def test_the_task_prints_the_lines_and_exits_0_when_nothing_fails(root, machine, monkeypatch, capsys):
    monkeypatch.setattr(tasks, "ROOT", root)
    for name in ("DOCKER", "DOCKER_HOST", "PIP_CERT", "EXTRA_CA_CERT", "WEB_PORT", "BASE_IMAGE", "COMPOSE_PROJECT_NAME"):
        monkeypatch.delenv(name, raising=False)
    tasks.doctor(mock_context(*all_up(machine)))
    out = capsys.readouterr()
    assert [line.split()[0] for line in out.out.splitlines()] == ["ok"] * len(CHECKS)
    assert out.err == ""


def test_a_dry_run_is_refused_in_one_line(root):
    with pytest.raises(StackError) as caught:
        doctor.report(mock_context(dry=True), root, {})
    assert "only looks" in caught.value.message


# ---- keep going: every line, then exit status 1 ----


def test_without_docker_the_checks_that_need_it_are_skipped_and_the_others_still_run(root, machine, capsys):
    machine.installed.clear()
    c = mock_context()
    with pytest.raises(Exit) as caught:
        doctor.report(c, root, {})
    assert caught.value.code == 1
    out = capsys.readouterr().out
    rows = {line[6:17].strip(): (line[:5].strip(), line[18:]) for line in out.splitlines()}
    assert list(rows) == CHECKS
    assert rows["docker"] == ("fail", ("'docker' not found: install Docker (https://docs.docker.com/engine/install/) "
                                      "or set DOCKER in .env to its path"))
    for check in ("daemon", "compose", "buildkit", "base image", "disk", "data volume", "site"):
        assert rows[check] == ("-", "skipped: needs the docker command"), check
    assert rows[".env"][0] == rows["port"][0] == rows["extra CA"][0] == "ok"
    assert calls(c) == []


def test_a_daemon_that_does_not_answer_fails_with_the_fix_and_the_rest_goes_on(root, machine):
    machine.installed.add("docker")
    _c, rows = diagnose(root, NO_DAEMON, *ENGINE)
    assert rows["daemon"] == ("fail", ("does not answer (Cannot connect to the Docker daemon at "
                                      "unix:///var/run/docker.sock. Is the docker daemon running?): start it "
                                      "(`sudo systemctl start docker`, or open Docker Desktop); check DOCKER_HOST if you set it"))
    assert rows["compose"][0] == "ok"
    assert rows["buildkit"] == ("ok", "the buildx v0.25.0 plugin")
    for check in ("base image", "disk", "data volume", "site"):
        assert rows[check] == ("-", "skipped: needs the Docker daemon"), check
    assert rows["port"][0] == rows[".env"][0] == "ok"


def test_a_daemon_socket_you_may_not_use_says_how_to_get_in(root, machine):
    denied = (r"docker version --format", Result("", stderr="permission denied while trying to connect to the "
                                                            "Docker daemon socket at unix:///var/run/docker.sock\n", exited=1))
    _, rows = diagnose(root, denied, *ENGINE)
    assert rows["daemon"][0] == "fail" and "sudo usermod -aG docker $USER" in rows["daemon"][1]


def test_a_hanging_daemon_fails_after_the_timeout_instead_of_hanging(root, machine):
    c = scripted(*ENGINE)

    def hang(command, **kwargs):
        if command.startswith("docker version"):
            raise CommandTimedOut(Result(command=command), timeout=kwargs["timeout"])
        return DEFAULT

    c.run.side_effect = hang
    rows = {line.check: (line.status, line.text) for line in doctor.diagnose(c, root, {})}
    assert rows["daemon"][0] == "fail" and f"no answer within {doctor.TIMEOUT}s" in rows["daemon"][1]


def test_without_compose_v2_the_project_checks_are_skipped(root, machine):
    missing = (r"docker compose version", Result("", stderr="docker: 'compose' is not a docker command.\n", exited=1))
    _, rows = diagnose(root, missing, *all_up(machine))
    assert rows["compose"] == ("fail", ("Compose v2 (`docker compose`) not found: install the Compose plugin "
                                       "(docker-compose-plugin, or docker-compose on Debian 13 and Ubuntu 24.04+)"))
    assert rows["data volume"] == rows["site"] == ("-", "skipped: needs Compose v2")
    assert rows["disk"][0] == rows["base image"][0] == "ok"


# ---- BuildKit ----


def test_an_old_daemon_with_buildx_has_buildkit_through_the_plugin(root, machine):
    _, rows = diagnose(root, (r"docker version --format", Result("17.06.2-ce\n")), *all_up(machine))
    assert rows["buildkit"] == ("ok", "the buildx v0.25.0 plugin")


def test_an_old_daemon_without_buildx_fails_with_the_fix(root, machine):
    old = (r"docker version --format", Result("17.06.2-ce\n"))
    no_buildx = (r"docker buildx version", Result("", stderr="docker: 'buildx' is not a docker command.\n", exited=1))
    _, rows = diagnose(root, old, no_buildx, *all_up(machine))
    assert rows["buildkit"][0] == "fail"
    assert "17.06.2-ce predates BuildKit (18.09)" in rows["buildkit"][1] and "docker-buildx" in rows["buildkit"][1]


def test_a_daemon_with_buildkit_and_no_buildx_says_both(root, machine):
    no_buildx = (r"docker buildx version", Result("", exited=1))
    _, rows = diagnose(root, (r"docker version --format", Result("20.10.24+dfsg1\n")), no_buildx, *all_up(machine))
    assert rows["buildkit"] == ("ok", "in the daemon (Docker 20.10.24+dfsg1 >= 18.09); no buildx plugin")


# ---- the base image ----


def test_a_base_image_not_here_is_a_warning_and_is_not_pulled(root, machine):
    write(root, f"COMPOSE_PROJECT_NAME=proj\nWEB_PORT={free_ports()}\nBASE_IMAGE=registry.example/python:3.13\n")
    c, rows = diagnose(root, (r"docker image inspect ", Result("", exited=1)), *all_up(machine))
    assert rows["base image"] == ("warn", ("registry.example/python:3.13 is not here, the first build pulls it: "
                                          "`docker pull registry.example/python:3.13` tries now; or set BASE_IMAGE in "
                                          ".env to an image you have"))
    assert not ran(c, "pull")
    assert "fail" not in {status for status, _ in rows.values()}


# ---- .env ----


def test_a_bad_env_fails_its_line_and_the_checks_that_need_it_are_skipped(root, machine):
    write(root, "DOCKER=/opt/docker/bin/docker\nWEB_PORT=eighty\n")
    machine.installed.add("/opt/docker/bin/docker")
    _c, rows = diagnose(root, *[(pattern.replace("docker", "/opt/docker/bin/docker", 1), result)
                               for pattern, result in all_up(machine)])
    assert rows[".env"] == ("fail", ".env line 2: WEB_PORT must be a whole number from 1 to 65535, got 'eighty'")
    for check in ("port", "data volume", "site"):
        assert rows[check] == ("-", "skipped: needs a valid .env"), check
    # The engine checks still ran, with the DOCKER of the .env that does not validate.
    assert rows["docker"] == ("ok", "Docker version 28.2.2 (/opt/docker/bin/docker)")
    assert rows["daemon"][0] == rows["base image"][0] == "ok"


def test_without_env_the_defaults_are_shown_and_no_env_is_written(project_root, machine):
    _, rows = diagnose(project_root, *all_up(machine))
    assert rows[".env"] == ("ok", (".env.example only (no .env yet: `inv up` makes it), ENVIRONMENT=development, "
                                  "DATABASE=sqlite"))
    assert not (project_root / ".env").exists()


def test_the_mode_and_database_are_those_env_asks_for(root, machine):
    write(root, f"COMPOSE_PROJECT_NAME=proj\nWEB_PORT={free_ports()}\nENVIRONMENT=production\nDATABASE=postgres\n"
                "POSTGRES_PASSWORD=x-not-shown-x\n")
    _, rows = diagnose(root, *all_up(machine))
    assert rows[".env"] == ("ok", ".env, ENVIRONMENT=production, DATABASE=postgres")


# ---- the port ----


@pytest.fixture
def busy(root):
    """The .env's port, held by a listening socket."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen(1)
        port = sock.getsockname()[1]
        write(root, f"COMPOSE_PROJECT_NAME=proj\nWEB_PORT={port}\n")
        yield port


def test_a_port_held_by_another_program_fails_with_the_fix(root, machine, busy):
    _, rows = diagnose(root, *all_up(machine))
    assert rows["port"] == ("fail", (f"{busy} on 127.0.0.1 is in use by another program: stop it, or set WEB_PORT "
                                    "in .env to a free port"))


def test_a_port_held_by_another_compose_project_names_it(root, machine, busy):
    _, rows = diagnose(root, (rf"docker ps --filter publish={busy} ", Result("other\n")), *all_up(machine))
    assert rows["port"] == ("fail", (f"{busy} on 127.0.0.1 is held by Compose project 'other': stop it "
                                    "(`docker compose --project-name other down`), or set WEB_PORT in .env"))


def test_a_port_held_by_this_stacks_web_container_is_ok(root, machine, busy):
    _, rows = diagnose(root, (rf"docker ps --filter publish={busy} ", Result("proj\n")), *all_up(machine))
    assert rows["port"] == ("ok", f"{busy} on 127.0.0.1: this stack's web container")


def test_the_port_of_a_remote_engine_is_not_this_machines_to_check(root, machine):
    write(root, f"COMPOSE_PROJECT_NAME=proj\nWEB_PORT={free_ports()}\nDOCKER_HOST=ssh://builder\n")
    _, rows = diagnose(root, *all_up(machine))
    assert rows["port"][0] == "-" and "remote" in rows["port"][1]


def test_a_bind_address_not_of_this_machine_fails(root, machine):
    write(root, "COMPOSE_PROJECT_NAME=proj\nWEB_BIND=203.0.113.7\n")
    _, rows = diagnose(root, *all_up(machine))
    assert rows["port"] == ("fail", "WEB_BIND=203.0.113.7 is not an address of this machine: use 127.0.0.1 or 0.0.0.0")


# ---- disk ----


@pytest.mark.parametrize(("free", "status"), [(4.2, "warn"), (0.4, "fail"), (5.0, "ok")])
def test_little_disk_space_warns_under_5_gb_and_fails_under_1_gb(root, machine, free, status):
    machine.free = int(free * GB)
    _, rows = diagnose(root, *all_up(machine))
    assert rows["disk"][0] == status
    assert rows["disk"][1].startswith(f"{free:.1f} GB free under {machine.data_root}")
    if status != "ok":
        assert "`docker system prune`" in rows["disk"][1]


def test_a_data_root_not_on_this_machine_is_measured_on_slash(root, machine):
    _, rows = diagnose(root, (r"docker info --format", Result("/var/lib/docker-in-a-vm-x\n")), *all_up(machine))
    assert machine.disk_paths == ["/"]
    assert rows["disk"] == ("ok", "50.0 GB free on / (/var/lib/docker-in-a-vm-x is not on this machine)")


# ---- the data volume ----


def test_a_sqlite_file_not_group_writable_is_a_warning_with_the_chmod_that_fixes_it(root, machine):
    listing = LISTING.replace("-rw-rw-r-- 1 10001 10001  32768", "-rw-r--r-- 1 1000 10001  32768")
    _, rows = diagnose(root, (LS_DATA, Result(listing)), *all_up(machine))
    assert rows["data volume"] == ("warn", ("db.sqlite3-shm not group-writable (g+w), so read-only for the other "
                                           "ENVIRONMENT: `docker run --rm --user 0 --volume proj_data:/data "
                                           "--entrypoint chmod proj-web:latest g+w /data/db.sqlite3-shm`"))


def test_the_data_volume_is_skipped_when_it_does_not_exist_or_the_site_is_not_running(root, machine):
    _, rows = diagnose(root, (VOLUME_LS, Result("")), *all_up(machine))
    assert rows["data volume"] == ("-", "skipped: no volume proj_data yet (`inv up` makes it)")
    _, rows = diagnose(root, (RUNNING_WEB, Result("")), *all_up(machine))
    assert rows["data volume"] == ("-", "skipped: proj_data is there, but the site is not running (`inv up`)")


def test_a_data_volume_without_sqlite_files_is_ok(root, machine):
    _, rows = diagnose(root, (LS_DATA, Result("total 0\n")), *all_up(machine))
    assert rows["data volume"] == ("ok", "proj_data: no SQLite file on it")


def test_a_listing_that_fails_is_a_warning(root, machine):
    _, rows = diagnose(root, (LS_DATA, Result("", stderr="service \"web\" is not running\n", exited=1)), *all_up(machine))
    assert rows["data volume"][0] == "warn" and 'service "web" is not running' in rows["data volume"][1]


# ---- the site ----


def test_the_site_is_skipped_when_not_running(root, machine):
    _, rows = diagnose(root, (RUNNING_WEB, Result("")), *all_up(machine))
    assert rows["site"] == ("-", "skipped: the site is not running (`inv up` starts it)")


def test_a_web_container_that_keeps_restarting_fails(root, machine):
    restarting = [(RUNNING_WEB, Result("")), (CONTAINER_ID, Result("c0ffee\n")),
                  (CONTAINER_STATE, Result("restarting 4 T0 \n"))]
    _, rows = diagnose(root, *restarting, *all_up(machine))
    assert rows["site"] == ("fail", "the web container keeps restarting: `inv logs web` says why; fix it, then `inv up`")


def test_a_400_means_allowed_hosts_rejects_the_host(root, machine):
    machine.status = 400
    _, rows = diagnose(root, *all_up(machine))
    status, text = rows["site"]
    assert status == "fail"
    assert text.endswith("/ answers 400: ALLOWED_HOSTS rejects 127.0.0.1: add it to ALLOWED_HOSTS in .env, then `inv restart`")


@pytest.mark.parametrize(("answer", "status"), [(302, "ok"), (204, "ok"), (404, "warn"), (500, "fail"),
                                                ("Connection refused", "fail")])
def test_the_urls_answer(root, machine, answer, status):
    machine.status = answer
    _, rows = diagnose(root, *all_up(machine))
    assert rows["site"][0] == status
    assert str(answer) in rows["site"][1]


def test_healthz_not_answering_fails(root, machine):
    machine.healthz = False
    _, rows = diagnose(root, *all_up(machine))
    assert rows["site"] == ("fail", ("/healthz does not answer 200 on 1 of 1 web container(s): see `inv logs web` "
                                    "and `inv status`"))


# ---- the extra CA ----


def test_an_extra_ca_in_pem_is_ok(root, machine):
    (root / "ca.pem").write_text("-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n" * 2)
    write(root, f"COMPOSE_PROJECT_NAME=proj\nWEB_PORT={free_ports()}\nEXTRA_CA_CERT=ca.pem\n")
    _, rows = diagnose(root, *all_up(machine))
    assert rows["extra CA"] == ("ok", "EXTRA_CA_CERT=ca.pem, 2 PEM certificates")


def test_an_extra_ca_that_is_not_pem_fails_with_the_conversion(root, machine):
    (root / "ca.der").write_bytes(b"\x30\x82\x01\x0a")
    write(root, f"COMPOSE_PROJECT_NAME=proj\nWEB_PORT={free_ports()}\nEXTRA_CA_CERT=ca.der\n")
    _, rows = diagnose(root, *all_up(machine))
    assert rows["extra CA"][0] == "fail" and "openssl x509 -inform der -in ca.der" in rows["extra CA"][1]


def test_pip_cert_from_the_environment_that_is_no_file_fails_and_so_does_env(root, machine):
    _, rows = diagnose(root, *all_up(machine), environ={"PIP_CERT": "/nonexistent/ca.pem"})
    assert rows["extra CA"] == ("fail", "PIP_CERT=/nonexistent/ca.pem is not a file: fix the path in .env, or unset it")
    assert rows[".env"][0] == "fail"


# ---- nothing secret ----

SECRETS = {
    "SECRET_KEY": "Distinct-Secret-Key-9f2c1e",
    "POSTGRES_PASSWORD": "Distinct-Postgres-Pass-77ab",
    "DJANGO_SUPERUSER_PASSWORD": "Distinct-Superuser-Pass-31",
    "API_TOKEN": "Distinct-Token-55d0",
}
URL_PASSWORD = "Distinct-URL-Pass@42"


def test_no_secret_value_reaches_the_output_even_when_docker_repeats_it(root, machine, monkeypatch, capsys):
    quoted = URL_PASSWORD.replace("@", "%40")
    write(root, "".join(f"{name}={value}\n" for name, value in SECRETS.items())
          + f"DATABASE_URL=postgres://app:{quoted}@dbhost:5432/app\nWEB_PORT={free_ports()}\n")
    # A daemon that fails, saying what it was given: the worst case for a report.
    talkative = (r"docker version --format", Result("", exited=1, stderr=(
        f"error during connect: {' '.join(SECRETS.values())} postgres://app:{quoted}@dbhost {URL_PASSWORD}\n")))
    monkeypatch.setattr(tasks, "ROOT", root)
    for name in ("DOCKER", "DOCKER_HOST", "PIP_CERT"):
        monkeypatch.delenv(name, raising=False)
    # The environment overrides one: its value and the file's are both secret.
    monkeypatch.setenv("SECRET_KEY", "Distinct-Environment-Key-0b7d")
    talkative[1].stderr += "Distinct-Environment-Key-0b7d\n"
    with pytest.raises(Exit) as caught:
        tasks.doctor(scripted(talkative, *all_up(machine)))
    out = capsys.readouterr()
    everything = out.out + out.err + str(caught.value.message)
    assert "daemon" in everything and "***" in everything
    for secret in [*SECRETS.values(), URL_PASSWORD, quoted, "Distinct-Environment-Key-0b7d"]:
        assert secret not in everything


def test_a_line_dotenv_cannot_parse_is_named_not_quoted_when_it_holds_a_secret(root, machine):
    write(root, f"WEB_PORT={free_ports()}\nSECRET_KEY \"Distinct-Unparsed-Secret\"\n")
    _, rows = diagnose(root, *all_up(machine))
    assert rows[".env"] == ("fail", (".env line 2: cannot parse the SECRET_KEY line (value not shown); write it as "
                                    "NAME=value (quote values that contain spaces or #)"))


def test_the_redactor_masks_secret_names_and_url_passwords_but_not_short_values():
    redact = doctor.Redactor({"SECRET_KEY": "abcdef", "DEBUG": "true", "TOKEN": "x",
                              "CACHE_URL": "redis://u:p%40ssword@cache:6379/0"})
    assert redact("abcdef true x p%40ssword p@ssword") == "*** true x *** ***"


def test_a_password_the_env_message_suggests_is_masked_too(root, machine):
    write(root, f"WEB_PORT={free_ports()}\nDATABASE=postgres\nPOSTGRES_PASSWORD=\n")
    _, rows = diagnose(root, *all_up(machine))
    assert rows[".env"] == ("fail", (".env line 3: POSTGRES_PASSWORD is empty, and DATABASE=postgres needs one: add "
                                    "e.g. POSTGRES_PASSWORD=*** to .env"))


def test_the_redactor_masks_any_assignment_to_a_secrets_name():
    redact = doctor.Redactor({})
    assert redact("set SECRET_KEY=abc, api_token=xyz`; DEBUG=true") == "set SECRET_KEY=***, api_token=***`; DEBUG=true"


def test_a_check_that_breaks_is_a_fail_line_not_a_traceback_and_the_rest_still_run(root, machine):
    def broken(path):
        raise PermissionError(13, "Permission denied", path)

    doctor.shutil.disk_usage = broken
    _, rows = diagnose(root, *all_up(machine))
    assert rows["disk"][0] == "fail" and "PermissionError" in rows["disk"][1]
    assert rows["site"][0] == rows["extra CA"][0] == "ok"
