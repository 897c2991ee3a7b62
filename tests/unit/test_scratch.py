"""devtools.scratch.copy_checkout: what a fresh clone holds, plus the uncommitted work, and nothing local."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

from devtools.scratch import copy_checkout

IGNORED = [".env", "db.sqlite3", "app/__pycache__/views.cpython-311.pyc", "site/staticfiles/style.css"]


def git(repo: Path, *args: str) -> None:
    subprocess.run(["git", "-C", str(repo), "-c", "user.name=Test", "-c", "user.email=test@example.com", *args],
                   check=True, capture_output=True)


def put(root: Path, name: str, text: str = "") -> Path:
    path = root / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text or name)
    return path


@pytest.fixture
def repo(tmp_path) -> Path:
    """A work tree with committed, modified, untracked, ignored and deleted files, an executable and a symlink."""
    root = tmp_path / "repo"
    root.mkdir()
    git(root, "init", "--quiet")
    put(root, ".gitignore", ".env\n*.sqlite3\n__pycache__/\n/site/staticfiles/\n")
    for name in ("tasks.py", "app/views.py", "site/manage.py", "gone.txt"):
        put(root, name)
    put(root, "run.sh", "#!/bin/sh\n").chmod(0o755)
    (root / "link").symlink_to("app/views.py")
    git(root, "add", "--all")
    git(root, "commit", "--quiet", "-m", "first")
    put(root, "tasks.py", "edited, not committed")
    put(root, "app/new.py", "untracked")
    (root / "gone.txt").unlink()
    for name in IGNORED:
        put(root, name)
    return root


def files(root: Path) -> set[str]:
    return {str(path.relative_to(root)) for path in root.rglob("*") if not path.is_dir() or path.is_symlink()}


def test_the_copy_holds_tracked_and_untracked_files_with_the_uncommitted_edits(repo, tmp_path):
    copy_checkout(repo, tmp_path / "copy")
    assert files(tmp_path / "copy") == {
        ".gitignore", "tasks.py", "app/views.py", "app/new.py", "site/manage.py", "run.sh", "link",
    }
    assert (tmp_path / "copy" / "tasks.py").read_text() == "edited, not committed"


def test_ignored_files_the_git_directory_and_deleted_files_stay_behind(repo, tmp_path):
    copy_checkout(repo, tmp_path / "copy")
    for name in [*IGNORED, ".git", "gone.txt"]:
        assert not os.path.lexists(tmp_path / "copy" / name), name


def test_an_executable_keeps_its_mode_and_a_symlink_stays_a_symlink(repo, tmp_path):
    copy_checkout(repo, tmp_path / "copy")
    assert (tmp_path / "copy" / "run.sh").stat().st_mode & 0o777 == 0o755
    link = tmp_path / "copy" / "link"
    assert link.is_symlink() and os.readlink(link) == "app/views.py"
    assert link.read_text() == "app/views.py"


def test_a_subdirectory_is_copied_with_paths_relative_to_it_and_the_root_ignore_rules(repo, tmp_path):
    copy_checkout(repo / "site", tmp_path / "copy")
    assert files(tmp_path / "copy") == {"manage.py"}


def test_outside_a_git_work_tree_the_error_says_a_checkout_is_needed(tmp_path, monkeypatch):
    plain = tmp_path / "plain"
    put(plain, "tasks.py")
    # Whatever holds the temporary directory, git must not find a repository above it.
    monkeypatch.setenv("GIT_CEILING_DIRECTORIES", str(tmp_path))
    with pytest.raises(RuntimeError) as caught:
        copy_checkout(plain, tmp_path / "copy")
    assert str(plain) in str(caught.value) and "git checkout" in str(caught.value)
    assert not (tmp_path / "copy").exists()


def test_without_git_the_error_says_so(repo, tmp_path, monkeypatch):
    monkeypatch.setenv("PATH", str(tmp_path / "no-programs"))
    with pytest.raises(RuntimeError) as caught:
        copy_checkout(repo, tmp_path / "copy")
    assert "git is not installed" in str(caught.value)


def test_a_nested_repository_becomes_an_empty_directory_as_in_a_plain_clone(repo, tmp_path):
    nested = repo / "vendor" / "lib"
    put(nested, "lib.py")
    git(nested, "init", "--quiet")
    copy_checkout(repo, tmp_path / "copy")
    assert (tmp_path / "copy" / "vendor" / "lib").is_dir()
    assert list((tmp_path / "copy" / "vendor" / "lib").iterdir()) == []
