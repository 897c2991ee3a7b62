"""Optional positional arguments for the tasks: `inv logs` as well as `inv logs web`.

Invoke fills a positional argument from the next word while the argument is still
None, but then refuses to finish while one is still None, so a positional argument
cannot be optional (pyinvoke/invoke#159, open since 2014). This gives a positional
argument that is still empty when its task's words run out the value "" instead;
everything else about parsing stays Invoke's own. One consequence, as with any
optional positional: `inv logs ps` reads "ps" as the service, not as a second task.
`--help` (or `-h`) after a task always asks for that task's help, though: Invoke would
otherwise take it as the value of a positional argument still to be filled.
"""

from invoke.parser.parser import ParseMachine

_complete_context = ParseMachine.complete_context
_handle = ParseMachine.handle
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
    _handle(self, token)


def allow_optional_positionals() -> None:
    ParseMachine.complete_context = _complete_context_allowing_empty_positionals
    ParseMachine.handle = _handle_help_before_positionals
