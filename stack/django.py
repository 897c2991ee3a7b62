"""What the tasks hand to manage.py, and how words a user typed become arguments."""

from __future__ import annotations

import re
import shlex
import sys
from typing import Mapping, Sequence

from .errors import StackError

SUPERUSER_VARIABLES = ("DJANGO_SUPERUSER_USERNAME", "DJANGO_SUPERUSER_EMAIL", "DJANGO_SUPERUSER_PASSWORD")


def manage_command(args: Sequence[str]) -> list[str]:
    """manage.py with its arguments as a list: each reaches Django as one argument, never a shell."""
    return ["python", "manage.py", *args]


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


def superuser_variables(environment: Mapping[str, str], *, username: str, email: str) -> list[str]:
    """The DJANGO_SUPERUSER_* names `createsuperuser --noinput` will read; error if one it needs is unset."""
    needed = ["DJANGO_SUPERUSER_PASSWORD"]
    needed += [] if username else ["DJANGO_SUPERUSER_USERNAME"]
    needed += [] if email else ["DJANGO_SUPERUSER_EMAIL"]
    missing = [name for name in needed if not environment.get(name)]
    if missing:
        raise StackError(
            f"without a terminal, createsuperuser needs {', '.join(missing)}: set them in .env or the environment"
        )
    return [name for name in SUPERUSER_VARIABLES if environment.get(name)]
