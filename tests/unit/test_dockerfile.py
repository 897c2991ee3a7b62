"""The Dockerfiles pass hadolint: no warning, and each rule ignored in place says why on the line above.
The top-level one keeps its stages in the order its builds rely on, and the proxy stage probes and
exposes what compose/Caddyfile listens on."""

from __future__ import annotations

import re
import shutil
import subprocess

import pytest

from .conftest import REPO

DOCKERFILES = [REPO / "Dockerfile", *sorted((REPO / "tests").rglob("Dockerfile")),
               *sorted((REPO / "devtools").rglob("Dockerfile"))]


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


def stages() -> dict[str, str]:
    """The top-level Dockerfile's stages, by name, in order: each one's text from its FROM on."""
    parts = re.split(r"^(?=FROM )", (REPO / "Dockerfile").read_text(), flags=re.MULTILINE)[1:]
    return {re.match(r"FROM \S+ AS (\S+)", part).group(1): part for part in parts}


def test_production_is_the_last_stage_so_a_plain_build_makes_it():
    assert list(stages())[-1] == "production"


def test_the_proxy_starts_from_the_base_so_it_inherits_nothing_of_the_web_image():
    proxy = stages()["proxy"]
    # A service started from the web image would run the web's HEALTHCHECK against the wrong port.
    assert proxy.startswith("FROM ${BASE_IMAGE} AS proxy\n")
    assert "HEALTHCHECK" in proxy and "ENTRYPOINT" in proxy and "USER" in proxy


def test_the_proxy_probes_and_exposes_the_ports_the_caddyfile_listens_on():
    caddyfile = (REPO / "compose" / "Caddyfile").read_text()
    proxy = stages()["proxy"]
    health_port = re.search(r"^http://:(\d+) \{\n\tbind 127\.0\.0\.1\n\trespond /health 200", caddyfile, re.MULTILINE)
    assert health_port and f"http://127.0.0.1:{health_port.group(1)}/health" in proxy
    http_port = re.search(r"^\thttp_port (\d+)$", caddyfile, re.MULTILINE).group(1)
    https_port = re.search(r"^\thttps_port (\d+)$", caddyfile, re.MULTILINE).group(1)
    assert re.search(rf"^EXPOSE {http_port} {https_port}$", proxy, re.MULTILINE)
    assert "COPY compose/Caddyfile /etc/caddy/Caddyfile" in proxy
