"""What `inv` makes of a command line: optional positionals, the task list, and help for every option."""

from __future__ import annotations

import importlib.util
import inspect
import itertools
import re
import shlex

import invoke
import pytest
from invoke import Collection, Program
from invoke.parser import ParseError, Parser
from invoke.parser.parser import ParseMachine

from stack import cli
from stack.runner import Stack

from .conftest import REPO

TASK_NAMES = {
    "build", "up", "down", "restart", "ps", "status", "doctor", "logs", "open", "manage", "migrate",
    "makemigrations", "shell", "dbshell", "createsuperuser", "exec", "test", "bench",
    "push", "deploy", "releases", "rollback",
    "db.backup", "db.restore", "db.list", "db.counts",
}
_fresh = itertools.count()


def fresh_tasks():
    """A new copy of tasks.py: Invoke pops each task's help dict while building parser contexts, once per Task."""
    spec = importlib.util.spec_from_file_location(f"_tasks_under_test_{next(_fresh)}", REPO / "tasks.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture
def parse():
    parser = Parser(contexts=Collection.from_module(fresh_tasks()).to_contexts())

    def parse(*argv):
        result = parser.parse_argv(list(argv))
        return [(ctx.name, {name: arg.value for name, arg in ctx.args.items()}) for ctx in result], result.remainder

    return parse


def test_logs_with_a_service(parse):
    assert parse("logs", "web") == ([("logs", {"service": "web", "follow": False, "tail": "", "deployed": False})], "")


def test_logs_without_a_service_is_not_an_error(parse):
    assert parse("logs") == ([("logs", {"service": "", "follow": False, "tail": "", "deployed": False})], "")


def test_logs_options_then_service(parse):
    assert parse("logs", "--tail", "5", "-f", "web") == ([("logs", {"service": "web", "follow": True, "tail": "5", "deployed": False})], "")


def test_migrate_fills_both_positionals(parse):
    assert parse("migrate", "guestbook", "0001") == ([("migrate", {"app": "guestbook", "migration": "0001"})], "")


def test_migrate_with_only_an_app(parse):
    assert parse("migrate", "guestbook") == ([("migrate", {"app": "guestbook", "migration": ""})], "")


def test_manage_takes_one_quoted_string(parse):
    assert parse("manage", "check --deploy") == ([("manage", {"args": "check --deploy"})], "")


def test_manage_after_double_dash_goes_to_the_remainder(parse):
    assert parse("manage", "--", "check", "--deploy") == ([("manage", {"args": ""})], "check --deploy")


def test_restart_then_another_task(parse):
    tasks_parsed, _ = parse("restart", "web", "ps")
    assert [name for name, _ in tasks_parsed] == ["restart", "ps"]


def test_without_the_patch_invoke_refuses_a_missing_positional(monkeypatch):
    # The reason stack/cli.py exists (pyinvoke/invoke#159): prove the patch is what makes `inv logs` work.
    parser = Parser(contexts=Collection.from_module(fresh_tasks()).to_contexts())
    monkeypatch.setattr(ParseMachine, "complete_context", cli._complete_context)
    with pytest.raises(ParseError):
        parser.parse_argv(["logs"])


def test_allow_optional_positionals_twice_still_parses(parse):
    # tasks.py may be imported more than once (inv, pytest): the patch must not wrap itself.
    cli.allow_optional_positionals()
    cli.allow_optional_positionals()
    assert ParseMachine.complete_context is cli._complete_context_allowing_empty_positionals
    assert parse("logs") == ([("logs", {"service": "", "follow": False, "tail": "", "deployed": False})], "")


def program(module=None):
    return Program(namespace=Collection.from_module(module or fresh_tasks()), name="inv", binary="inv")


def test_list_shows_every_task(capsys):
    program().run(["inv", "--list"], exit=False)
    listed = set(re.findall(r"^  (\S+)", capsys.readouterr().out, flags=re.MULTILINE))
    assert listed == TASK_NAMES


def test_every_option_of_every_task_is_declared_in_its_help():
    module = fresh_tasks()
    collection = Collection.from_module(module)
    assert set(collection.task_names) == TASK_NAMES
    for name in collection.task_names:
        task = collection[name]
        parameters = set(inspect.signature(task.body).parameters) - {"c"}
        assert parameters <= set(task.help), f"{name}: no help for {sorted(parameters - set(task.help))}"


def test_every_option_shows_help_text_in_inv_help():
    for ctx in Collection.from_module(fresh_tasks()).to_contexts():
        for argument in {id(a): a for a in ctx.args.values()}.values():
            assert argument.help, f"`inv --help {ctx.name}`: {argument.name} has no help text"


@pytest.fixture
def dry_program(engine, monkeypatch, settings):
    """`inv --dry ...` for real, through Invoke's own Program and Context, with the stack built for a temp project."""
    module = fresh_tasks()
    monkeypatch.setattr(module, "open_stack", lambda c, root: Stack(c, settings, engine))
    return program(module)


def test_inv_dry_logs_web_runs_compose_logs_web(dry_program, compose_prefix, capsys):
    dry_program.run(["inv", "--dry", "logs", "web"], exit=False)
    assert shlex.join([*compose_prefix, "logs", "web"]) in capsys.readouterr().out


def test_inv_dry_manage_after_double_dash(dry_program, compose_prefix, capsys):
    dry_program.run(["inv", "--dry", "manage", "--", "check", "--deploy"], exit=False)
    out = capsys.readouterr().out
    assert shlex.join([*compose_prefix, "run", "--rm", "--no-deps", "-T", "web", "python", "manage.py", "check", "--deploy"]) in out


def test_inv_dry_migrate_with_two_positionals(dry_program, compose_prefix, capsys):
    dry_program.run(["inv", "--dry", "migrate", "guestbook", "0001"], exit=False)
    assert "python manage.py migrate guestbook 0001" in capsys.readouterr().out


def test_a_stack_error_is_one_line_and_exit_status_1(dry_program, capsys):
    with pytest.raises(SystemExit) as exited:
        dry_program.run(["inv", "--dry", "manage"])
    assert exited.value.code == 1
    err = capsys.readouterr().err
    assert err.startswith("error: say which manage.py command to run")
    assert "Traceback" not in err and err.count("\n") == 1



@pytest.mark.parametrize("argv", [["db.restore", "--help"], ["logs", "-h"], ["migrate", "guestbook", "--help"]])
def test_help_after_a_task_with_positionals_shows_its_help_instead_of_filling_one(argv, capsys):
    program().run(["inv", *argv], exit=False)
    out = capsys.readouterr().out
    assert out.startswith(f"Usage: inv [--core-opts] {argv[0]} ") and "Options:" in out


# ---- words Invoke does not know: what they probably meant ----


def parse_error(parse, *argv) -> str:
    with pytest.raises(ParseError) as caught:
        parse(*argv)
    return str(caught.value)


@pytest.mark.parametrize(("typed", "meant"), [("mirgate", "migrate"), ("db.bakup", "db.backup"), ("shel", "shell")])
def test_a_misspelt_task_gets_a_did_you_mean(parse, typed, meant):
    assert parse_error(parse, typed) == (
        f"No idea what {typed!r} is! Did you mean `inv {meant}`? (`inv --list` shows every command)"
    )


def test_a_word_like_no_task_points_at_the_list(parse):
    assert parse_error(parse, "frobnicate") == "No idea what 'frobnicate' is! `inv --list` shows every command."


def test_a_second_word_for_manage_says_to_quote_it_or_use_double_dash(parse):
    assert parse_error(parse, "manage", "showmigrations", "blog") == (
        "No idea what 'blog' is! `inv manage` takes a command's words in one quoted string or after --: "
        '`inv manage "showmigrations blog"` or `inv manage -- showmigrations blog`'
    )


def test_a_word_too_many_for_a_task_names_its_arguments(parse):
    assert parse_error(parse, "migrate", "a", "b", "c").endswith(
        "`inv migrate` takes at most 2 words (app, migration): see `inv --help migrate`."
    )
    assert parse_error(parse, "logs", "web", "db").endswith("`inv logs` takes at most 1 word (service): see `inv --help logs`.")


def test_an_unknown_flag_is_left_to_invoke(parse):
    assert parse_error(parse, "up", "--wat") == "No idea what '--wat' is!"


def test_the_patched_parser_is_the_pinned_invoke_it_was_checked_against():
    # Moving the pin fails here until the patch is checked again and INVOKE_CHECKED follows.
    pins = dict(line.split("==") for line in (REPO / "requirements-dev.txt").read_text().splitlines() if "==" in line)
    assert pins["invoke"] == cli.INVOKE_CHECKED
    assert invoke.__version__ == cli.INVOKE_CHECKED


def test_rollback_takes_an_optional_release(parse):
    assert parse("rollback") == ([("rollback", {"release": "", "force": False})], "")
    assert parse("rollback", "8357977126bb", "--force") == ([("rollback", {"release": "8357977126bb", "force": True})], "")
