"""Looking for secrets in every layer of an image, as `docker save` hands them out."""

from __future__ import annotations

import subprocess
import tarfile
from typing import IO, Iterable

from .harness import DOCKER, docker


def findings_in_saved_image(stream: IO[bytes], needles: Iterable[str]) -> list[str]:
    """Each `.env` file and each file holding a needle, in the image's config and in every layer."""
    needles = [needle.encode() for needle in needles]
    found = []
    with tarfile.open(fileobj=stream, mode="r|") as saved:
        for entry in saved:
            if not entry.isfile():
                continue
            content = saved.extractfile(entry)
            if entry.name.endswith(".tar"):
                found += [f"{entry.name}: {hit}" for hit in _findings_in_layer(content, needles)]
            else:
                found += [f"{entry.name}: holds a secret" for _ in _hits(content.read(), needles)]
    return found


def _findings_in_layer(stream: IO[bytes], needles: list[bytes]) -> list[str]:
    found = []
    with tarfile.open(fileobj=stream, mode="r|") as layer:
        for entry in layer:
            name = entry.name.rpartition("/")[2]
            if name == ".env" or (name.startswith(".env.") and name != ".env.example"):
                found.append(f"/{entry.name} is an env file")
            if entry.isfile() and any(_hits(layer.extractfile(entry).read(), needles)):
                found.append(f"/{entry.name} holds a secret")
    return found


def _hits(data: bytes, needles: list[bytes]) -> Iterable[bytes]:
    return (needle for needle in needles if needle in data)


def findings_in_image(image: str, needles: Iterable[str]) -> list[str]:
    """Scan `docker save` of the image (config and all layers) and `docker history`."""
    needles = list(needles)
    save = subprocess.Popen([*DOCKER, "save", image], stdout=subprocess.PIPE)
    try:
        found = findings_in_saved_image(save.stdout, needles)
    finally:
        save.stdout.close()
        assert save.wait(timeout=300) == 0, f"docker save {image} failed"
    history = docker("history", "--no-trunc", "--format", "{{.CreatedBy}}", image).stdout
    found += [f"docker history holds {needle[:12]}..." for needle in needles if needle in history]
    return found
