"""load_settings and create_env_file: what .env means, and what a user is told when it is wrong."""

from __future__ import annotations

import dataclasses
import os
import re
import stat

import pytest
from invoke import Exit

from stack import settings as settings_module
from stack.errors import StackError
from stack.settings import create_env_file, load_settings

from .conftest import write


def fails(root, environ=None) -> StackError:
    with pytest.raises(StackError) as caught:
        load_settings(root, environ or {})
    return caught.value


# ---- layers: .env.example < .env < environment ----


def test_defaults_come_from_env_example(project_root):
    s = load_settings(project_root, {})
    assert s.project_name == "proj"
    assert s.image == "proj-web:latest"
    assert s.base_image == "python:3.13-slim"
    assert (s.web_bind, s.web_port) == ("127.0.0.1", 8000)
    assert s.docker == ("docker",)
    assert s.extra_ca_cert is None
    assert s.echo_commands is True
    assert s.wait_timeout == 120.0
    assert (s.mode, s.production) == ("development", False)
    assert s.compose_files == ("docker-compose.yml", "compose/development.yml")
    assert s.project_dir == (project_root / "site").resolve()
    assert s.environment["DATABASE_URL"] == "sqlite:////data/db.sqlite3"
    assert s.environment["DJANGO_SETTINGS_MODULE"] == "config.settings"


def test_the_shared_settings_fixture_is_what_load_settings_gives(settings):
    assert settings == load_settings(settings.root, {})
    assert settings.root.name == "proj"


def test_a_project_without_any_env_file_still_gets_working_defaults(project_root):
    (project_root / ".env.example").unlink()
    s = load_settings(project_root, {})
    assert (s.project_name, s.image, s.web_port, s.docker) == ("proj", "proj-web:latest", 8000, ("docker",))


def test_env_overrides_env_example(project_root):
    write(project_root, "WEB_PORT=8123\nLOG_LEVEL=DEBUG\n")
    s = load_settings(project_root, {})
    assert s.web_port == 8123
    assert s.environment["WEB_PORT"] == "8123"
    assert s.environment["LOG_LEVEL"] == "DEBUG"


def test_process_environment_overrides_env_for_known_names(project_root):
    write(project_root, "WEB_PORT=8123\nMY_OWN=from-file\n")
    s = load_settings(project_root, {"WEB_PORT": "9001", "LOG_LEVEL": "WARNING", "MY_OWN": "from-shell"})
    assert s.web_port == 9001
    assert s.environment["LOG_LEVEL"] == "WARNING"
    # A name .env introduces counts as known, too.
    assert s.environment["MY_OWN"] == "from-shell"


def test_unknown_process_variables_are_not_imported_except_pip_cert(project_root):
    ca = project_root / "corp.pem"
    ca.write_text("-----BEGIN CERTIFICATE-----\n")
    s = load_settings(project_root, {"HOME": "/home/x", "AWS_SECRET_ACCESS_KEY": "nope", "PIP_CERT": str(ca)})
    assert "HOME" not in s.environment
    assert "AWS_SECRET_ACCESS_KEY" not in s.environment
    assert s.environment["PIP_CERT"] == str(ca)
    assert s.extra_ca_cert == ca


# ---- what a user is told about a broken .env ----


def test_malformed_line_is_reported_with_file_and_line(project_root):
    write(project_root, "WEB_PORT=8000\n# a comment\nthis is not an assignment\n")
    error = fails(project_root)
    assert isinstance(error, Exit)
    assert error.code == 1
    assert ".env line 3" in error.message
    assert "this is not an assignment" in error.message


def test_a_malformed_secret_line_is_named_without_its_value(project_root):
    write(project_root, "SECRET_KEY='s3cr3t-value-never-shown\n")
    message = fails(project_root).message
    assert ".env line 1: cannot parse 'SECRET_KEY=...'" in message and "s3cr3t" not in message


def test_line_numbers_count_the_lines_of_multiline_values(project_root):
    write(project_root, 'GREETING="two\nlines"\nbroken line\n')
    assert ".env line 3" in fails(project_root).message


def test_malformed_env_example_names_that_file(project_root):
    write(project_root, "A=1\nB='unterminated\n", name=".env.example")
    assert ".env.example line 2" in fails(project_root).message


