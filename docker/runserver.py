"""`manage.py runserver ARGS`, with the container's health probes kept out of its log.

Run from the project directory, by the entrypoint in development; runserver's reloader
runs this file again in its child process, so the filter is there too.
"""

import logging
import os
import sys

from healthprobes import SkipProbes


def main(argv):
    sys.path.insert(0, os.getcwd())
    # dictConfig (Django's LOGGING) leaves a logger's filters alone, so this one outlives django.setup().
    logging.getLogger("django.server").addFilter(SkipProbes())
    from django.core.management import execute_from_command_line

    execute_from_command_line(["manage.py", "runserver", *argv])


if __name__ == "__main__":
    main(sys.argv[1:])
