"""Writes to the guestbook over HTTP, as a browser makes them, and faults to throw at a running stack."""

from __future__ import annotations

import json
import re
import threading
import time
import urllib.parse
import urllib.request

from .harness import Project, docker

TOKEN = re.compile(r'name="csrfmiddlewaretoken" value="([^"]+)"')


class Visitor:
    """Signs the guestbook: the CSRF cookie and token from GET /, then a POST, following the 303 to a 200."""

    def __init__(self, base_url: str) -> None:
        self.base_url = base_url + "/"
        self.opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor())
        self.token = ""

    def sign(self, text: str, timeout: float = 5) -> bool:
        """True when the site acknowledged the write (its answer was 2xx after the redirect)."""
        if not self.token:
            with self.opener.open(self.base_url, timeout=timeout) as response:
                self.token = TOKEN.search(response.read().decode()).group(1)
        form = urllib.parse.urlencode({"csrfmiddlewaretoken": self.token, "text": text}).encode()
        with self.opener.open(self.base_url, data=form, timeout=timeout) as response:
            return 200 <= response.status < 300


class Traffic(threading.Thread):
    """Signs the guestbook in a loop until stopped, remembering each write the site acknowledged."""

    def __init__(self, project: Project, prefix: str) -> None:
        super().__init__(daemon=True)
        self.visitor = Visitor(project.base_url)
        self.prefix = prefix
        self.acknowledged: list[str] = []
        self.failed = 0
        self.halt = threading.Event()

    def run(self) -> None:
        number = 0
        while not self.halt.is_set():
            number += 1
            text = f"{self.prefix}-{number}"
            try:
                if self.visitor.sign(text):
                    self.acknowledged.append(text)
                    continue
            except OSError:
                pass  # refused, reset or 5xx while the fault lasts: not acknowledged
            self.failed += 1
            time.sleep(0.1)

    def __enter__(self) -> Traffic:
        self.start()
        return self

    def __exit__(self, *exc_info) -> None:
        self.halt.set()
        self.join(timeout=30)


def stored_texts(project: Project, prefix: str) -> set[str]:
    """The guestbook entries in the database whose text starts with prefix."""
    printed = project.python(
        "import json; from guestbook.models import Entry; "
        f"print(json.dumps(list(Entry.objects.filter(text__startswith={prefix + '-'!r}).values_list('text', flat=True))))"
    )
    return set(json.loads(printed))


def row_counts(project: Project) -> dict[str, int]:
    """Rows of every table, as `inv db.counts` prints them."""
    lines = project.inv("db.counts").stdout.strip().splitlines()[1:]
    return {table: int(rows) for table, rows in (line.rsplit(None, 1) for line in lines)}


def crash(project: Project, container: str) -> None:
    """SIGKILL to the container's main process from outside, as the kernel's OOM killer would send it.

    `docker kill` would not do: the engine takes it as a deliberate stop, and no restart policy
    restarts a container after it. A one-off container in the host's PID namespace sends the signal,
    so this works without root on the host; it carries the project's label, so cleanup finds it.
    """
    pid = str(project.inspect(container)["State"]["Pid"])
    docker(
        "run", "--rm", "--pid", "host", "--user", "0", "--network", "none",
        "--label", f"com.docker.compose.project={project.name}",
        "--entrypoint", "python", project.image, "-c", "import os, sys; os.kill(int(sys.argv[1]), 9)", pid,
    )


def seconds_until_healthy(project: Project, started: float, limit: float = 60) -> float:
    """Seconds from `started` until /healthz answers 200; the limit only keeps a broken stack from hanging."""
    while time.monotonic() - started < limit:
        try:
            if project.get("/healthz", timeout=2)[0] == 200:
                return time.monotonic() - started
        except OSError:
            pass
        time.sleep(0.2)
    return float("inf")