def test_echo_commands_junk_names_the_variable_and_its_last_line(project_root):
    write(project_root, "ECHO_COMMANDS=true\nWEB_PORT=8000\nECHO_COMMANDS=maybe\n")
    message = fails(project_root).message
    assert message == "error: .env line 3: ECHO_COMMANDS must be true or false, got 'maybe'"


def test_echo_commands_junk_from_the_environment_says_so(project_root):
    message = fails(project_root, {"ECHO_COMMANDS": "sure"}).message
    assert "ECHO_COMMANDS (set in the environment)" in message


def test_an_exported_assignment_is_found_for_the_error(project_root):
    write(project_root, "# comment\nexport  WAIT_TIMEOUT = 0\n")
    assert fails(project_root).message.startswith("error: .env line 2: WAIT_TIMEOUT must be")


def test_djangos_own_settings_are_left_to_django(project_root):
    # The container checks these (Django's settings and system checks, docker/entrypoint.py).
    write(project_root, "DEBUG=maybe\nHTTPS=perhaps\nWEB_SERVER=uwsgi\nWEB_THREADS=0\nSECRET_KEY=short\n")
    environment = load_settings(project_root, {"ENVIRONMENT": "production"}).environment
    assert (environment["DEBUG"], environment["HTTPS"], environment["WEB_SERVER"]) == ("maybe", "perhaps", "uwsgi")


@pytest.mark.parametrize("value", ["eighty", "0", "70000", "-1", "80.5", "8000x"])
def test_web_port_must_be_a_port_number(project_root, value):
    write(project_root, f"WEB_PORT={value}\n")
    message = fails(project_root).message
    assert ".env line 1" in message
    assert "WEB_PORT" in message and repr(value) in message


@pytest.mark.parametrize("value", ["1", "65535"])
def test_web_port_accepts_the_whole_port_range(project_root, value):
    write(project_root, f"WEB_PORT={value}\n")
    assert load_settings(project_root, {}).web_port == int(value)


def test_web_port_with_a_non_ascii_digit_is_a_clean_error(project_root):
    # str.isdigit() accepts '²', which int() then refuses: that must be a clean error, not a traceback.
    write(project_root, "WEB_PORT=8000²\n")
    assert "WEB_PORT" in fails(project_root).message


def test_wait_timeout_and_echo_commands_are_read(project_root):
    write(project_root, "WAIT_TIMEOUT=5\nECHO_COMMANDS=off\n")
    s = load_settings(project_root, {})
    assert (s.wait_timeout, s.echo_commands) == (5.0, False)


def test_wait_timeout_zero_is_refused(project_root):
    write(project_root, "WAIT_TIMEOUT=0\n")
    assert "WAIT_TIMEOUT" in fails(project_root).message


@pytest.mark.parametrize("name", ["My_Project", "-leading-dash", "has space", "dotted.name"])
def test_invalid_compose_project_name_is_refused(project_root, name):
    write(project_root, f"COMPOSE_PROJECT_NAME='{name}'\n")
    message = fails(project_root).message
    assert ".env line 1: COMPOSE_PROJECT_NAME" in message
    assert repr(name) in message


@pytest.mark.parametrize(
    ("directory", "expected"),
    [("My Project!", "myproject"), ("__site", "site"), ("django_site-2", "django_site-2"), ("!!!", "django")],
)
def test_default_project_name_comes_from_the_directory_name(tmp_path, directory, expected):
    root = tmp_path / directory
    (root / "site").mkdir(parents=True)
    (root / "site" / "manage.py").write_text("")
    s = load_settings(root, {})
    assert s.project_name == expected
    assert s.environment["COMPOSE_PROJECT_NAME"] == expected
    assert s.image == f"{expected}-web:latest"


def test_explicit_project_name_names_the_image(project_root):
    write(project_root, "COMPOSE_PROJECT_NAME=shop\n")
    s = load_settings(project_root, {})
    assert (s.project_name, s.image) == ("shop", "shop-web:latest")


def test_image_name_and_tag(project_root):
    write(project_root, "IMAGE_NAME=registry.example.com/team/site\nIMAGE_TAG=v1.2\n")
    s = load_settings(project_root, {})
    assert s.image == "registry.example.com/team/site:v1.2"
    assert s.environment["IMAGE"] == "registry.example.com/team/site:v1.2"


@pytest.mark.parametrize("line", ["IMAGE_NAME=Upper/Case", "IMAGE_TAG='bad tag'", "IMAGE_TAG=-dash"])
def test_invalid_image_reference_is_refused(project_root, line):
    write(project_root, line + "\n")
    assert "IMAGE_NAME" in fails(project_root).message


