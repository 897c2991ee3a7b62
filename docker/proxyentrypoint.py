"""The proxy image's entrypoint: runs its command (Caddy with compose/Caddyfile by default) with
every empty environment variable removed.

Caddy 2.6 takes the default of a `{$NAME:default}` placeholder only when NAME is unset, while an
.env or a stack file hands over an empty value to mean "the default": an empty SITE_ADDRESS
would leave the site block without an address, which Caddy refuses to start with. Nothing in
this container gives an empty variable another meaning. The command replaces this process, so
Caddy is PID 1 and gets the engine's SIGTERM itself.
"""

import os
import sys


def without_empty(environ):
    """`environ` (a mapping of str to str) less the variables whose value is empty or blank."""
    return {name: value for name, value in environ.items() if value.strip()}


def main(argv):
    if not argv:
        sys.exit("proxyentrypoint: error: no command to run")
    os.execvpe(argv[0], argv, without_empty(os.environ))


if __name__ == "__main__":
    main(sys.argv[1:])
