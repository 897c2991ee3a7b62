"""docker/settingsrules.py: a project's settings as they are, then what the environment says, in both modes."""

from __future__ import annotations

import importlib.util
import os

import pytest
import settingsrules
from settingsrules import (
    DEVELOPMENT_KEY,
    IMAGE_MIDDLEWARE,
    SettingsError,
    configure,
    read_secret_files,
)

from .conftest import REPO

# A project as startproject writes it, with the traits real ones have.
PROJECT = {
    "DEBUG": True,
    "SECRET_KEY": "django-insecure-from-the-file",
    "ALLOWED_HOSTS": [],
    "DATABASES": {"default": {"ENGINE": "django.db.backends.sqlite3", "NAME": "/app/db.sqlite3"},
                  "legacy": {"ENGINE": "django.db.backends.sqlite3", "NAME": "/app/legacy.sqlite3"}},
    "MIDDLEWARE": ["django.middleware.security.SecurityMiddleware", "django.middleware.common.CommonMiddleware"],
    "STATIC_URL": "static/",
    "MEDIA_ROOT": "/app/media",
}
PRODUCTION = {"ENVIRONMENT": "production", "SECRET_KEY": "k" * 60, "DATABASE_URL": "sqlite:////data/db.sqlite3",
              "ALLOWED_HOSTS": "localhost,127.0.0.1"}
DEVELOPMENT = {**PRODUCTION, "ENVIRONMENT": "development"}


def test_production_wins_where_safety_needs_it_and_names_what_it_replaced():
    settings, overridden = configure(PROJECT, PRODUCTION)
    assert settings["DEBUG"] is False and settings["SECRET_KEY"] == "k" * 60
    assert settings["ALLOWED_HOSTS"] == ["localhost", "127.0.0.1"]
    assert settings["DATABASES"]["default"]["NAME"] == "/data/db.sqlite3"
    assert settings["DATABASES"]["legacy"] == PROJECT["DATABASES"]["legacy"]
    assert settings["STATIC_ROOT"] == "/opt/static" and settings["MEDIA_ROOT"] == "/data/media"
    assert settings["STORAGES"]["staticfiles"]["BACKEND"] == "whitenoise.storage.CompressedManifestStaticFilesStorage"
    assert overridden == ["ALLOWED_HOSTS", "DATABASES", "DEBUG", "MEDIA_ROOT", "MIDDLEWARE", "SECRET_KEY"]


def test_production_with_debug_asked_for_keeps_it_for_djangos_check_to_refuse():
    assert configure(PROJECT, {**PRODUCTION, "DEBUG": "true"})[0]["DEBUG"] is True


def test_development_debugs_and_serves_static_files_from_the_apps_whatever_debug_says():
    settings, _ = configure(PROJECT, {**DEVELOPMENT, "DEBUG": "false"})
    assert settings["DEBUG"] is False
    assert settings["STORAGES"]["staticfiles"]["BACKEND"] == "django.contrib.staticfiles.storage.StaticFilesStorage"
    assert settings["WHITENOISE_USE_FINDERS"] is True and "STATIC_ROOT" not in settings
    assert configure(PROJECT, DEVELOPMENT)[0]["DEBUG"] is True


def test_development_without_any_key_gets_a_fixed_one():
    settings, _ = configure({**PROJECT, "SECRET_KEY": ""}, {"ENVIRONMENT": "development"})
    assert settings["SECRET_KEY"] == DEVELOPMENT_KEY


def test_without_the_tools_variables_the_projects_own_values_stay():
    settings, overridden = configure(PROJECT, {"ENVIRONMENT": "development"})
    assert settings["ALLOWED_HOSTS"] == [] and settings["DATABASES"] == PROJECT["DATABASES"]
    assert settings["SECRET_KEY"] == PROJECT["SECRET_KEY"]
    assert "SECRET_KEY" not in overridden