@pytest.mark.parametrize("value", ["../x", "/tmp", "site/../.."])
def test_django_project_dir_must_stay_inside_the_project(project_root, value):
    write(project_root, f"DJANGO_PROJECT_DIR={value}\n")
    message = fails(project_root).message
    assert "DJANGO_PROJECT_DIR" in message and "inside" in message


def test_django_project_dir_must_hold_manage_py(project_root):
    (project_root / "app").mkdir()
    write(project_root, "DJANGO_PROJECT_DIR=app\n")
    message = fails(project_root).message
    assert "DJANGO_PROJECT_DIR" in message and "app/manage.py" in message


def test_django_project_dir_elsewhere_in_the_project(project_root):
    (project_root / "src" / "web").mkdir(parents=True)
    (project_root / "src" / "web" / "manage.py").write_text("")
    write(project_root, "DJANGO_PROJECT_DIR=src/web\n")
    s = load_settings(project_root, {})
    assert s.project_dir == (project_root / "src" / "web").resolve()
    assert s.environment["DJANGO_PROJECT_DIR"] == "src/web"


def test_extra_ca_cert_is_relative_to_the_project_not_the_cwd(project_root, monkeypatch, tmp_path):
    (project_root / "certs").mkdir()
    (project_root / "certs" / "ca.pem").write_text("pem")
    write(project_root, "EXTRA_CA_CERT=certs/ca.pem\n")
    monkeypatch.chdir(tmp_path)
    assert load_settings(project_root, {}).extra_ca_cert == project_root / "certs" / "ca.pem"


def test_extra_ca_cert_wins_over_pip_cert(project_root):
    (project_root / "extra.pem").write_text("pem")
    (project_root / "pip.pem").write_text("pem")
    write(project_root, "EXTRA_CA_CERT=extra.pem\n")
    s = load_settings(project_root, {"PIP_CERT": str(project_root / "pip.pem")})
    assert s.extra_ca_cert == project_root / "extra.pem"


def test_missing_extra_ca_cert_names_the_variable_and_path(project_root):
    write(project_root, "EXTRA_CA_CERT=missing.pem\n")
    message = fails(project_root).message
    assert ".env line 1: EXTRA_CA_CERT" in message and "missing.pem" in message


def test_missing_pip_cert_from_the_environment_names_pip_cert(project_root):
    message = fails(project_root, {"PIP_CERT": "/nonexistent/ca.pem"}).message
    assert "PIP_CERT (set in the environment)" in message and "/nonexistent/ca.pem" in message


def test_the_docker_command_is_split_like_a_shell(project_root):
    write(project_root, "DOCKER=\"'/opt/docker bin/docker' --context remote\"\n")
    assert load_settings(project_root, {}).docker == ("/opt/docker bin/docker", "--context", "remote")


def test_unbalanced_quote_in_the_docker_command_is_refused(project_root):
    write(project_root, "DOCKER=\"docker '\"\n")
    assert fails(project_root).message.startswith("error: .env line 1: DOCKER is not a valid command")


# ---- values reach the containers exactly as python-dotenv defines them ----


@pytest.mark.parametrize(
    ("line", "name", "expected"),
    [
        ("SECRET_KEY='a$b#c d'", "SECRET_KEY", "a$b#c d"),
        ('X="he said \\"hi\\""', "X", 'he said "hi"'),
        ("X='single \"double\" inside'", "X", 'single "double" inside'),
        ('X="it\'s"', "X", "it's"),
        ('X="a # not a comment"', "X", "a # not a comment"),
        ("X=plain value # a comment", "X", "plain value"),
        ("X=a$b#c", "X", "a$b#c"),
        ("export X=exported", "X", "exported"),
        ("X=", "X", ""),
    ],
)
def test_values_arrive_unchanged_in_the_environment(project_root, line, name, expected):
    write(project_root, line + "\n")
    assert load_settings(project_root, {}).environment[name] == expected


@pytest.mark.parametrize(
    ("bind", "url"),
    [
        ("127.0.0.1", "http://127.0.0.1:8000/"),
        ("0.0.0.0", "http://127.0.0.1:8000/"),
        ("::1", "http://[::1]:8000/"),
        ("::", "http://[::1]:8000/"),
        ("192.168.1.5", "http://192.168.1.5:8000/"),
    ],
)
def test_url_is_one_a_browser_on_this_machine_can_open(settings, bind, url):
    assert dataclasses.replace(settings, web_bind=bind).url == url


