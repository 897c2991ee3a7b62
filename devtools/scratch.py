"""Scratch copies of a checkout and free ports, for the benchmark and the test runs."""

from __future__ import annotations

import os
import random
import shutil
import socket
import subprocess
from pathlib import Path

WHY_GIT = "the tests and `inv bench` copy the project as git would clone it"


def copy_checkout(source: Path, target: Path) -> None:
    """Copy into `target` what a fresh clone of `source` would hold, plus its uncommitted work.

    `source` is a git work tree or a directory inside one; `target` is created if missing.
    The files are those git tracks or would track (`.gitignore` is the one list of local
    state left behind); symlinks stay symlinks and modes are kept. Raises RuntimeError
    when `source` is not in a git work tree or git is missing.
    """
    names = checkout_files(source)
    target.mkdir(parents=True, exist_ok=True)
    for name in names:
        origin = source / name
        # Deleted in the work tree but not yet in the index: a clone of the work would lack it too.
        if not os.path.lexists(origin):
            continue
        copy = target / name
        copy.parent.mkdir(parents=True, exist_ok=True)
        if origin.is_dir() and not origin.is_symlink():
            # A submodule or a nested repository: a plain clone holds its directory, empty.
            copy.mkdir(exist_ok=True)
        else:
            shutil.copy2(origin, copy, follow_symlinks=False)


def checkout_files(source: Path) -> list[str]:
    """The paths, relative to `source`, that git tracks or would track there.

    Raises RuntimeError when git is missing or cannot list them (not a work tree, say).
    """
    argv = ["git", "-C", str(source), "ls-files", "-z", "--cached", "--others", "--exclude-standard"]
    try:
        listed = subprocess.run(argv, capture_output=True, check=True, stdin=subprocess.DEVNULL).stdout
    except FileNotFoundError:
        raise RuntimeError(f"{WHY_GIT}, and git is not installed") from None
    except subprocess.CalledProcessError as error:
        said = (error.stderr.decode(errors="replace").strip().splitlines() or [f"exit status {error.returncode}"])[0]
        raise RuntimeError(
            f"git cannot list the files of {source} ({said}): {WHY_GIT}, so they need a git checkout"
        ) from None
    # A conflicted file is listed once per stage.
    return list(dict.fromkeys(os.fsdecode(name) for name in listed.split(b"\0") if name))


def free_ports(span: int = 1) -> int:
    """The first of `span` consecutive ports free on 127.0.0.1.

    They are chosen below the kernel's ephemeral range, from which outgoing connections
    take their ports: one of those could otherwise take a port before the stack binds it.
    """
    try:
        ephemeral_low = int(Path("/proc/sys/net/ipv4/ip_local_port_range").read_text().split()[0])
    except (OSError, ValueError, IndexError):
        ephemeral_low = 32768
    low = max(1024, ephemeral_low - 12000)
    # Blocks aligned on `span`, so two runs' blocks never overlap.
    candidates = range(low, ephemeral_low - span, span)
    for first in random.sample(candidates, min(200, len(candidates))):
        if all(_bindable(port) for port in range(first, first + span)):
            return first
    raise RuntimeError(f"no {span} free ports in a row on 127.0.0.1 between {low} and {ephemeral_low}")


def _bindable(port: int) -> bool:
    with socket.socket() as probe:
        try:
            probe.bind(("127.0.0.1", port))
        except OSError:
            return False
        return True
