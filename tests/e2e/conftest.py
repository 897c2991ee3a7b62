"""Fixtures for the end-to-end tests: a real Docker engine, driven only through `inv`.

Each test module gets its own working copy of the repository and its own Compose
project name and port, so nothing here touches a developer's `.env`, containers or
data; all of it is removed afterwards, also when a test fails. The image is built
once per run (by `inv build`, which is itself under test) and shared.
"""

import contextlib
import os
import time

import pytest

from devtools.swarmlab import LabError, SwarmLab

from .harness import (
    RUN_ID,
    compose_problem,
    docker,
    engine_problem,
    make_project,
    plant_secrets,
    postgres_image_problem,
    skip_or_fail,
)

# Figures the tests measured (rows, seconds, requests), printed together at the end of the run.
FIGURES: list[str] = []


@pytest.fixture
def report(request):
    """`report("rows before 12, after 12")`: a line for the figures section at the end of the output."""

    def add(line: str) -> None:
        FIGURES.append(f"{request.node.nodeid}: {line}")

    return add


def pytest_collection_modifyitems(config, items):
    """A test about the db container has no SQLite variant: leave it out rather than skip it."""
    sqlite_only = [
        item for item in items
        if item.get_closest_marker("postgres_only") and getattr(item, "callspec", None)
        and item.callspec.params.get("stack") == "sqlite"
    ]
    if sqlite_only:
        config.hook.pytest_deselected(items=sqlite_only)
        items[:] = [item for item in items if item not in sqlite_only]


def pytest_terminal_summary(terminalreporter):
    if FIGURES:
        terminalreporter.section("figures measured by the end-to-end tests")
        for line in FIGURES:
            terminalreporter.write_line(line)


@pytest.fixture(scope="session")
def engine() -> None:
    if problem := engine_problem() or compose_problem():
        skip_or_fail("a Docker engine with Compose v2", problem)


@pytest.fixture(scope="session")
def swarm_lab():
    """A three-node Swarm with a registry (devtools/swarmlab.py), started once per run, removed at its end.

    Node 1's port 8080 is published (`swarm_lab.url(8080)`). Needs only the engine, not Compose.
    The lab's images are removed with it unless KEEP_LAB_IMAGES=1.
    """
    if problem := engine_problem():
        skip_or_fail("a Docker engine", problem)
    try:
        lab = SwarmLab.start(name=f"djlab-{RUN_ID}", published_ports=(8080,),
                             extra_ca=os.environ.get("EXTRA_CA_CERT") or None)
    except LabError as error:
        skip_or_fail("a Docker engine that can run the Swarm lab's nodes", str(error))
    FIGURES.append(f"swarm lab: {len(lab.nodes)} nodes Ready in {lab.timings['total']:.1f} s "
                   f"(images {lab.timings['images']:.1f} s, nodes {lab.timings['nodes']:.1f} s, "
                   f"swarm {lab.timings['swarm']:.1f} s)")
    try:
        yield lab
    finally:
        began = time.monotonic()
        lab.teardown()
        FIGURES.append(f"swarm lab: removed in {time.monotonic() - began:.1f} s")


@pytest.fixture(scope="session")
def postgres_image(engine) -> str:
    """POSTGRES_IMAGE from the environment (the official image by default), present or pulled."""
    image = os.environ.get("POSTGRES_IMAGE") or "postgres:17"
    if problem := postgres_image_problem(image):
        skip_or_fail("a PostgreSQL image", problem)
    return image


@pytest.fixture(scope="session")
def image_name(engine) -> str:
    return f"e2e-{RUN_ID}-web"


@pytest.fixture(scope="session")
def build_project(engine, image_name, tmp_path_factory):
    """The working copy the shared image is built from, with secrets where a careless build would pick them up."""
    project = make_project(tmp_path_factory, "build", image_name)
    project.secrets = plant_secrets(project)
    return project


@pytest.fixture(scope="session")
def built_image(build_project, image_name):
    """`inv build` once for the run; every module's stack uses the image it made."""
    result = build_project.inv("build")
    tag = f"{image_name}:e2e"
    first = docker("image", "inspect", "--format", "{{.Id}}", tag, check=False)
    assert first.returncode == 0, result.stderr
    yield tag
    docker("image", "rm", "-f", tag, check=False)
    docker("image", "rm", first.stdout.strip(), check=False)


@pytest.fixture(scope="session", autouse=True)
def no_image_left(engine):
    """At the end of the run, the images its builds left untagged (a tag moved to a newer build).

    They are found by the Compose project label the builds put on them, which names this run:
    their creation time may be older than the run's, since BuildKit reuses cached layers.
    """
    yield
    dangling = docker("images", "--quiet", "--no-trunc", "--filter", "dangling=true", check=False).stdout.split()
    if not dangling:
        return
    template = '{{.Id}} {{index .Config.Labels "com.docker.compose.project"}}'
    labelled = docker("image", "inspect", "--format", template, *dangling, check=False).stdout.splitlines()
    ours = [fields[0] for fields in map(str.split, labelled) if len(fields) == 2 and fields[1].startswith(f"e2e{RUN_ID}")]
    if ours:
        docker("image", "rm", "-f", *ours, check=False)


@pytest.fixture(scope="module")
def project(built_image, image_name, tmp_path_factory, request):
    """A fresh working copy and Compose project for one test module, removed afterwards whatever happened.

    A module's `PROJECT_ENV` (e.g. {"ENVIRONMENT": "production"}) is added to the environment `inv` runs in.
    """
    with working_copy(request, tmp_path_factory, image_name, built_image) as project:
        project.env.update(getattr(request.module, "PROJECT_ENV", {}))
        yield project


@pytest.fixture(scope="module")
def production_project(built_image, image_name, tmp_path_factory, request):
    """A stack up in production mode for one test module, for the modules that measure the running site."""
    with working_copy(request, tmp_path_factory, image_name, built_image) as project:
        project.env["ENVIRONMENT"] = "production"
        project.inv("up")
        # Django's debug 404 page names the setting; a production one does not.
        status, body = project.get("/no-such-page")
        assert status == 404 and "DEBUG = True" not in body, "the site must run with DEBUG off"
        yield project


@contextlib.contextmanager
def working_copy(request, tmp_path_factory, image_name: str, built_image: str):
    label = request.module.__name__.rpartition(".")[2].replace("test_", "")
    project = make_project(tmp_path_factory, label, image_name)
    project.image = built_image
    try:
        yield project
    finally:
        project.remove_everything()
