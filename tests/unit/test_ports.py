"""The host ports of the web containers: how many, and which program holds one, said before Compose fails."""

from __future__ import annotations

import dataclasses
import socket

import pytest

from devtools.scratch import free_ports
from stack.errors import StackError
from stack.ports import check_ports_free, web_ports
from stack.settings import load_settings

from .conftest import (
    WEB_UP,
    stack,
    write,
)


def check(s, scale="1"):
    check_ports_free(s, web_ports(s, scale))


@pytest.fixture
def busy_port():
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen(1)
        yield sock.getsockname()[1]


def test_port_in_use_is_named_before_compose_fails(settings, engine, busy_port):
    s = stack(dataclasses.replace(settings, web_port=busy_port), engine)
    with pytest.raises(StackError) as caught:
        check(s)
    assert f"port {busy_port}" in caught.value.message and "already in use" in caught.value.message
    assert "WEB_PORT" in caught.value.message


def test_a_busy_port_in_the_range_of_a_scaled_web_is_named(settings, engine):
    first = free_ports(3)
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", first + 2))
        sock.listen(1)
        s = stack(dataclasses.replace(settings, web_port=first), engine)
        with pytest.raises(StackError) as caught:
            check(s, "3")
    assert f"port {first + 2} " in caught.value.message


def test_free_port_passes(settings, engine):
    check(stack(dataclasses.replace(settings, web_port=free_ports()), engine))


def test_port_held_by_our_own_web_container_is_fine(settings, engine, busy_port):
    # Even a crashing web container of this project holds the port: that is not "another program".
    check(stack(dataclasses.replace(settings, web_port=busy_port), engine, WEB_UP))


def test_port_check_is_skipped_for_a_remote_engine(settings, engine, busy_port, monkeypatch):
    monkeypatch.setenv("DOCKER_HOST", "ssh://deploy@build-server")
    check(stack(dataclasses.replace(settings, web_port=busy_port), engine))


def test_port_check_is_skipped_for_a_remote_engine_set_in_env(project_root, engine, busy_port):
    # .env's DOCKER_HOST is what docker gets (Stack.run hands it over), so it decides, not just os.environ.
    write(project_root, f"WEB_PORT={busy_port}\nDOCKER_HOST=ssh://deploy@build-server\n")
    check(stack(load_settings(project_root, {}), engine))


def test_bind_address_not_on_this_machine_is_named(settings, engine):
    s = stack(dataclasses.replace(settings, web_bind="192.0.2.123"), engine)
    with pytest.raises(StackError) as caught:
        check(s)
    assert "WEB_BIND=192.0.2.123" in caught.value.message
