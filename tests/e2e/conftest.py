"""Fixtures for the end-to-end tests: a real Docker engine, driven only through `inv`.

Each test module gets its own working copy of the repository and its own Compose
project name and port, so nothing here touches a developer's `.env`, containers or
data; all of it is removed afterwards, also when a test fails. The image is built
once per run (by `inv build`, which is itself under test) and shared.
"""

import os

import pytest

from .harness import RUN_ID, compose_flavours, docker, engine_problem, make_project, postgres_image_problem

# Every engine test runs once per Compose flavour found here (v2 and/or v1).
FLAVOURS = compose_flavours()
# Figures the tests measured (rows, seconds, requests), printed together at the end of the run.
FIGURES: list[str] = []


@pytest.fixture
def report(request):
    """`report("rows before 12, after 12")`: a line for the figures section at the end of the output."""

    def add(line: str) -> None:
        FIGURES.append(f"{request.node.nodeid}: {line}")

    return add


def pytest_terminal_summary(terminalreporter):
    if FIGURES:
        terminalreporter.section("figures measured by the end-to-end tests")
        for line in FIGURES:
            terminalreporter.write_line(line)


@pytest.fixture(scope="session")
def engine() -> None:
    require(engine_problem(), "a Docker engine")


def require(problem: str | None, what: str) -> None:
    """Skip for a missing prerequisite, or fail when REQUIRE_DOCKER=1 says the engine tests must run."""
    if problem:
        if os.environ.get("REQUIRE_DOCKER") == "1":
            pytest.fail(f"REQUIRE_DOCKER=1, but {problem}", pytrace=False)
        pytest.skip(f"needs {what}: {problem} (REQUIRE_DOCKER=1 turns this skip into a failure)")


@pytest.fixture(scope="session")
def postgres_image(engine) -> str:
    """POSTGRES_IMAGE from the environment (the official image by default), present or pulled."""
    image = os.environ.get("POSTGRES_IMAGE") or "postgres:17"
    require(postgres_image_problem(image), "a PostgreSQL image")
    return image


@pytest.fixture(scope="session")
def image_name(engine) -> str:
    return f"e2e-{RUN_ID}-web"


@pytest.fixture(scope="session")
def built_image(engine, image_name, tmp_path_factory):
    """`inv build` once for the run; every module's stack uses the image it made."""
    project = make_project(tmp_path_factory, "build", image_name)
    result = project.inv("build")
    tag = f"{image_name}:e2e"
    assert docker("image", "inspect", tag, check=False).returncode == 0, result.stderr
    yield tag
    docker("image", "rm", "-f", tag, check=False)


@pytest.fixture(scope="module", params=sorted(FLAVOURS, reverse=True) or ["none"])
def compose_flavour(request, engine) -> str:
    if request.param not in FLAVOURS:
        pytest.fail("neither `docker compose` nor `docker-compose` works on this machine", pytrace=False)
    return request.param


@pytest.fixture(scope="module")
def project(built_image, image_name, compose_flavour, tmp_path_factory, request):
    """A fresh working copy and Compose project for one test module, removed afterwards whatever happened."""
    label = request.module.__name__.rpartition(".")[2].replace("test_", "") + compose_flavour
    project = make_project(tmp_path_factory, label, image_name, FLAVOURS[compose_flavour])
    project.image = built_image
    try:
        yield project
    finally:
        project.remove_everything()
