"""`inv push`: name a release after the git commit, tag the production images under REGISTRY, push them.

A release is the short sha of the commit the project directory is at, so the image that
runs can be traced to its code; a work tree with uncommitted changes is refused unless
allowed, and then its tag says `-dirty`. Two images make a release: the site's, and the
proxy's (the Dockerfile's `proxy` stage), which the Swarm's nodes pull from the same registry.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

from .engine import probe
from .errors import StackError
from .runner import Stack
from .swarm import Release

PROXY_SUFFIX = "-proxy"
_SHA = re.compile(r"^[0-9a-f]{7,40}$")
# A tag as Docker takes it, for releases named on the command line.
_TAG = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$")


def git(project_dir: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return probe(["git", "-C", str(project_dir), *args])


def current_release(project_dir: Path, *, allow_dirty: bool = False) -> str:
    """The release the work tree is: the commit's short sha, `<sha>-dirty` when allowed to differ from it.

    StackError when the project is not in a git repository, has no commit, or (without
    `allow_dirty`) has uncommitted changes.
    """
    head = git(project_dir, "rev-parse", "--short=12", "HEAD")
    if head.returncode != 0 or not _SHA.match(head.stdout.strip()):
        said = (head.stderr.strip().splitlines() or ["no commit"])[-1]
        raise StackError(
            f"a release is named after the git commit, and {project_dir} has none ({said}): "
            "commit your code first (`git init`, `git add -A`, `git commit`)"
        )
    sha = head.stdout.strip()
    changes = git(project_dir, "status", "--porcelain", "--untracked-files=normal")
    dirty = [line for line in changes.stdout.splitlines() if line.strip()]
    if not dirty:
        return sha
    if allow_dirty:
        return f"{sha}-dirty"
    raise StackError(
        f"the work tree has {len(dirty)} uncommitted change(s) (`git status` lists them), so commit {sha} "
        "is not what would be pushed: commit them, or push anyway with `inv push --allow-dirty`"
    )


def check_release_name(name: str) -> str:
    if not _TAG.match(name):
        raise StackError(f"{name!r} is not a release name (a tag: letters, digits, '_', '.', '-'); `inv releases` lists them")
    return name


def image_refs(s: Stack, release: str) -> tuple[str, str]:
    """`REGISTRY/IMAGE_NAME:release` and its proxy's; StackError when REGISTRY is not set."""
    deploy = s.settings.deploy
    if not deploy.registry:
        raise StackError(
            "REGISTRY is not set: add the registry to push to in .env, e.g. REGISTRY=registry.example.com/team "
            "or REGISTRY=127.0.0.1:5000 (log in with `docker login` first if it asks for it)"
        )
    return f"{deploy.repository}:{release}", f"{deploy.repository}{PROXY_SUFFIX}:{release}"


def push(s: Stack, release: str, replicas: int = 0) -> Release:
    """Build the production image and the proxy's, tag them for `release` and push both; the pushed digests.

    StackError naming the step that failed (build, push), with the tool's own last line.
    """
    web_ref, proxy_ref = image_refs(s, release)
    image = s.current_image()
    s.docker("tag", image or s.settings.image, web_ref, hide=True)
    build_proxy(s, proxy_ref)
    for ref in (web_ref, proxy_ref):
        result = s.docker("push", ref, warn=True, progress=True)
        if result.failed:
            raise StackError(
                f"pushing {ref} failed (exit status {result.exited}): see the output above; "
                "a registry that wants a login needs `docker login " + ref.split("/")[0] + "` first",
                code=result.exited or 1,
            )
    return Release(release, pushed_digest(s, web_ref), untagged(pushed_digest(s, proxy_ref)), replicas)


def proxy_build_args(s: Stack, tag: str) -> list[str]:
    """`docker build` of the Dockerfile's `proxy` stage (Caddy from the base image's Debian), tagged `tag`."""
    settings = s.settings
    secret = ["--secret", f"id=extra_ca,src={settings.extra_ca_cert.resolve()}"] if settings.extra_ca_cert else []
    return [*s.engine.docker, "build", "--target", "proxy", "--build-arg", f"BASE_IMAGE={settings.base_image}",
            *secret, "--tag", tag, str(settings.root)]


def build_proxy(s: Stack, tag: str) -> None:
    result = s.run(proxy_build_args(s, tag), warn=True, env={"DOCKER_BUILDKIT": "1"}, progress=True)
    if result.failed:
        raise StackError(f"building the proxy image {tag} failed (exit status {result.exited}): see the output above",
                         code=result.exited or 1)


def pushed_digest(s: Stack, ref: str) -> str:
    """`repository:tag@sha256:...` for an image this engine pushed or pulled; "" when it has no digest for it."""
    if s.dry:
        return f"{ref}@sha256:dry-run"
    result = s.docker("image", "inspect", "--format", "{{json .RepoDigests}}", ref, hide=True, warn=True, echo=False)
    repository = ref.rsplit(":", 1)[0]
    try:
        digests = json.loads(result.stdout) if result.ok else []
    except ValueError:
        digests = []
    for entry in digests or []:
        name, _, digest = entry.partition("@")
        if name == repository and digest:
            return f"{ref}@{digest}"
    return ""


def pushed_release(s: Stack, release: str, replicas: int) -> Release:
    """The images of a pushed release, by digest: from this engine, else pulled from the registry.

    StackError when the registry has no such release.
    """
    refs = image_refs(s, release)
    found = []
    for ref in refs:
        digest = pushed_digest(s, ref)
        if not digest:
            print(f"looking {ref} up in the registry...", file=sys.stderr, flush=True)
            pulled = s.docker("pull", "--quiet", ref, hide=True, warn=True, echo=False)
            digest = pushed_digest(s, ref) if pulled.ok else ""
        if not digest:
            raise StackError(f"release {release} was not pushed ({ref} is not in the registry): `inv push` pushes it")
        found.append(digest)
    return Release(release, found[0], untagged(found[1]), replicas)


def untagged(image: str) -> str:
    """`repository@sha256:...` of `repository:tag@sha256:...`: the proxy's service then changes, and restarts,
    only when its image does, not on every release (its port is down while it restarts)."""
    name, at, digest = image.partition("@")
    repository = name.rsplit(":", 1)[0] if ":" in name.rsplit("/", 1)[-1] else name
    return f"{repository}{at}{digest}"
