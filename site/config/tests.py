"""What the settings make of the environment in the two modes, checked by importing them as a container would."""

import os
import subprocess
import sys
from pathlib import Path

from django.test import SimpleTestCase

PROJECT_DIR = Path(__file__).resolve().parent.parent
GOOD_KEY = "a-real-key-" + "x7Yq" * 12


MODE_SETTINGS = (
    "print(json.dumps([s.DEVELOPMENT, s.DEBUG, s.SECRET_KEY, s.SESSION_COOKIE_SECURE, "
    "s.CSRF_COOKIE_SECURE, s.SECURE_SSL_REDIRECT, s.SECURE_HSTS_SECONDS, "
    "getattr(s, 'SECURE_PROXY_SSL_HEADER', None)]))"
)


def import_settings(show=MODE_SETTINGS, **variables):
    """Import config.settings as `s` in a fresh interpreter with only these variables set, run `show`."""
    code = "import json, config.settings as s; " + show
    environment = {"PATH": os.environ.get("PATH", ""), **variables}
    return subprocess.run(
        [sys.executable, "-c", code], cwd=PROJECT_DIR, env=environment, capture_output=True, text=True
    )


class ModeTests(SimpleTestCase):
    def assertRefused(self, process, words):
        self.assertNotEqual(process.returncode, 0)
        self.assertIn("ImproperlyConfigured", process.stderr)
        self.assertIn(words, process.stderr)

    def test_unset_environment_means_production(self):
        process = import_settings(SECRET_KEY=GOOD_KEY)
        self.assertEqual(process.returncode, 0, process.stderr)
        self.assertIn(f'[false, false, "{GOOD_KEY}"', process.stdout)

    def test_any_other_mode_is_production_too(self):
        process = import_settings(ENVIRONMENT="staging")
        self.assertEqual(process.returncode, 0, process.stderr)
        self.assertIn('[false, false, ""', process.stdout)

    def test_development_turns_debug_on_and_has_a_key_of_its_own(self):
        process = import_settings(ENVIRONMENT="development")
        self.assertEqual(process.returncode, 0, process.stderr)
        self.assertIn('[true, true, "django-insecure-', process.stdout)

    def test_a_switch_that_is_neither_true_nor_false_is_refused_with_its_name(self):
        self.assertRefused(import_settings(SECRET_KEY=GOOD_KEY, HTTPS="maybe"), "HTTPS must be one of")

    def test_https_turns_on_secure_cookies_redirect_hsts_and_the_proxy_header(self):
        process = import_settings(SECRET_KEY=GOOD_KEY, HTTPS="true")
        self.assertEqual(process.returncode, 0, process.stderr)
        self.assertIn('true, true, true, 3600, ["HTTP_X_FORWARDED_PROTO", "https"]]', process.stdout)

    def test_plain_http_keeps_cookies_usable_and_each_setting_can_be_set_alone(self):
        process = import_settings(SECRET_KEY=GOOD_KEY, SECURE_HSTS_SECONDS="60", CSRF_COOKIE_SECURE="yes")
        self.assertEqual(process.returncode, 0, process.stderr)
        self.assertIn('false, true, false, 60, null]', process.stdout)


class ConnectionTests(SimpleTestCase):
    def connection_settings(self, **variables):
        show = "d = s.DATABASES['default']; print(d['CONN_MAX_AGE'], d['CONN_HEALTH_CHECKS'])"
        process = import_settings(show, **variables)
        self.assertEqual(process.returncode, 0, process.stderr)
        return process.stdout.split()

    def test_production_keeps_connections_and_checks_them_before_reuse(self):
        for url in ["sqlite:////data/db.sqlite3", "postgres://u:p@db:5432/site"]:
            with self.subTest(url=url):
                self.assertEqual(self.connection_settings(SECRET_KEY=GOOD_KEY, DATABASE_URL=url), ["60", "True"])

    def test_development_opens_one_per_request_as_runserver_needs(self):
        self.assertEqual(self.connection_settings(ENVIRONMENT="development"), ["0", "True"])
