#!/usr/bin/env python3
"""Put a URL under load with wrk and report req/s, latency percentiles and errors.

    python devtools/load.py http://127.0.0.1:8000/ --duration 30 --connections 64 [--json]

`measure()` is the same run as a function returning `Figures`, for tests and other
benchmarks. Errors are responses outside 200-299 and socket errors (connect, read,
write, timeout); the command exits 1 when there are any, 2 on bad input or when wrk
cannot run. The figures themselves are noisy on a shared machine and are only printed.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import re
import shutil
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

NON_2XX_SCRIPT = Path(__file__).with_name("non2xx.lua")
SOCKET_ERROR_KINDS = ("connect", "read", "write", "timeout")
INSTALL_WRK = "install it (Debian/Ubuntu: `apt-get install wrk`, macOS: `brew install wrk`) or set WRK to its path"
# wrk prints durations with these units (its format_time).
_TIME_UNITS = {"us": 1e-3, "ms": 1.0, "s": 1e3, "m": 60e3, "h": 3600e3}
_TIME = r"([0-9.]+)(us|ms|s|m|h)"


class LoadError(Exception):
    """The run could not be made or read: one line for the user, no traceback."""


@dataclass(frozen=True)
class Figures:
    url: str
    seconds: float
    connections: int
    threads: int
    requests: int
    requests_per_second: float
    p50_ms: float
    p99_ms: float
    non_2xx: int
    socket_errors: dict[str, int] = field(default_factory=dict)

    @property
    def errors(self) -> int:
        return self.non_2xx + sum(self.socket_errors.values())

    def as_dict(self) -> dict:
        return {**dataclasses.asdict(self), "errors": self.errors}

    def table(self) -> str:
        sockets = ", ".join(f"{kind} {self.socket_errors.get(kind, 0)}" for kind in SOCKET_ERROR_KINDS)
        rows = [
            ("url", self.url),
            ("run", f"{self.seconds:.1f} s, {self.connections} connections, {self.threads} threads"),
            ("requests", str(self.requests)),
            ("req/s", f"{self.requests_per_second:.1f}"),
            ("p50", f"{self.p50_ms:.1f} ms"),
            ("p99", f"{self.p99_ms:.1f} ms"),
            ("non-2xx", str(self.non_2xx)),
            ("socket errors", f"{sum(self.socket_errors.values())} ({sockets})"),
            ("errors", str(self.errors)),
        ]
        return "\n".join(f"{name:<14} {value}" for name, value in rows)

    def failure(self) -> str | None:
        """Why the run counts as failed, in one line; None when every response was a 2xx."""
        if not self.errors:
            return None
        sockets = ", ".join(f"{count} {kind}" for kind, count in self.socket_errors.items() if count)
        return (
            f"{self.errors} errors in {self.requests} requests to {self.url}: "
            f"{self.non_2xx} responses outside 2xx, socket errors: {sockets or 'none'}"
        )


def wrk_command() -> str:
    """wrk from WRK or PATH; a clear LoadError saying how to get it when there is none."""
    name = os.environ.get("WRK") or "wrk"
    path = shutil.which(name)
    if path is None:
        raise LoadError(f"the load generator {name!r} was not found: {INSTALL_WRK}")
    return path


def check_url(url: str) -> str:
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise LoadError(f"expected an http:// or https:// URL with a host, e.g. http://127.0.0.1:8000/, got {url!r}")
    return url


def measure(url: str, *, duration: int = 30, connections: int = 64, threads: int | None = None,
            timeout: int = 10) -> Figures:
    """Run wrk against `url` for `duration` seconds over `connections` keep-alive connections.

    `timeout` is how long one response may take before wrk counts it as a socket error
    (wrk's own default of 2 s is below what a small server shows under 64 connections).
    """
    check_url(url)
    for name, value in (("duration", duration), ("connections", connections), ("threads", threads or 1),
                        ("timeout", timeout)):
        if value < 1:
            raise LoadError(f"{name} must be at least 1, got {value}")
    # wrk needs at least one connection per thread; more threads than cores only add noise.
    threads = min(connections, threads or os.cpu_count() or 1)
    argv = [
        wrk_command(), "--latency",
        "--duration", f"{duration}s",
        "--connections", str(connections),
        "--threads", str(threads),
        "--timeout", f"{timeout}s",
        "--script", str(NON_2XX_SCRIPT),
        url,
    ]
    try:
        result = subprocess.run(argv, capture_output=True, text=True, timeout=duration + timeout + 60,
                                stdin=subprocess.DEVNULL)
    except subprocess.TimeoutExpired:
        raise LoadError(f"wrk did not finish within {duration + timeout + 60} s") from None
    if result.returncode != 0:
        lines = (result.stderr + result.stdout).strip().splitlines() or [f"exit status {result.returncode}"]
        raise LoadError(f"wrk failed against {url}: {lines[-1].strip()}")
    return parse_wrk_output(result.stdout, url=url, connections=connections, threads=threads)


def parse_wrk_output(text: str, *, url: str, connections: int, threads: int) -> Figures:
    """The figures from `wrk --latency --script non2xx.lua` output."""

    def find(pattern: str, what: str) -> re.Match:
        match = re.search(pattern, text, re.MULTILINE)
        if match is None:
            raise LoadError(f"cannot read {what} from wrk's output: {text.strip()[-200:]!r}")
        return match

    totals = find(rf"^\s*([0-9]+) requests in {_TIME}", "the request count")
    sockets = re.search(r"Socket errors: connect ([0-9]+), read ([0-9]+), write ([0-9]+), timeout ([0-9]+)", text)
    return Figures(
        url=url,
        seconds=_milliseconds(totals.group(2), totals.group(3)) / 1000,
        connections=connections,
        threads=threads,
        requests=int(totals.group(1)),
        requests_per_second=float(find(r"^Requests/sec:\s+([0-9.]+)", "req/s").group(1)),
        p50_ms=_milliseconds(*find(rf"^\s+50%\s+{_TIME}", "the p50 latency").groups()),
        p99_ms=_milliseconds(*find(rf"^\s+99%\s+{_TIME}", "the p99 latency").groups()),
        non_2xx=int(find(r"^Non-2xx responses: ([0-9]+)", "the non-2xx count").group(1)),
        socket_errors=dict(zip(SOCKET_ERROR_KINDS, (int(n) for n in sockets.groups()) if sockets else (0,) * 4)),
    )


def _milliseconds(number: str, unit: str) -> float:
    return float(number) * _TIME_UNITS[unit]


class _Parser(argparse.ArgumentParser):
    def error(self, message: str):
        # One line, like every other error here, instead of argparse's usage block.
        self.exit(2, f"error: {message} (see --help)\n")


def main(argv: list[str] | None = None) -> int:
    parser = _Parser(description="Put a URL under load with wrk; print req/s, p50, p99 and errors.")
    parser.add_argument("url", help="e.g. http://127.0.0.1:8000/")
    parser.add_argument("--duration", type=int, default=30, help="seconds of load (default 30)")
    parser.add_argument("--connections", type=int, default=64, help="open connections (default 64)")
    parser.add_argument("--threads", type=int, default=None, help="wrk threads (default: one per CPU)")
    parser.add_argument("--timeout", type=int, default=10, help="seconds before a response counts as an error (default 10)")
    parser.add_argument("--json", action="store_true", help="print the figures as one JSON object")
    options = parser.parse_args(argv)
    try:
        figures = measure(options.url, duration=options.duration, connections=options.connections,
                          threads=options.threads, timeout=options.timeout)
    except LoadError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    print(json.dumps(figures.as_dict()) if options.json else figures.table())
    failure = figures.failure()
    if failure:
        print(f"error: {failure}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
