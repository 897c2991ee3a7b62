"""What the tasks hand to manage.py."""

from __future__ import annotations

from typing import Mapping, Sequence

from .errors import StackError

SUPERUSER_VARIABLES = ("DJANGO_SUPERUSER_USERNAME", "DJANGO_SUPERUSER_EMAIL", "DJANGO_SUPERUSER_PASSWORD")


def manage_command(args: Sequence[str]) -> list[str]:
    """manage.py with its arguments as a list: each reaches Django as one argument, never a shell."""
    return ["python", "manage.py", *args]


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
