"""The README's story on a real engine: a fresh clone, `inv up`, the site answers, the data stays.

The tests share one stack and run in file order, each building on the one before.
"""

import os
import re
import time
import urllib.request
import uuid

import pytest

from .harness import COUNT_ENTRIES, DEVELOPER, docker

pytestmark = pytest.mark.e2e



def test_up_on_a_fresh_clone_creates_env_migrates_and_prints_a_url_that_answers(project):
    assert not (project.path / ".env").exists()

    result = project.inv("up")

    env_text = (project.path / ".env").read_text()
    key = re.search(r"^SECRET_KEY=(.+)$", env_text, re.MULTILINE)
    assert key and len(key.group(1)) >= 50, "inv up must write a generated SECRET_KEY into the new .env"
    last_line = result.stdout.strip().splitlines()[-1]
    assert last_line.endswith(f"http://127.0.0.1:{project.port}/")
    # The page reads the database: a 200 here means migrations ran before the site served.
    status, body = project.get("/")
    assert status == 200 and "No entries yet" in body
    assert project.get("/healthz") == (200, "ok")


def test_an_edited_view_is_served_within_five_seconds_without_a_rebuild_or_restart(project, report):
    container = project.container_id()
    marker = uuid.uuid4().hex
    views = project.path / "site" / "guestbook" / "views.py"
    original = '    return render(request, "guestbook/index.html", context, status=status)\n'
    edited = original.replace("return render", "response = render") + f'    response["X-Edited"] = "{marker}"\n    return response\n'
    assert original in views.read_text()
    views.write_text(views.read_text().replace(original, edited))
    started = time.monotonic()
    seen = None
    while seen is None and time.monotonic() - started < 5:
        try:
            with urllib.request.urlopen(f"{project.base_url}/", timeout=2) as response:
                if response.headers.get("X-Edited") == marker:
                    seen = time.monotonic() - started
        except OSError:
            pass  # runserver is reloading
        time.sleep(0.1)
    report(f"edited view served after {seen:.2f} s" if seen is not None else "edited view not served within 5 s")
    assert seen is not None, "the edit did not show on / within 5 s"
    assert project.container_id() == container, "the container must not have been recreated"


def test_files_the_container_writes_into_the_project_are_yours(project):
    project.inv("exec", "--", "python", "-c", "open('/app/made-in-container.txt', 'w').write('hi')")
    made = project.path / "site" / "made-in-container.txt"
    assert (made.stat().st_uid, made.stat().st_gid) == DEVELOPER
    made.unlink()


def test_every_docker_command_is_echoed_to_stderr(project):
    result = project.inv("ps")
    assert re.search(r"^\+ .*compose.* ps$", result.stderr, re.MULTILINE), result.stderr
    assert "+ " not in result.stdout


def test_a_second_up_keeps_the_key_and_the_container(project):
    env_before = (project.path / ".env").read_text()
    container = project.container_id()
    project.inv("up")
    assert (project.path / ".env").read_text() == env_before
    assert project.container_id() == container


def test_migrate_twice_is_a_no_op_the_second_time(project):
    project.inv("migrate")
    assert "No migrations to apply" in project.inv("migrate").stdout


def test_showmigrations_shows_every_migration_applied(project):
    output = project.inv("manage", "showmigrations").stdout
    assert "[X] 0001_initial" in output
    assert "[ ]" not in output


def test_a_request_shows_in_the_logs(project):
    marker = uuid.uuid4().hex
    assert project.get(f"/?seen={marker}")[0] == 200
    found = None
    for _ in range(20):
        found = marker in project.inv("logs", "web", "--tail", "20").stdout
        if found:
            break
        time.sleep(0.25)
    assert found, "the access log line of the request never showed in `inv logs web --tail 20`"


def test_the_engines_health_probes_stay_out_of_runservers_log(project):
    def probes_logged() -> int:
        logs = project.inv("logs", "web")
        return (logs.stdout + logs.stderr).count("GET /healthz")

    assert project.engine_health() == "healthy"
    before = probes_logged()
    # The engine probes every 2 s: two or three probes in this time, none of them logged.
    time.sleep(5)
    assert probes_logged() == before


def test_shell_command_prints_a_value_computed_from_the_database(project):
    printed = project.python(
        "from guestbook.models import Entry; Entry.objects.create(text='from the shell'); "
        "print('entries:', Entry.objects.filter(text='from the shell').count() * 7)"
    )
    assert printed == "entries: 7"
    assert "from the shell" in project.get("/")[1]


