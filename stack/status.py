"""`inv status`: one screen on what runs, how, and whether it answers."""

from __future__ import annotations

import json
import os
from datetime import datetime, timezone
from pathlib import Path

from .compose import WEB
from .health import http_status
from .runner import Stack
from .settings import PRODUCTION

# Inside the build inputs, what never reaches the image or does not count (see .dockerignore).
_NOT_INPUTS = {"__pycache__", "staticfiles", "media", "node_modules", ".git", ".venv", "venv"}


def report(stack: Stack) -> list[tuple[str, str]]:
    """(label, text) rows: the mode, the database, the URL and its answer, the image, each container."""
    settings = stack.settings
    containers = containers_of(stack)
    running_mode = next((c["mode"] for c in containers if c["service"] == WEB and c["mode"]), "")
    mode = settings.mode
    if running_mode and running_mode != mode:
        mode += f" in .env, but {running_mode} is running: `inv up` switches"
    rows = [
        ("mode", mode),
        ("database", {"sqlite": "SQLite, on the data volume", "postgres": "PostgreSQL, the db service"}[settings.database]),
        ("url", f"{settings.url}  {answer(settings.url)}"),
        ("image", image_line(stack)),
    ]
    if not containers:
        rows.append(("containers", "none: `inv up` starts the site"))
    for container in containers:
        health = f", {container['health']}" if container["health"] else ""
        rows.append((container["service"], f"{container['name']}  {container['state']}{health}"))
    return rows


def containers_of(stack: Stack) -> list[dict[str, str]]:
    """The project's service containers as `compose ps` sees them, with the mode each runs in."""
    result = stack.compose("ps", "--all", "--format", "json", hide=True, warn=True, echo=False)
    listed = _json_lines(result.stdout) if result.ok else []
    found = []
    for entry in listed:
        if "oneoff=True" in entry.get("Labels", ""):
            continue
        found.append({
            "service": entry.get("Service", ""),
            "name": entry.get("Name", ""),
            "state": entry.get("State", ""),
            "health": entry.get("Health", ""),
            "mode": container_mode(stack, entry.get("ID", "")) if entry.get("Service") == WEB else "",
        })
    return found


def container_mode(stack: Stack, container: str) -> str:
    template = "{{range .Config.Env}}{{println .}}{{end}}"
    result = stack.docker("inspect", "--format", template, container, hide=True, warn=True, echo=False)
    variables = dict(line.partition("=")[::2] for line in result.stdout.splitlines()) if result.ok else {}
    return variables.get("ENVIRONMENT", "")


def answer(url: str) -> str:
    """What the URL answers: its status, or why nothing came back."""
    status = http_status(url, timeout=3)
    return f"answers {status}" if isinstance(status, int) else f"does not answer ({status})"


def image_line(stack: Stack) -> str:
    """The image, when it was built, and the build inputs changed since (by their modification times)."""
    settings = stack.settings
    result = stack.docker("image", "inspect", "--format", "{{.Created}}", settings.image, hide=True, warn=True, echo=False)
    if not result.ok or not result.stdout.strip():
        return f"{settings.image}, not built yet: `inv up` builds it"
    built = _engine_time(result.stdout.strip())
    changed = changed_since(stack, built.timestamp())
    line = f"{settings.image}, built {built:%Y-%m-%d %H:%M:%S} UTC"
    if changed:
        shown = ", ".join(changed[:3]) + (f" and {len(changed) - 3} more" if len(changed) > 3 else "")
        line += f"; changed since: {shown} (`inv up` rebuilds)"
    return line


def changed_since(stack: Stack, when: float) -> list[str]:
    """Build inputs (relative paths) modified after `when` (seconds since the epoch), newest first.

    The code counts in production only: the development image holds none of it.
    """
    settings = stack.settings
    root = settings.root
    inputs = [root / "Dockerfile", root / "requirements.txt", root / "docker"]
    if settings.mode == PRODUCTION:
        inputs.append(settings.project_dir)
    newer = []
    for path in _files(inputs):
        modified = path.stat().st_mtime
        if modified > when:
            newer.append((modified, path.relative_to(root).as_posix()))
    return [name for _, name in sorted(newer, reverse=True)]


def _files(inputs: list[Path]):
    for top in inputs:
        if top.is_file():
            yield top
        for folder, folders, files in os.walk(top):
            folders[:] = [name for name in folders if name not in _NOT_INPUTS and not name.startswith(".")]
            for name in files:
                if not name.startswith(".") and ".sqlite3" not in name and not name.endswith((".pyc", ".pyo")):
                    yield Path(folder) / name


def _engine_time(text: str) -> datetime:
    """The engine's RFC 3339 time (nanoseconds and all) as a UTC datetime."""
    stamp = text.rstrip("Z").split(".")[0].split("+")[0]
    return datetime.strptime(stamp, "%Y-%m-%dT%H:%M:%S").replace(tzinfo=timezone.utc)


def _json_lines(text: str) -> list[dict]:
    """`compose ps --format json`: one object a line (Compose 2.21 and later), or one array (earlier)."""
    text = text.strip()
    if text.startswith("["):
        return json.loads(text)
    return [json.loads(line) for line in text.splitlines() if line.strip()]
