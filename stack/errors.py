"""The one error type for things a user can fix."""

from invoke import Exit


class StackError(Exit):
    """A user-facing failure: Invoke prints the message as one line and exits non-zero.

    Deriving from `invoke.Exit` means no task needs a try/except to turn a
    configuration mistake into a clean exit instead of a traceback.
    """

    def __init__(self, message: str, code: int = 1) -> None:
        super().__init__(f"error: {message}", code)
