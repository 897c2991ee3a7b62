"""Scratch copies of the project and free ports, for the benchmark and the test runs."""

from __future__ import annotations

import random
import shutil
import socket
from pathlib import Path

# What a fresh clone would not carry along: the checkout's local state, its own results.
NOT_IN_A_CLONE = shutil.ignore_patterns(
    ".git", ".env", "__pycache__", ".pytest_cache", "test-output", "staticfiles", "*.sqlite3*", ".venv", "venv",
    "backups", "bench-results",
)


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