def test_url_uses_web_bind_and_web_port_from_env(project_root):
    write(project_root, "WEB_BIND=0.0.0.0\nWEB_PORT=8080\n")
    assert load_settings(project_root, {}).url == "http://127.0.0.1:8080/"


# ---- create_env_file ----


def secret_key_lines(text: str) -> list[str]:
    return [line for line in text.splitlines() if line.startswith("SECRET_KEY=")]


def test_create_env_file_copies_the_example_with_a_fresh_secret_key(project_root):
    created = create_env_file(project_root)
    assert created == project_root / ".env"
    text = created.read_text()
    (line,) = secret_key_lines(text)
    key = line.partition("=")[2]
    assert len(key) >= 50
    # Nothing any .env reader could treat specially: no $, #, quotes or spaces.
    assert re.fullmatch(r"[A-Za-z0-9_-]+", key)
    (password_line,) = [line for line in text.splitlines() if line.startswith("POSTGRES_PASSWORD=")]
    password = password_line.partition("=")[2]
    assert len(password) >= 50 and password != key
    example = (project_root / ".env.example").read_text()
    assert text == example.replace("SECRET_KEY=\n", line + "\n").replace("POSTGRES_PASSWORD=\n", password_line + "\n")
    assert load_settings(project_root, {}).environment["SECRET_KEY"] == key


def test_create_env_file_makes_env_readable_by_the_owner_only(project_root):
    created = create_env_file(project_root)
    assert stat.S_IMODE(created.stat().st_mode) == 0o600


def test_secret_key_is_never_written_to_a_world_readable_file(project_root, monkeypatch):
    # Checked at the moment the file is opened for writing, before the key is in it: a chmod afterwards is too late.
    modes = []
    real_open = open

    def spying_open(path, *args, **kwargs):
        handle = real_open(path, *args, **kwargs)
        modes.append(stat.S_IMODE(os.stat(path).st_mode))
        return handle

    monkeypatch.setattr(settings_module, "open", spying_open, raising=False)
    monkeypatch.setattr(settings_module.os, "fdopen", _spying_fdopen(modes), raising=True)
    old_umask = os.umask(0o022)
    try:
        create_env_file(project_root)
    finally:
        os.umask(old_umask)
    assert modes and all(mode & 0o077 == 0 for mode in modes), f"modes at creation: {[oct(m) for m in modes]}"


def _spying_fdopen(modes):
    real_fdopen = os.fdopen

    def spying_fdopen(fd, *args, **kwargs):
        modes.append(stat.S_IMODE(os.fstat(fd).st_mode))
        return real_fdopen(fd, *args, **kwargs)

    return spying_fdopen


def test_create_env_file_never_overwrites(project_root):
    first = create_env_file(project_root).read_bytes()
    assert create_env_file(project_root) is None
    assert (project_root / ".env").read_bytes() == first


def test_an_existing_env_is_left_byte_identical(project_root):
    original = b"# mine\r\nSECRET_KEY=keep-me\r\nWEB_PORT=1234\n\xe2\x9c\x93\n"
    (project_root / ".env").write_bytes(original)
    (project_root / ".env").chmod(0o644)
    assert create_env_file(project_root) is None
    assert (project_root / ".env").read_bytes() == original
    assert stat.S_IMODE((project_root / ".env").stat().st_mode) == 0o644


def test_each_new_env_gets_its_own_key(tmp_path):
    keys = []
    for name in ("a", "b"):
        (tmp_path / name).mkdir()
        keys += secret_key_lines(create_env_file(tmp_path / name).read_text())
    assert len(keys) == 2 and keys[0] != keys[1]


@pytest.mark.parametrize("example", ["DEBUG=false\n", "DEBUG=false", ""])
def test_example_without_secret_key_line_gets_one_appended(project_root, example):
    write(project_root, example, name=".env.example")
    text = create_env_file(project_root).read_text()
    assert text.startswith(example)
    assert len(secret_key_lines(text)) == 1
    assert text.endswith("\n")
    assert load_settings(project_root, {}).environment["SECRET_KEY"]


# ---- modes ----

GOOD_KEY = "k" + "3yZ_" * 15


def production(root, extra: str = "") -> None:
    write(root, f"ENVIRONMENT=production\nSECRET_KEY={GOOD_KEY}\n{extra}")


