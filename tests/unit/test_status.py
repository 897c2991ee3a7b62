"""`inv status`'s account of the image: which build inputs changed since it was built."""

from __future__ import annotations

import os

from stack.settings import load_settings
from stack.status import changed_since

from .conftest import stack, write

BUILT = 1_000_000_000.0


def touch(root, name: str, when: float) -> None:
    path = root / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("x")
    os.utime(path, (when, when))


def project(project_root, mode: str):
    for name in ("Dockerfile", "requirements.txt", "docker/entrypoint.py", "site/blog/views.py", "site/manage.py"):
        touch(project_root, name, BUILT - 60)
    touch(project_root, "requirements.txt", BUILT + 10)
    touch(project_root, "site/blog/views.py", BUILT + 20)
    touch(project_root, "site/blog/__pycache__/views.cpython-313.pyc", BUILT + 30)
    touch(project_root, "site/db.sqlite3", BUILT + 30)
    write(project_root, f"ENVIRONMENT={mode}\n")
    return load_settings(project_root, {})


def test_in_production_the_code_counts_newest_first_and_local_state_does_not(project_root, engine):
    s = stack(project(project_root, "production"), engine)
    assert changed_since(s, BUILT) == ["site/blog/views.py", "requirements.txt"]


def test_in_development_the_code_does_not_count_as_the_image_holds_none(project_root, engine):
    s = stack(project(project_root, "development"), engine)
    assert changed_since(s, BUILT) == ["requirements.txt"]


def test_nothing_changed_since_a_later_build(project_root, engine):
    assert changed_since(stack(project(project_root, "production"), engine), BUILT + 100) == []