def test_the_image_middleware_comes_first_and_whitenoise_right_after_security():
    middleware = configure(PROJECT, PRODUCTION)[0]["MIDDLEWARE"]
    assert middleware[:3] == IMAGE_MIDDLEWARE
    assert middleware[3:5] == ["django.middleware.security.SecurityMiddleware", "whitenoise.middleware.WhiteNoiseMiddleware"]
    # Applied twice (a project that already lists them): nothing twice.
    again = configure({**PROJECT, "MIDDLEWARE": middleware}, PRODUCTION)[0]["MIDDLEWARE"]
    assert again == middleware


def test_a_project_storage_that_is_not_local_is_left_alone():
    s3 = {"staticfiles": {"BACKEND": "storages.backends.s3.S3Storage"}}
    settings, _ = configure({**PROJECT, "STORAGES": s3}, PRODUCTION)
    assert settings["STORAGES"]["staticfiles"] == s3["staticfiles"] and "STATIC_ROOT" not in settings


def test_sqlite_gets_wal_and_waiting_writers_postgres_keeps_its_url_and_connections_persist():
    sqlite = configure(PROJECT, PRODUCTION)[0]["DATABASES"]["default"]
    assert sqlite["OPTIONS"]["transaction_mode"] == "IMMEDIATE" and sqlite["CONN_MAX_AGE"] == 60
    postgres = configure(PROJECT, {**DEVELOPMENT, "DATABASE_URL": "postgres://u:p%40ss@db:5432/site"})[0]
    assert postgres["DATABASES"]["default"]["PASSWORD"] == "p@ss" and postgres["DATABASES"]["default"]["CONN_MAX_AGE"] == 0


def test_https_turns_on_the_secure_settings_and_each_can_be_set_alone():
    settings, _ = configure(PROJECT, {**PRODUCTION, "HTTPS": "true"})
    assert settings["SECURE_PROXY_SSL_HEADER"] == ("HTTP_X_FORWARDED_PROTO", "https")
    assert (settings["SECURE_SSL_REDIRECT"], settings["SESSION_COOKIE_SECURE"], settings["SECURE_HSTS_SECONDS"]) == (
        True, True, 3600)
    alone, _ = configure(PROJECT, {**PRODUCTION, "CSRF_COOKIE_SECURE": "yes", "SECURE_HSTS_SECONDS": "60"})
    assert (alone["CSRF_COOKIE_SECURE"], alone["SECURE_HSTS_SECONDS"]) == (True, 60)
    assert "SESSION_COOKIE_SECURE" not in alone and "SECURE_PROXY_SSL_HEADER" not in alone


def test_uploads_go_to_the_data_volume_with_a_limit():
    settings, _ = configure({**PROJECT, "MEDIA_URL": ""}, {**PRODUCTION, "UPLOAD_MAX_MB": "5"})
    assert settings["MEDIA_URL"] == "/media/" and settings["FILE_UPLOAD_TEMP_DIR"] == "/data/.upload-tmp"
    assert settings["UPLOAD_MAX_BYTES"] == 5 * 1024 * 1024


def test_logging_goes_to_stdout_at_log_level_unless_the_project_has_its_own():
    settings, _ = configure(PROJECT, {**PRODUCTION, "LOG_LEVEL": "warning"})
    assert settings["LOGGING"]["root"]["level"] == "WARNING"
    own = {"version": 1}
    assert configure({**PROJECT, "LOGGING": own}, PRODUCTION)[0]["LOGGING"] is own


@pytest.mark.parametrize(("name", "value", "message"), [
    ("HTTPS", "maybe", "HTTPS must be one of true/false, 1/0, yes/no, on/off; got 'maybe'"),
    ("SECURE_HSTS_SECONDS", "1y", "SECURE_HSTS_SECONDS must be a whole number, got '1y'"),
    ("UPLOAD_MAX_MB", "lots", "UPLOAD_MAX_MB must be a whole number, got 'lots'"),
])
def test_a_value_that_cannot_be_read_names_the_variable(name, value, message):
    with pytest.raises(SettingsError) as caught:
        configure(PROJECT, {**PRODUCTION, name: value})
    assert str(caught.value) == message


# ---- secrets as files: NAME_FILE=/run/secrets/NAME ----


