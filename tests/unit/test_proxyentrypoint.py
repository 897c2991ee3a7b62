"""docker/proxyentrypoint.py, the proxy image's entrypoint: its command, with every empty variable unset."""

from __future__ import annotations

import proxyentrypoint
import pytest


def test_empty_and_blank_variables_are_left_out_and_the_others_kept_as_they_are():
    environ = {"SITE_ADDRESS": "", "UPSTREAM_NAME": "  ", "PATH": "/usr/bin", "PADDED": " x "}
    assert proxyentrypoint.without_empty(environ) == {"PATH": "/usr/bin", "PADDED": " x "}


def test_the_command_replaces_the_process_with_that_environment(monkeypatch):
    ran = []
    monkeypatch.setattr(proxyentrypoint.os, "execvpe", lambda program, argv, env: ran.append((program, argv, env)))
    monkeypatch.setenv("SITE_ADDRESS", "")
    monkeypatch.setenv("UPSTREAM_NAME", "tasks.site_web")
    proxyentrypoint.main(["caddy", "run"])
    [(program, argv, env)] = ran
    assert (program, argv) == ("caddy", ["caddy", "run"])
    assert "SITE_ADDRESS" not in env and env["UPSTREAM_NAME"] == "tasks.site_web"


def test_without_a_command_it_stops_with_one_line():
    with pytest.raises(SystemExit) as stopped:
        proxyentrypoint.main([])
    assert stopped.value.code == "proxyentrypoint: error: no command to run"
