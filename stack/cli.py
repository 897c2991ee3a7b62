"""What a user types after `inv NAME`: optional positional arguments, and words for a command.

Optional positional arguments: `inv logs` as well as `inv logs web`.

Invoke fills a positional argument from the next word while the argument is still
None, but then refuses to finish while one is still None, so a positional argument
cannot be optional (pyinvoke/invoke#159, open since 2014). This gives a positional
argument that is still empty when its task's words run out the value "" instead;
everything else about parsing stays Invoke's own. One consequence, as with any
optional positional: `inv logs ps` reads "ps" as the service, not as a second task.
`--help` (or `-h`) after a task always asks for that task's help, though: Invoke would
otherwise take it as the value of a positional argument still to be filled.

Invoke's parser is not a public API: requirements-dev.txt pins Invoke, and
tests/unit/test_cli.py checks this patch against the pinned version and fails when the pin
moves away from INVOKE_CHECKED, so an upgrade fails a test before it reaches a user.
"""

from __future__ import annotations

import difflib
import re
import shlex
import sys
from typing import Sequence

from invoke.exceptions import ParseError
from invoke.parser.parser import ParseMachine

from .errors import StackError

# The Invoke release this patch of its parser was written and tested for.
INVOKE_CHECKED = "3.0.3"
# Positional arguments that hold the words of a command line (`inv manage "ARGS"`, `inv exec "CMD"`).
WORD_ARGUMENTS = ("args", "cmd")

_complete_context = getattr(ParseMachine, "complete_context", None)
_handle = getattr(ParseMachine, "handle", None)
HELP_FLAGS = ("--help", "-h")


def _complete_context_allowing_empty_positionals(self) -> None:
    if self.context:
        for argument in self.context.missing_positional_args:
            argument.value = ""
    _complete_context(self)


def _handle_help_before_positionals(self, token: str) -> None:
    if (
        token in HELP_FLAGS
        and self.context
        and self.context.missing_positional_args
        and not self.waiting_for_flag_value
        and self.initial
        and token in self.initial.flags
    ):
        # What Invoke does with --help after a task that has no positional left to fill.
        self.initial.flags[token].value = self.context.name
        return
    try:
        _handle(self, token)
    except ParseError as error:
        hint = _unknown_word_hint(self, token) if str(error).startswith("No idea what") else ""
        if not hint:
            raise
        raise ParseError(f"{error} {hint}", error.context) from None


def _unknown_word_hint(machine, token: str) -> str:
    """What a word Invoke does not know probably meant: a task's name misspelt, or a second word for a task."""
    if token.startswith("-"):
        return ""
    context = machine.context
    if context is not None and context.positional_args:
        # Every positional argument of the task is filled, and this is one word too many.
        name, last = context.name, context.positional_args[-1]
        if last.name in WORD_ARGUMENTS:
            return (f"`inv {name}` takes a command's words in one quoted string or after --: "
                    f'`inv {name} "{last.value} {token}"` or `inv {name} -- {last.value} {token}`')
        count = len(context.positional_args)
        names = ", ".join(argument.name for argument in context.positional_args)
        return f"`inv {name}` takes at most {count} word{'s' if count > 1 else ''} ({names}): see `inv --help {name}`."
    close = difflib.get_close_matches(token, [name for name in machine.contexts if not name.startswith("-")], n=1)
    return f"Did you mean `inv {close[0]}`? (`inv --list` shows every command)" if close else "`inv --list` shows every command."


def allow_optional_positionals() -> None:
    """Patch Invoke's parser; StackError when it lacks what the patch replaces (another Invoke)."""
    if not (callable(_complete_context) and callable(_handle)):
        raise StackError("this Invoke's parser is not the one the tasks know: run `pip install -r requirements-dev.txt`")
    ParseMachine.complete_context = _complete_context_allowing_empty_positionals
    ParseMachine.handle = _handle_help_before_positionals


def split_arguments(*sources: str | None, remainder: str = "", task_name: str) -> list[str]:
    """Words from quoted strings, split as a shell would but never run by one, then the words after `--`."""
    words: list[str] = []
    try:
        for source in sources:
            words += shlex.split(source or "")
        return words + remainder_words(remainder)
    except ValueError as exc:
        raise StackError(f"cannot split the arguments of `inv {task_name}` ({exc}): check the quotes") from None


def remainder_words(remainder: str, argv: Sequence[str] | None = None) -> list[str]:
    """The words after `--`, as the shell handed them over.

    Invoke joins them with spaces into `Context.remainder`, which loses the quoting of a
    word with a space in it (`inv exec -- python -c "print('a b')"`). When the command
    line at hand joins to that same string, its words are taken as they are.
    """
    argv = sys.argv if argv is None else argv
    if "--" in argv:
        words = list(argv[argv.index("--") + 1:])
        if " ".join(words) == remainder:
            return words
    return shlex.split(remainder)


def line_count(value: str, option: str) -> str:
    if value != "all" and not re.fullmatch(r"[0-9]+", value):
        raise StackError(f"{option} takes a number of lines or 'all', got {value!r}")
    return value
