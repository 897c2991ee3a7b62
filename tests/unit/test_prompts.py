"""The questions before data goes: typed at a terminal, or a flag; never assumed without one."""

from __future__ import annotations

import builtins

import pytest
from invoke import Result

from stack.errors import StackError
from stack.prompts import confirm_volume_deletion

from .conftest import (
    VOLUME_LS,
    ran,
    stack,
)


def no_input(prompt=""):
    raise AssertionError(f"asked {prompt!r} though it must not ask")


def test_deleting_volumes_without_a_terminal_needs_yes(settings, engine, monkeypatch):
    monkeypatch.setattr(builtins, "input", no_input)
    with pytest.raises(StackError) as caught:
        confirm_volume_deletion(stack(settings, engine), yes=False)
    assert "--yes" in caught.value.message


def test_yes_deletes_without_asking(settings, engine, monkeypatch, host):
    host.set_tty(True)
    monkeypatch.setattr(builtins, "input", no_input)
    s = stack(settings, engine)
    confirm_volume_deletion(s, yes=True)
    assert not s.c.run.called


def test_at_a_terminal_the_project_name_must_be_typed(settings, engine, monkeypatch, host, capsys):
    host.set_tty(True)
    prompts = []
    monkeypatch.setattr(builtins, "input", lambda prompt="": prompts.append(prompt) or " proj\n")
    s = stack(settings, engine, (VOLUME_LS, Result("proj_data\n")))
    confirm_volume_deletion(s, yes=False)
    assert prompts == ["Type the project name (proj) to confirm: "]
    assert "proj_data" in capsys.readouterr().out
    assert ran(s.c, "volume", "ls", "--quiet", "--filter", "label=com.docker.compose.project=proj")


def test_a_wrong_answer_deletes_nothing(settings, engine, monkeypatch, host):
    host.set_tty(True)
    monkeypatch.setattr(builtins, "input", lambda prompt="": "yes")
    with pytest.raises(StackError) as caught:
        confirm_volume_deletion(stack(settings, engine), yes=False)
    assert "nothing deleted" in caught.value.message
