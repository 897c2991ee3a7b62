"""A Django project of one's own, adopted through `.env` alone (tests/fixtures/uploader), with its uploads.

The project has its own settings module split per environment, its own requirements (one file
including another, a package the image's runtime does not have), its own variable names,
DEBUG = True and ALLOWED_HOSTS in the file, MEDIA_ROOT inside the code, no STATIC_ROOT and no
/healthz. The tests share one stack and run in file order: development first, then production.
"""

import hashlib
import re
import secrets
import time

import pytest

from .harness import RUN_ID, docker, make_project
from .uploads import upload

pytestmark = pytest.mark.e2e

ENV_LINES = """
DJANGO_PROJECT_DIR=tests/fixtures/uploader
DJANGO_SETTINGS_MODULE=mysite.settings.production
UPLOADER_GREETING="Hello from .env, $HOME stays"
"""


@pytest.fixture(scope="module")
def own(engine, tmp_path_factory):
    project = make_project(tmp_path_factory, "own", f"e2e-{RUN_ID}-own")
    env = project.path / ".env"
    key = f"SECRET_KEY={secrets.token_urlsafe(50)}\n"
    env.write_text((project.path / ".env.example").read_text() + ENV_LINES + key)
    try:
        yield project
    finally:
        project.remove_everything()
        docker("image", "rm", "-f", f"e2e-{RUN_ID}-own:e2e", check=False)


def stylesheet_of_the_admin(project) -> int:
    page = project.get("/admin/login/")[1]
    href = re.search(r'href="(/static/admin/css/[^"]+\.css)"', page).group(1)
    return project.get(href)[0]


def media_links(project) -> list[str]:
    return re.findall(r'href="(/media/documents/[^"]+)"', project.get("/")[1])


def test_development_builds_migrates_and_serves_the_project_with_its_own_variables(own):
    own.inv("up")
    status, page = own.get("/")
    assert status == 200
    assert "Hello from .env, $HOME stays" in page, "a variable of .env's own must reach the project"
    assert stylesheet_of_the_admin(own) == 200


def test_an_upload_is_kept_on_the_data_volume_and_served(own):
    content = b"first upload, kept as it is\n" * 100
    assert upload(own.base_url + "/", {"title": "First"}, "file", "first notes.txt", content) == 302
    (link,) = media_links(own)
    assert own.get(link) == (200, content.decode())
    stored = own.inv("exec", "--", "sh", "-c", "ls /data/media/documents").stdout
    assert "first" in stored


def test_debug_false_in_development_still_serves_pages_and_static_files(own):
    own.env["DEBUG"] = "false"
    own.inv("up")
    assert own.get("/")[0] == 200
    assert stylesheet_of_the_admin(own) == 200
    own.env.pop("DEBUG")


def test_the_projects_own_tests_pass_in_the_container(own):
    result = own.inv("test", "--site")
    assert "OK" in result.stdout + result.stderr


def test_production_serves_the_project_with_debug_off_collected_static_files_and_the_upload(own):
    own.env["ENVIRONMENT"] = "production"
    own.inv("up")
    status, body = own.get("/no-such-page/")
    assert status == 404 and "URLconf" not in body, "production must not show Django's debug page"
    assert stylesheet_of_the_admin(own) == 200
    (link,) = media_links(own)
    assert own.get(link)[0] == 200
    logs = own.inv("logs", "web")
    assert "the environment replaced these settings of the project: " in logs.stdout + logs.stderr


def test_uploads_survive_down_up_and_a_rebuild_without_cache(own):
    links = media_links(own)
    own.inv("down")
    own.inv("build", "--no-cache")
    own.inv("up")
    assert media_links(own) == links and own.get(links[0])[0] == 200


def test_a_backup_brings_back_the_rows_and_the_uploads_onto_new_volumes(own):
    links = media_links(own)
    first = own.get(links[0])
    made = own.inv("db.backup").stdout.strip().splitlines()[-1].split(" (")[0]
    own.inv("down", "--volumes", "--yes")
    own.inv("up")
    assert media_links(own) == [] and own.get(links[0])[0] == 404
    own.inv("db.restore", made, "--yes")
    assert media_links(own) == links and own.get(links[0]) == first


def test_an_upload_of_100_mb_lands_on_the_data_volume_not_the_small_tmp(own, report):
    content = hashlib.sha256(b"seed").digest() * (100 * 2**20 // 32)
    started = time.monotonic()
    assert upload(own.base_url + "/", {"title": "Big"}, "file", "big.bin", content) == 302
    report(f"a 100 MB upload in production took {time.monotonic() - started:.1f} s")
    sizes = own.inv("exec", "--", "sh", "-c", "stat -c '%s' /data/media/documents/big*.bin; ls -A /data/.upload-tmp | wc -l")
    size, leftovers = sizes.stdout.split()
    assert int(size) == len(content) and int(leftovers) == 0
    # /tmp is still empty enough for the next upload.
    assert upload(own.base_url + "/", {"title": "After"}, "file", "after.txt", b"x" * 3 * 2**20) == 302


def test_an_upload_over_the_limit_is_a_413_that_says_so(own):
    own.env["UPLOAD_MAX_MB"] = "1"
    own.inv("up")
    status = upload(own.base_url + "/", {"title": "Too big"}, "file", "too big.bin", b"x" * 2 * 2**20)
    assert status == 413
    own.env.pop("UPLOAD_MAX_MB")
    own.inv("up")


def test_a_url_allowed_hosts_rejects_is_said_plainly_by_up(own):
    result = own.inv("up", env={"ALLOWED_HOSTS": "uploader.example.com"}, check=False)
    assert result.returncode != 0
    last = result.stderr.strip().splitlines()[-1]
    assert last.startswith(f"error: the site answers {own.base_url}/ with 400 Bad Request: Django refuses the host '127.0.0.1'")
    assert "ALLOWED_HOSTS" in last
    own.inv("up")
