"""A first week with the tool on a real engine: never a stale image, never a false "up", one line
on each trap a newcomer walks into, and `inv status`.

The tests share one stack (development mode, its own image name) and run in file order.
"""

import re
import time

import pytest

from .harness import RUN_ID, docker, make_project

pytestmark = pytest.mark.e2e

# Long enough that a wait ending on the timeout could never pass for one ending on the cause.
PROJECT_ENV = {"WAIT_TIMEOUT": "600"}
# A package the runtime does not have, small and pure Python.
NEW_PACKAGE = "six==1.16.0"


@pytest.fixture(scope="module", autouse=True)
def own_image(project):
    """This module changes the requirements: its image is its own, and goes afterwards."""
    project.env["IMAGE_NAME"] = f"e2e-{RUN_ID}-daily"
    yield
    project.remove_everything()
    docker("image", "rm", "-f", f"e2e-{RUN_ID}-daily:e2e", check=False)


def last_line(result) -> str:
    assert result.returncode != 0, result.stdout + result.stderr
    assert "Traceback" not in result.stderr.split("--- last")[0], result.stderr
    return result.stderr.strip().splitlines()[-1]


def edited(path, old: str, new: str) -> str:
    """Replace `old` by `new` in the file; return the original text."""
    original = path.read_text()
    assert old in original
    path.write_text(original.replace(old, new, 1))
    return original


def test_up_then_status_shows_the_mode_the_url_answering_and_the_image(project):
    project.inv("up")
    project.engine_health()
    out = project.inv("status").stdout
    assert re.search(r"^mode +development$", out, re.MULTILINE), out
    assert re.search(rf"^url +{re.escape(project.base_url)}/  answers 200$", out, re.MULTILINE), out
    assert re.search(rf"^image +e2e-{RUN_ID}-daily:e2e, built \S+ \S+ UTC$", out, re.MULTILINE), out
    assert re.search(r"^web +\S+  running, healthy$", out, re.MULTILINE), out


def test_a_typo_in_installed_apps_stops_up_with_the_exception_not_a_timeout(project, report):
    settings = project.path / "site" / "config" / "settings.py"
    original = edited(settings, '"guestbook",', '"guestbook",\n    "blgo",')
    try:
        started = time.monotonic()
        last = last_line(project.inv("up", check=False))
        report(f"a typo in INSTALLED_APPS: inv up said so after {time.monotonic() - started:.1f} s")
        assert "ModuleNotFoundError: No module named 'blgo'" in last
        assert last.startswith("error: the web container ")
    finally:
        settings.write_text(original)
    project.inv("up")
    assert project.get("/")[0] == 200


def test_a_broken_urlconf_stops_up_though_runserver_keeps_its_container_running(project, report):
    urls = project.path / "site" / "config" / "urls.py"
    original = urls.read_text()
    urls.write_text(original + "\nurlpatterns.append(path('x/', not_a_view))\n")
    try:
        started = time.monotonic()
        last = last_line(project.inv("up", check=False))
        report(f"a NameError in the URLconf: inv up said so after {time.monotonic() - started:.1f} s")
        assert "NameError: name 'not_a_view' is not defined" in last
        assert "site is up" not in last
    finally:
        urls.write_text(original)
    # Fixed, the same container reloads; the old traceback in its log is not taken for a new one.
    assert "The site is up" in project.inv("up").stdout


def test_your_first_app_as_the_readme_tells_it(project):
    project.inv("manage", "startapp blog")
    app = project.path / "site" / "blog"
    assert (app / "models.py").is_file()
    edited(project.path / "site" / "config" / "settings.py", '"guestbook",', '"guestbook",\n    "blog",')
    (app / "models.py").write_text("from django.db import models\n\n\nclass Post(models.Model):\n"
                                   "    title = models.CharField(max_length=200)\n")
    (app / "admin.py").write_text("from django.contrib import admin\n\nfrom .models import Post\n\n"
                                  "admin.site.register(Post)\n")
    project.inv("makemigrations", "blog")
    assert (app / "migrations" / "0001_initial.py").is_file()
    assert "Applying blog.0001_initial... OK" in project.inv("migrate").stdout
    assert "[X] 0001_initial" in project.inv("manage", "showmigrations blog").stdout
    assert project.python("from blog.models import Post; print(Post.objects.count())") == "0"


