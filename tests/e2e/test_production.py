"""ENVIRONMENT=production on a real engine: the default server, DEBUG off, a hardened container,
and a container that refuses to serve with unsafe settings, its reason relayed by `inv up`.

The tests share one stack and run in file order.
"""

import http.client
import os
import re

import pytest

from .harness import COUNT_ENTRIES

pytestmark = pytest.mark.e2e

PROJECT_ENV = {"ENVIRONMENT": "production"}
ADD_ENTRY = "from guestbook.models import Entry; Entry.objects.create(text='{}'); print('added')"
# The deploy checks that only make sense once visitors come over HTTPS.
HTTPS_WARNINGS = {"security.W004", "security.W008", "security.W012", "security.W016"}


def refused(result) -> str:
    """The reason `inv up` relays from the container, which refused to serve: one line, no traceback."""
    assert result.returncode != 0
    assert "Traceback" not in result.stderr
    last = result.stderr.strip().splitlines()[-1]
    stopped = "error: the web container stopped before it answered: "
    assert last.startswith(stopped), last
    return last[len(stopped):]


@pytest.mark.parametrize(("variables", "reason"), [
    ({"SECRET_KEY": "too-short"}, "refusing to serve in production: ?: (security.W009) Your SECRET_KEY has less than 50"),
    ({"DEBUG": "true"}, "refusing to serve in production: ?: (security.W018) You should not have DEBUG set to True"),
    ({"HTTPS": "maybe"}, "the Django settings are not valid: HTTPS must be one of true/false"),
])
def test_unsafe_or_unreadable_settings_stop_up_with_the_containers_own_line(project, variables, reason):
    assert refused(project.inv("up", env=variables, check=False)).startswith(reason)
    assert not project.answers()


def test_up_serves_the_site_with_granian_by_default_and_debug_off(project):
    project.inv("up")
    assert project.get("/")[0] == 200
    status, body = project.get("/no-such-page/")
    assert status == 404 and "URLconf" not in body, "a 404 must not show Django's debug page"
    command = project.inv("exec", "--", "python", "-c", "print(open('/proc/1/cmdline').read().split(chr(0))[:2])")
    assert "granian" in command.stdout
    workers = min(len(os.sched_getaffinity(0)), 12)
    assert f"--workers {workers}" in project.inv("logs", "web").stdout + project.inv("logs", "web").stderr


def test_static_files_are_served_compressed_under_hashed_names(project):
    stylesheet = re.search(r'href="(/static/[^"]+\.[0-9a-f]{12}\.css)"', project.get("/")[1])
    assert stylesheet, "the page must link its stylesheet under a hashed name"
    connection = http.client.HTTPConnection("127.0.0.1", project.port, timeout=10)
    connection.request("GET", stylesheet.group(1), headers={"Accept-Encoding": "gzip"})
    response = connection.getresponse()
    assert response.status == 200
    assert response.getheader("Content-Encoding") == "gzip"
    assert "immutable" in response.getheader("Cache-Control", "")


def test_the_container_is_hardened(project):
    info = project.inspect(project.container_id())
    host = info["HostConfig"]
    assert host["ReadonlyRootfs"] is True
    assert host["CapDrop"] == ["ALL"]
    assert "no-new-privileges:true" in host["SecurityOpt"]
    assert info["Config"]["User"] == "10001:10001"
    # No shell between the engine and the server, nor in the health probe.
    assert info["Config"]["Entrypoint"][0] == "python"
    assert info["Config"]["Healthcheck"]["Test"][0] == "CMD"
    status = project.python(
        "import re; s = open('/proc/1/status').read(); "
        "print(re.search(r'CapEff:\\s+(\\w+)', s).group(1), re.search(r'NoNewPrivs:\\s+(\\d)', s).group(1))"
    )
    assert status == "0000000000000000 1"
    assert project.inv("exec", "id -u").stdout.strip() == "10001"


def test_only_the_data_volume_and_tmp_are_writable(project):
    write = "import sys; open(sys.argv[1] + '/probe', 'w').write('x'); print('wrote', sys.argv[1])"
    for place in ("/app", "/home/app", "/usr/local/lib"):
        result = project.inv("exec", "--", "python", "-c", write, place, check=False)
        assert result.returncode != 0 and "Read-only file system" in result.stderr, place
    for place in ("/tmp", "/data"):
        assert f"wrote {place}" in project.inv("exec", "--", "python", "-c", write, place).stdout


def deploy_warnings(project) -> set[str]:
    result = project.inv("manage", "check --deploy")
    output = result.stdout + result.stderr
    return set(re.findall(r"\(([a-z_]+\.W\d{3})\)", output))


def test_check_deploy_warns_only_about_what_https_settles(project):
    assert deploy_warnings(project) == HTTPS_WARNINGS


def test_behind_https_check_deploy_is_clean_and_the_secure_settings_apply(project):
    https = {"HTTPS": "true", "SECURE_HSTS_INCLUDE_SUBDOMAINS": "true", "SECURE_HSTS_PRELOAD": "true"}
    project.inv("up", env=https)
    try:
        clean = project.inv("manage", "check --deploy", "--", "--fail-level", "WARNING")
        assert "System check identified no issues" in clean.stdout + clean.stderr
        connection = http.client.HTTPConnection("127.0.0.1", project.port, timeout=10)
        connection.request("GET", "/")
        plain = connection.getresponse()
        plain.read()
        assert plain.status == 301 and plain.getheader("Location").startswith("https://")
        connection.request("GET", "/", headers={"X-Forwarded-Proto": "https"})
        secure = connection.getresponse()
        secure.read()
        assert secure.status == 200
        assert secure.getheader("Strict-Transport-Security") == "max-age=3600; includeSubDomains; preload"
        assert "Secure" in secure.getheader("Set-Cookie", "")
    finally:
        project.inv("up")
    assert deploy_warnings(project) == HTTPS_WARNINGS


def test_switching_modes_keeps_the_data_and_both_can_write_it(project):
    project.python(ADD_ENTRY.format("from production"))
    before = int(project.python(COUNT_ENTRIES))

    project.env["ENVIRONMENT"] = "development"
    project.inv("up")
    command = project.inv("exec", "--", "python", "-c", "print(open('/proc/1/cmdline').read().split(chr(0))[:3])")
    assert "runserver" in command.stdout
    assert int(project.python(COUNT_ENTRIES)) == before
    assert project.python(ADD_ENTRY.format("from development")) == "added"
    # What runs is not what .env asks for: commands say so rather than use the wrong image.
    project.env["ENVIRONMENT"] = "production"
    assert "older image" in project.inv("shell", "-c", "print(1)", check=False).stderr

    project.inv("up")
    assert project.python(ADD_ENTRY.format("from production again")) == "added"
    assert int(project.python(COUNT_ENTRIES)) == before + 2
    assert project.get("/")[0] == 200
