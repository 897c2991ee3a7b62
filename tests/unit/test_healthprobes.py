"""docker/healthprobes.py: the container's own /healthz probes stay out of each server's access log."""

from __future__ import annotations

import importlib.util
import json
import logging
import logging.config
import sys
from types import SimpleNamespace

import pytest

from .conftest import REPO


@pytest.fixture(scope="module")
def probes():
    spec = importlib.util.spec_from_file_location("healthprobes", REPO / "docker" / "healthprobes.py")
    module = importlib.util.module_from_spec(spec)
    # granian-log.json names the filter by this module name.
    sys.modules["healthprobes"] = module
    spec.loader.exec_module(module)
    yield module
    del sys.modules["healthprobes"]


class Socket:
    def __init__(self, address):
        self.address = address

    def getsockname(self):
        if self.address is None:
            raise OSError("closed")
        return (self.address, 8000)


def record(args, **extra):
    entry = logging.LogRecord("x", logging.INFO, __file__, 1, "%s", args, None)
    entry.__dict__.update(extra)
    return entry


@pytest.mark.parametrize(("path", "address", "kept"), [
    ("/healthz", "127.0.0.1", False), ("/healthz", "::1", False),
    ("/healthz", "172.18.0.1", True), ("/", "127.0.0.1", True), ("/healthz/x", "127.0.0.1", True),
])
def test_granian_access_records_of_probes_are_dropped(probes, path, address, kept):
    # granian logs its access line with one dict of fields (granian.log.log_request_builder).
    assert probes.SkipProbes().filter(record({"path": path, "addr": address, "status": 200})) is kept


@pytest.mark.parametrize(("line", "address", "kept"), [
    ("GET /healthz HTTP/1.1", "127.0.0.1", False), ("GET /healthz HTTP/1.1", "10.0.0.5", True),
    ("GET / HTTP/1.1", "127.0.0.1", True), ("", "127.0.0.1", True), ("GET /healthz HTTP/1.1", None, True),
])
def test_runserver_records_of_probes_are_dropped(probes, line, address, kept):
    # runserver: (request line, status, size), with the connection's socket as `request`
    # (django.core.servers.basehttp); the address is the container's end of it.
    assert probes.SkipProbes().filter(record((line, "200", "2"), request=Socket(address))) is kept


def test_gunicorn_logs_every_request_but_the_probes(probes, monkeypatch):
    import gunicornlogger

    logged = []
    monkeypatch.setattr(gunicornlogger.Logger, "access", lambda self, *args: logged.append(args[2]["PATH_INFO"]))
    logger = gunicornlogger.ProbeQuietLogger.__new__(gunicornlogger.ProbeQuietLogger)
    for path, address in [("/healthz", "127.0.0.1"), ("/", "127.0.0.1"), ("/healthz", "172.18.0.1")]:
        logger.access(SimpleNamespace(), SimpleNamespace(), {"PATH_INFO": path, "REMOTE_ADDR": address}, 0.01)
    assert logged == ["/", "/healthz"]


def test_the_filter_loads_without_gunicorn_which_a_project_may_pin_to_another_version(probes):
    assert "gunicorn" not in (REPO / "docker" / "healthprobes.py").read_text().split('"""', 2)[2]


def test_granians_log_config_puts_the_filter_on_its_access_handler_and_loads(probes):
    config = json.loads((REPO / "docker" / "granian-log.json").read_text())
    assert config["handlers"]["access"]["filters"] == ["skip_probes"]
    assert set(config["loggers"]) == {"_granian", "granian.access"}
    logging.config.dictConfig({**config, "loggers": {}})