def test_a_database_made_with_the_stack_down_in_development_is_writable_in_production(project):
    project.inv("down", "--volumes", "--yes")
    # `inv migrate` with the stack down: a throwaway container, as you, makes the SQLite file.
    project.inv("migrate")
    project.env["ENVIRONMENT"] = "production"
    try:
        project.inv("up")
        listing = project.inv("exec", "--", "ls", "-ln", "/data").stdout
        assert re.search(r"^-rw-rw-r-- .* db\.sqlite3$", listing, re.MULTILINE), listing
        added = project.python("from guestbook.models import Entry; Entry.objects.create(text='x'); print('added')")
        assert added == "added"
        assert project.get("/")[0] == 200
    finally:
        project.env.pop("ENVIRONMENT")
    project.inv("up")


def test_restart_applies_an_edited_env(project):
    env = project.path / ".env"
    env.write_text(env.read_text() + "LOG_LEVEL=WARNING\n")
    project.inv("restart")
    assert project.inv("exec", "--", "printenv", "LOG_LEVEL").stdout.strip() == "WARNING"


def test_a_new_requirement_is_never_met_by_a_stale_container(project):
    requirements = project.path / "requirements.txt"
    requirements.write_text(requirements.read_text() + NEW_PACKAGE + "\n")
    # The running container predates the requirement: using it would raise ModuleNotFoundError.
    last = last_line(project.inv("shell", "-c", "import six", check=False))
    assert last == (
        "error: the running web container was made from an older image than your code, requirements or .env "
        "ask for: `inv up` recreates it, then run this again"
    )
    project.inv("up")
    assert project.python("import six; print(six.__version__)") == NEW_PACKAGE.split("==")[1]


def test_in_production_an_edited_view_is_served_after_up_and_a_stale_container_is_refused(project):
    project.env["ENVIRONMENT"] = "production"
    project.inv("up")
    views = project.path / "site" / "guestbook" / "views.py"
    marker = f"edited-{RUN_ID}"
    original = views.read_text()
    views.write_text(original + f"\n\ndef robots_txt(request):\n    return HttpResponse('{marker}')\n")
    assert "older image" in last_line(project.inv("manage", "check", check=False))
    project.inv("up")
    assert project.get("/robots.txt") == (200, marker)
    views.write_text(original)
    project.inv("up")
    project.env.pop("ENVIRONMENT")


def test_a_renamed_project_names_the_stack_that_holds_the_port(project, tmp_path_factory, image_name):
    project.inv("up")
    other = make_project(tmp_path_factory, "renamed", image_name)
    other.env.update(WEB_PORT=str(project.port), IMAGE_NAME=project.env["IMAGE_NAME"])
    try:
        last = last_line(other.inv("up", check=False))
        assert last.startswith(f"error: port {project.port} on 127.0.0.1 is held by Compose project {project.name!r}")
        assert f"--project-name {project.name} down" in last
        assert other.containers() == [] and other.volumes() == []
    finally:
        other.remove_everything()


def test_an_image_that_cannot_be_pulled_is_one_line_and_nothing_is_created(tmp_path_factory, image_name):
    fresh = make_project(tmp_path_factory, "nopull", image_name)
    try:
        last = last_line(fresh.inv("up", env={"BASE_IMAGE": f"local/no-such-base-{RUN_ID}:1"}, check=False))
        assert last.startswith(f"error: BASE_IMAGE=local/no-such-base-{RUN_ID}:1 is not on this machine and cannot be pulled")
        assert last.endswith("nothing was created")
        env = {"DATABASE": "postgres", "POSTGRES_IMAGE": f"local/no-such-postgres-{RUN_ID}:1"}
        last = last_line(fresh.inv("up", env=env, check=False))
        assert last.startswith(f"error: POSTGRES_IMAGE=local/no-such-postgres-{RUN_ID}:1 is not on this machine")
        assert fresh.containers() == [] and fresh.volumes() == [] and fresh.networks() == []
    finally:
        fresh.remove_everything()


def test_a_base_image_without_pythons_venv_fails_the_build_saying_what_a_base_needs(project):
    base = f"e2e-{RUN_ID}-novenv:1"
    crippled = "FROM {}\nRUN rm -rf /usr/lib/python3*/venv /usr/lib/python3*/ensurepip\n".format(project.env.get("BASE_IMAGE") or "python:3.13-slim")
    docker_file = project.path / "novenv.Dockerfile"
    docker_file.write_text(crippled)
    built = docker("build", "--quiet", "--tag", base, "--file", str(docker_file), str(project.path), timeout=300, check=False)
    assert built.returncode == 0, built.stderr
    try:
        result = project.inv("build", env={"BASE_IMAGE": base, "IMAGE_NAME": f"e2e-{RUN_ID}-novenv-web"}, check=False)
        assert result.returncode != 0
        assert "BASE_IMAGE needs python3, 3.10 or newer, with its venv module" in result.stdout + result.stderr
    finally:
        docker("image", "rm", "-f", base, check=False)
