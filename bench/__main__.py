"""`python -m bench`, which `inv bench` runs: every option is required, `inv bench` gives the defaults.

Exit status 0 with the table printed, else one `error:` line and a non-zero status.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from stack.engine import check_daemon, find_engine
from stack.errors import StackError
from stack.settings import load_settings

from . import compare

ROOT = Path(__file__).resolve().parents[1]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench", description="This stack against the tutorial Dockerfile.")
    for name in ("repeat", "duration", "connections"):
        parser.add_argument(f"--{name}", type=int, required=True)
    parser.add_argument("--servers", required=True, help="comma-separated; empty means all")
    parser.add_argument("--output", type=Path, required=True, help="directory, relative to the project")
    args = parser.parse_args(argv)
    try:
        options = compare.Options(repeat=args.repeat, duration=args.duration, connections=args.connections,
                                  servers=compare.parse_servers(args.servers))
        compare.check_options(options)
        settings = load_settings(ROOT)
        engine = find_engine(settings)
        check_daemon(engine)
        compare.run(ROOT, settings, engine, options, ROOT / args.output)
    except StackError as error:
        print(error.message, file=sys.stderr)
        return error.code
    return 0


if __name__ == "__main__":
    sys.exit(main())
