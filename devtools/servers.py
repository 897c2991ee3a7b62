"""The production servers WEB_SERVER can pick, as the image's entrypoint defines them (its one list)."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

ENTRYPOINT = Path(__file__).resolve().parents[1] / "docker" / "entrypoint.py"


def _load_entrypoint():
    # Its companions (settingsrules.py) are on the image's PYTHONPATH; here, beside it.
    if str(ENTRYPOINT.parent) not in sys.path:
        sys.path.append(str(ENTRYPOINT.parent))
    spec = importlib.util.spec_from_file_location("entrypoint", ENTRYPOINT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def web_servers() -> tuple[str, ...]:
    """The server names, the image's default (DEFAULT_WEB_SERVER) first, then the rest in their order."""
    entrypoint = _load_entrypoint()
    default = entrypoint.DEFAULT_WEB_SERVER
    return (default, *(name for name in entrypoint.SERVERS if name != default))


WEB_SERVERS = web_servers()