@pytest.fixture
def secrets_dir(tmp_path, monkeypatch):
    """A stand-in for /run/secrets, where Docker mounts a service's secrets."""
    folder = tmp_path / "run-secrets"
    folder.mkdir()
    monkeypatch.setattr(settingsrules, "SECRETS_DIR", str(folder))
    return folder


def secret(folder, name, text):
    (folder / name).write_text(text, encoding="utf-8")
    return str(folder / name)


def test_a_secret_file_stands_for_its_variable_less_one_trailing_newline(secrets_dir):
    environ = {
        "SECRET_KEY_FILE": secret(secrets_dir, "SECRET_KEY", "k3y with spaces\n"),
        "DATABASE_URL_FILE": secret(secrets_dir, "DATABASE_URL", "postgres://u:p@db/site\n\n"),
        "SMTP_PASSWORD_FILE": secret(secrets_dir, "SMTP_PASSWORD", " padded "),
        "DATABASE_URL": "",
    }
    assert read_secret_files(environ) == ["DATABASE_URL", "SECRET_KEY", "SMTP_PASSWORD"]
    assert environ["SECRET_KEY"] == "k3y with spaces"
    assert environ["DATABASE_URL"] == "postgres://u:p@db/site\n"
    assert environ["SMTP_PASSWORD"] == " padded "


def test_a_variable_that_has_a_value_keeps_it(secrets_dir):
    environ = {"SECRET_KEY": "from-the-environment", "SECRET_KEY_FILE": secret(secrets_dir, "SECRET_KEY", "from-the-file")}
    assert read_secret_files(environ) == []
    assert environ["SECRET_KEY"] == "from-the-environment"


@pytest.mark.parametrize("path", ["/var/log/site.log", "relative/SECRET", "{secrets}/../elsewhere", "{secrets}"])
def test_a_file_variable_outside_the_secrets_folder_is_the_projects_own_and_left_alone(secrets_dir, path):
    environ = {"LOG_FILE": path.format(secrets=secrets_dir)}
    assert read_secret_files(environ) == []
    assert environ == {"LOG_FILE": path.format(secrets=secrets_dir)}


def test_the_suffix_alone_names_no_variable(secrets_dir):
    environ = {"_FILE": secret(secrets_dir, "x", "value")}
    assert read_secret_files(environ) == [] and environ == {"_FILE": str(secrets_dir / "x")}


@pytest.mark.parametrize(("content", "reason"), [
    (None, "No such file or directory"),
    (b"\xff\xfe not text", "can't decode byte 0xff"),
    (b"one\x00two", "holds a NUL byte"),
])
def test_a_secret_that_cannot_be_read_names_the_variable_and_the_path(secrets_dir, content, reason):
    path = secrets_dir / "SECRET_KEY"
    if content is not None:
        path.write_bytes(content)
    with pytest.raises(SettingsError) as caught:
        read_secret_files({"SECRET_KEY_FILE": str(path)})
    assert str(caught.value).startswith(f"SECRET_KEY_FILE={path}: ")
    assert reason in str(caught.value)


def test_the_project_settings_see_the_secret_as_they_are_imported(secrets_dir, tmp_path, monkeypatch):
    # A project whose settings module reads os.environ at import time, as many do.
    (tmp_path / "secretive_settings.py").write_text(
        "import os\nSECRET_KEY = os.environ['SECRET_KEY']\nSEEN_AT_IMPORT = os.environ['SECRET_KEY']\n"
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.setenv("PROJECT_SETTINGS_MODULE", "secretive_settings")
    monkeypatch.setenv("SECRET_KEY", "")  # so that the value read from the file goes with the test
    monkeypatch.setenv("SECRET_KEY_FILE", secret(secrets_dir, "SECRET_KEY", "read-from-the-file\n"))
    spec = importlib.util.spec_from_file_location("imagesettings_under_test", REPO / "docker" / "imagesettings.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    assert module.SEEN_AT_IMPORT == module.SECRET_KEY == "read-from-the-file"
    assert os.environ["SECRET_KEY"] == "read-from-the-file"