def test_createsuperuser_without_a_terminal_takes_the_environment(project):
    password = "pa$$ word #1 'q'"
    project.inv("createsuperuser", env={
        "DJANGO_SUPERUSER_USERNAME": "boss",
        "DJANGO_SUPERUSER_EMAIL": "boss@example.com",
        "DJANGO_SUPERUSER_PASSWORD": password,
    })
    printed = project.python(
        "from django.contrib.auth import get_user_model; "
        f"u = get_user_model().objects.get(username='boss'); print(u.is_superuser, u.check_password({password!r}))"
    )
    assert printed == "True True"


def test_createsuperuser_without_a_terminal_or_variables_says_what_is_missing(project):
    result = project.inv("createsuperuser", check=False)
    assert result.returncode != 0
    assert result.stderr.strip().splitlines()[-1].startswith("error: without a terminal, createsuperuser needs")
    assert "Traceback" not in result.stderr


@pytest.mark.parametrize("hostile", ["check; touch {marker}", "check $(touch {marker})", "check `touch {marker}`", "check && touch {marker}"])
def test_a_hostile_manage_argument_runs_no_shell(project, hostile):
    marker = f"/tmp/pwned-{uuid.uuid4().hex}"
    result = project.inv("manage", hostile.format(marker=marker), check=False)
    assert result.returncode != 0, "manage.py must have refused the odd arguments"
    assert not os.path.exists(marker), "a shell ran on the host"
    probe = project.inv("exec", "--service", "web", f"test -e {marker}", check=False)
    assert probe.returncode == 1, "a shell ran in the container"


def test_manage_takes_arguments_after_a_double_dash(project):
    output = project.inv("manage", "--", "check", "--fail-level", "ERROR").stdout
    assert "System check identified" in output


def test_exec_runs_in_the_development_container_as_you_with_the_images_group(project):
    assert project.inv("exec", "id -u").stdout.strip() == str(DEVELOPER[0])
    assert "10001" in project.inv("exec", "id -G").stdout.split()


def test_dbshell_reads_sql_from_stdin(project):
    result = project.inv("dbshell", stdin="select count(*) from guestbook_entry;\n")
    assert result.stdout.strip().splitlines()[-1] == project.python(COUNT_ENTRIES)


def test_the_sites_own_tests_pass_inside_the_container(project):
    result = project.inv("test", "--site")
    assert re.search(r"^OK", result.stderr + result.stdout, re.MULTILINE), result.stderr


def test_restart_comes_back_healthy(project):
    project.inv("restart")
    assert project.get("/healthz") == (200, "ok")
    assert project.engine_health() == "healthy"


def test_a_row_survives_down_and_up(project):
    project.python("from guestbook.models import Entry; Entry.objects.create(text='keep me')")
    before = project.python(COUNT_ENTRIES)
    project.inv("down")
    assert not project.answers(), "after down nothing may answer on the port"
    project.inv("up")
    assert project.python(COUNT_ENTRIES) == before
    assert "keep me" in project.get("/")[1]


def test_a_row_survives_a_rebuild(project):
    before = project.python(COUNT_ENTRIES)
    project.inv("build", "--no-cache")
    project.inv("up")
    assert project.python(COUNT_ENTRIES) == before


def test_docker_stop_takes_under_two_seconds_and_exits_cleanly(project):
    container = project.container_id()
    started = time.monotonic()
    docker("stop", container)
    seconds = time.monotonic() - started
    print(f"docker stop took {seconds:.2f} s")
    assert seconds < 2, f"docker stop took {seconds:.1f} s: SIGTERM did not stop the server"
    # 0, not 137: the server shut down on SIGTERM, it was not killed.
    assert project.inspect(container)["State"]["ExitCode"] == 0
    project.inv("up")


def test_down_volumes_without_yes_and_without_a_terminal_deletes_nothing(project):
    result = project.inv("down", "--volumes", check=False)
    assert result.returncode != 0
    assert "--yes" in result.stderr.strip().splitlines()[-1]
    assert project.volumes(), "the data volume must still exist"
    assert project.get("/healthz")[0] == 200, "the stack must still be up"


def test_down_volumes_yes_deletes_the_data(project):
    assert project.python(COUNT_ENTRIES) != "0"
    project.inv("down", "--volumes", "--yes")
    assert project.volumes() == []
    project.inv("up")
    assert project.python(COUNT_ENTRIES) == "0"