def test_production_uses_the_base_compose_file_alone(project_root):
    production(project_root)
    s = load_settings(project_root, {})
    assert (s.mode, s.production) == ("production", True)
    assert s.compose_files == ("docker-compose.yml",)
    assert s.environment["ENVIRONMENT"] == "production"


def test_development_runs_as_the_host_user_root_included(project_root, monkeypatch):
    for uid, gid in [(1000, 1001), (0, 0)]:
        monkeypatch.setattr(settings_module.os, "getuid", lambda: uid)
        monkeypatch.setattr(settings_module.os, "getgid", lambda: gid)
        s = load_settings(project_root, {})
        assert (s.environment["HOST_UID"], s.environment["HOST_GID"]) == (str(uid), str(gid))


# ---- ${NAME} in values ----


def test_a_reference_finds_a_value_env_example_defines(project_root):
    write(project_root, "SITE_DOMAIN=example.com\n", name=".env.example")
    write(project_root, "CSRF_TRUSTED_ORIGINS=https://${SITE_DOMAIN}\n")
    assert load_settings(project_root, {}).environment["CSRF_TRUSTED_ORIGINS"] == "https://example.com"


def test_a_reference_to_nothing_is_an_error_naming_the_line_and_the_variable(project_root):
    write(project_root, "WEB_PORT=8000\nCSRF_TRUSTED_ORIGINS=https://${SITE_DOMAIN}\n")
    assert fails(project_root).message == (
        "error: .env line 2: CSRF_TRUSTED_ORIGINS refers to ${SITE_DOMAIN}, which is set nowhere (not in .env, "
        ".env.example or the environment): set SITE_DOMAIN, or give it a default: ${SITE_DOMAIN:-value}"
    )


def test_a_reference_with_a_default_or_to_the_environment_is_fine_and_a_lone_dollar_is_literal(
    project_root, monkeypatch
):
    # python-dotenv expands from the process's own environment.
    monkeypatch.setenv("FROM_SHELL", "shell")
    write(project_root, "A=${NOPE:-fallback}\nB=${FROM_SHELL}\nC='pa$$ $HOME #1'\n")
    environment = load_settings(project_root, {"FROM_SHELL": "shell"}).environment
    assert (environment["A"], environment["B"], environment["C"]) == ("fallback", "shell", "pa$$ $HOME #1")


def test_a_reference_takes_the_environments_value_which_wins_everywhere(project_root):
    # .env.example says development; `ENVIRONMENT=production inv up` must reach the copy too.
    write(project_root, "DJANGO_ENVIRONMENT=${ENVIRONMENT}\n")
    environment = load_settings(project_root, {"ENVIRONMENT": "production"}).environment
    assert (environment["ENVIRONMENT"], environment["DJANGO_ENVIRONMENT"]) == ("production", "production")


def test_a_reference_finds_a_value_set_further_down_and_through_another_reference(project_root):
    write(project_root, "URL=https://${HOST}/\nHOST=${NAME}.example.com\nNAME=shop\n")
    assert load_settings(project_root, {}).environment["URL"] == "https://shop.example.com/"


def test_references_in_a_circle_are_an_error_naming_them(project_root):
    write(project_root, "A=${B}\nB=${A}\n")
    assert "A refers to itself through A -> B -> A" in fails(project_root).message


def test_even_a_quoted_reference_to_nothing_is_an_error_as_python_dotenv_expands_it(project_root):
    write(project_root, "B='${NOPE}'\n")
    assert "B refers to ${NOPE}" in fails(project_root).message


# ---- .env's own variables reach the site ----


def test_env_variables_env_example_does_not_document_are_handed_to_the_web_container(project_root):
    write(project_root, "DJANGO_SECRET_KEY=mine\nWEB_PORT=8123\nSENTRY_DSN=https://x@y/1\n")
    s = load_settings(project_root, {})
    assert s.passthrough == ("DJANGO_SECRET_KEY", "SENTRY_DSN")
    assert str(s.passthrough_file) in s.environment["COMPOSE_FILE"].split(os.pathsep)
    assert settings_module.passthrough_compose_file(s.passthrough) == (
        "# Written by inv: the variables of .env that .env.example does not document, for the site.\n"
        'services:\n  web:\n    environment:\n      - "DJANGO_SECRET_KEY"\n      - "SENTRY_DSN"\n'
    )


