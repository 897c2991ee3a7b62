"""What tasks.py needs to run the Django site through Docker Compose.

settings  reads and checks .env           engine  finds docker and the Compose flavour
compose   docker/Compose argument lists    django  manage.py arguments from what a user typed
runner    runs commands, echoed once, and waits for health
cli       lets a task's positional arguments be optional
"""

from .compose import WEB
from .django import line_count, manage_command, split_arguments, superuser_variables
from .errors import StackError
from .runner import Stack, open_stack, run_on_host

__all__ = [
    "WEB",
    "Stack",
    "StackError",
    "line_count",
    "manage_command",
    "open_stack",
    "run_on_host",
    "split_arguments",
    "superuser_variables",
]
