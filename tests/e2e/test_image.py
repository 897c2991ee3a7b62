"""The built image keeps no secret: no `.env`, no SECRET_KEY, no database password, in any layer.

The image under test is the one the whole run uses, built by `inv build` from a
working copy whose `.env` (and a stray `site/.env`) hold freshly made secrets.
"""

import io
import json
import tarfile

import pytest

from .harness import docker
from .image_scan import findings_in_image, findings_in_saved_image

pytestmark = pytest.mark.e2e


def test_no_layer_and_no_history_line_holds_an_env_file_or_a_secret(built_image, build_project, report):
    assert (build_project.path / "site" / ".env").is_file(), "the stray .env must be in the build context"
    found = findings_in_image(built_image, build_project.secrets.values())
    report(f"{built_image}: every layer and the history scanned for .env files and {len(build_project.secrets)} secrets")
    assert found == []


def test_the_build_ca_is_in_no_history_line_and_no_config(built_image):
    # The proxy's CA reaches pip as a BuildKit secret; as a build arg or ENV it would show here.
    for text in (docker("history", "--no-trunc", built_image).stdout, docker("image", "inspect", built_image).stdout):
        assert "BEGIN CERTIFICATE" not in text


def _tar(files: dict[str, bytes]) -> bytes:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w") as archive:
        for name, data in files.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            archive.addfile(info, io.BytesIO(data))
    return buffer.getvalue()


def test_the_scan_finds_what_it_looks_for():
    # A saved image in miniature: a config and two layers, the second with what a careless build leaves.
    saved = _tar({
        "abc.json": json.dumps({"config": {"Env": ["SECRET_KEY=s3cret-value"]}}).encode(),
        "l1/layer.tar": _tar({"app/manage.py": b"print()", "app/.env.example": b"SECRET_KEY="}),
        "l2/layer.tar": _tar({"app/.env": b"X=1", "app/settings.py": b"PASSWORD = 'pg-pass'"}),
    })
    found = findings_in_saved_image(io.BytesIO(saved), ["s3cret-value", "pg-pass"])
    assert found == [
        "abc.json: holds a secret",
        "l2/layer.tar: /app/.env is an env file",
        "l2/layer.tar: /app/settings.py holds a secret",
    ]
