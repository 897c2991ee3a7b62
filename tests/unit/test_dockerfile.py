"""The Dockerfiles pass hadolint: no warning, and each rule ignored in place says why on the line above."""

from __future__ import annotations

import shutil
import subprocess

import pytest

from .conftest import REPO

DOCKERFILES = [REPO / "Dockerfile", *sorted((REPO / "tests").rglob("Dockerfile"))]


@pytest.fixture(scope="module")
def hadolint() -> str:
    path = shutil.which("hadolint")
    if path is None:
        pytest.fail("hadolint is not installed: pip install -r requirements-dev.txt", pytrace=False)
    return path


@pytest.mark.parametrize("dockerfile", DOCKERFILES, ids=lambda path: str(path.relative_to(REPO)))
def test_hadolint_finds_nothing(hadolint, dockerfile):
    result = subprocess.run([hadolint, "--no-color", str(dockerfile)], capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout.strip() == ""


@pytest.mark.parametrize("dockerfile", DOCKERFILES, ids=lambda path: str(path.relative_to(REPO)))
def test_every_ignored_rule_has_a_reason_above_it(dockerfile):
    lines = dockerfile.read_text().splitlines()
    for number, line in enumerate(lines):
        if line.startswith("# hadolint ignore="):
            assert number > 0 and lines[number - 1].startswith("#") and "hadolint" not in lines[number - 1], (
                f"{dockerfile.name} line {number + 1}: say why the rule is ignored in a comment just above"
            )


def test_hadolint_would_catch_a_problem(hadolint, tmp_path):
    careless = tmp_path / "Dockerfile"
    careless.write_text("FROM python:3.13-slim\nRUN apt-get update && apt-get install -y sqlite3\nUSER app\n")
    result = subprocess.run([hadolint, "--no-color", str(careless)], capture_output=True, text=True)
    assert result.returncode != 0 and "DL3008" in result.stdout