def test_without_variables_of_its_own_no_compose_file_is_added(project_root):
    write(project_root, "WEB_PORT=8123\n")
    s = load_settings(project_root, {})
    assert s.passthrough == ()
    assert str(s.passthrough_file) not in s.environment["COMPOSE_FILE"]


def test_each_project_directory_has_its_own_passthrough_file(tmp_path):
    assert settings_module.passthrough_file_for(tmp_path / "a") != settings_module.passthrough_file_for(tmp_path / "b")


def test_mode_is_case_insensitive_and_the_environment_wins(project_root):
    write(project_root, "ENVIRONMENT=Development\n")
    assert load_settings(project_root, {}).mode == "development"
    assert load_settings(project_root, {"ENVIRONMENT": "production", "SECRET_KEY": GOOD_KEY}).production


def test_an_unknown_mode_is_refused_with_its_line(project_root):
    write(project_root, "ENVIRONMENT=staging\n")
    message = fails(project_root).message
    assert ".env line 1" in message and "ENVIRONMENT must be development or production" in message


def test_development_needs_no_secret_key(project_root):
    write(project_root, "SECRET_KEY=\n")
    assert load_settings(project_root, {}).mode == "development"


def test_a_generated_env_is_fit_for_production(project_root):
    create_env_file(project_root)
    assert load_settings(project_root, {"ENVIRONMENT": "production"}).production


# ---- DATABASE ----


def test_sqlite_is_the_default_database_with_one_compose_file(project_root):
    s = load_settings(project_root, {})
    assert (s.database, s.compose_files) == ("sqlite", ("docker-compose.yml", "compose/development.yml"))
    assert s.environment["DATABASE_URL"] == "sqlite:////data/db.sqlite3"


def test_database_postgres_adds_the_db_service_and_points_the_site_at_it(project_root):
    write(project_root, "DATABASE=Postgres\nPOSTGRES_PASSWORD='p@ss/w:rd #1'\nDATABASE_URL=sqlite:////data/x.sqlite3\n")
    s = load_settings(project_root, {})
    assert (s.database, s.compose_files) == (
        "postgres", ("docker-compose.yml", "compose/postgres.yml", "compose/development.yml")
    )
    assert s.environment["DATABASE_URL"] == "postgres://django:p%40ss%2Fw%3Ard%20%231@db:5432/django"
    assert s.environment["POSTGRES_IMAGE"] == "postgres:17"
    assert (s.environment["POSTGRES_USER"], s.environment["POSTGRES_DB"]) == ("django", "django")


def test_postgres_image_and_names_come_from_env(project_root):
    write(project_root, "DATABASE=postgres\nPOSTGRES_PASSWORD=x\nPOSTGRES_USER=site\nPOSTGRES_DB=guests\n")
    s = load_settings(project_root, {"POSTGRES_IMAGE": "registry.example/pg:17"})
    assert s.environment["POSTGRES_IMAGE"] == "registry.example/pg:17"
    assert s.environment["DATABASE_URL"] == "postgres://site:x@db:5432/guests"


@pytest.mark.parametrize("lines, message", [
    ("DATABASE=mysql\n", ".env line 1: DATABASE must be one of sqlite, postgres, got 'mysql'"),
    ("DATABASE=postgres\nPOSTGRES_PASSWORD=\n", ".env line 2: POSTGRES_PASSWORD is empty, and DATABASE=postgres needs one"),
    ("DATABASE=postgres\nPOSTGRES_PASSWORD=x\nPOSTGRES_DB=my-db\n", ".env line 3: POSTGRES_DB must be letters, digits and '_'"),
    ("DATABASE=postgres\nPOSTGRES_PASSWORD=x\nPOSTGRES_USER=1st\n", ".env line 3: POSTGRES_USER must be letters"),
])
def test_bad_database_settings_name_the_line(project_root, lines, message):
    write(project_root, lines)
    with pytest.raises(StackError) as caught:
        load_settings(project_root, {})
    assert caught.value.message.startswith(f"error: {message}")
    assert "\n" not in caught.value.message


def test_the_empty_password_error_suggests_a_usable_value(project_root):
    write(project_root, "DATABASE=postgres\n")
    with pytest.raises(StackError) as caught:
        load_settings(project_root, {})
    suggestion = caught.value.message.rpartition("add e.g. ")[2].split()[0]
    write(project_root, f"DATABASE=postgres\n{suggestion}\n")
    assert load_settings(project_root, {}).database == "postgres"
