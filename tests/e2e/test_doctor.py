"""`inv doctor` on a real engine: before `inv up` the site's checks are skipped, after it the site answers,
and never a secret of the working copy's .env in what it prints."""

import re

import pytest

from .harness import plant_secrets

pytestmark = pytest.mark.e2e

CHECKS = ["docker", "daemon", "compose", "buildkit", "base image", ".env", "port", "disk", "data volume", "site",
          "extra CA"]


def rows(result) -> dict[str, tuple[str, str]]:
    """{check: (status, text)} of `inv doctor`'s lines, which are aligned in three columns."""
    found = {}
    for line in result.stdout.splitlines():
        match = re.fullmatch(r"(ok|warn|fail|-) +(.{11}) (\S.*)", line)
        assert match, f"not a doctor line: {line!r}"
        found[match.group(2).strip()] = (match.group(1), match.group(3))
    assert list(found) == CHECKS, result.stdout
    return found


def exits_1_exactly_when_a_check_fails(result, found) -> None:
    failed = [check for check, (status, _) in found.items() if status == "fail"]
    assert result.returncode == (1 if failed else 0), result.stdout + result.stderr
    assert "Traceback" not in result.stdout + result.stderr
    if failed:
        assert result.stderr.strip().splitlines()[-1].startswith(f"error: {len(failed)} check")
    else:
        assert result.stderr == ""


def test_doctor_before_and_after_up_with_no_secret_in_its_output(project):
    secrets = plant_secrets(project)
    secrets["DJANGO_SUPERUSER_PASSWORD"] = "planted-superuser-password-3c9e1f"
    with (project.path / ".env").open("a") as env:
        env.write(f"DJANGO_SUPERUSER_PASSWORD={secrets['DJANGO_SUPERUSER_PASSWORD']}\n")

    before = project.inv("doctor", check=False)
    found = rows(before)
    exits_1_exactly_when_a_check_fails(before, found)
    for check in ("docker", "daemon", "compose", "buildkit", ".env"):
        assert found[check][0] == "ok", before.stdout
    assert found["port"] == ("ok", f"{project.port} on 127.0.0.1 is free")
    assert found["data volume"] == ("-", f"skipped: no volume {project.name}_data yet (`inv up` makes it)")
    assert found["site"] == ("-", "skipped: the site is not running (`inv up` starts it)")

    project.inv("up")
    after = project.inv("doctor", check=False)
    found = rows(after)
    exits_1_exactly_when_a_check_fails(after, found)
    assert found["site"] == ("ok", f"{project.base_url}/ answers 200, /healthz 200")
    assert found["port"] == ("ok", f"{project.port} on 127.0.0.1: this stack's web container")
    status, text = found["data volume"]
    assert status == "ok" and text.startswith(f"{project.name}_data: db.sqlite3"), after.stdout
    assert text.endswith(" group-writable"), after.stdout
    assert found["base image"][0] == "ok"

    printed = before.stdout + before.stderr + after.stdout + after.stderr
    for name, value in secrets.items():
        assert value not in printed, f"{name}'s value is in the output of inv doctor"
