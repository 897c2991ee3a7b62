"""The Django settings module of every project run in this image (DJANGO_SETTINGS_MODULE).

It imports the project's own module, named by PROJECT_SETTINGS_MODULE (DJANGO_SETTINGS_MODULE
in .env), then applies what the environment says (settingsrules.py). OVERRIDDEN_SETTINGS names
the project settings it replaced; the entrypoint logs them once at start.
"""

import importlib
import os

from settingsrules import configure, read_secret_files

# First: a project's settings may read os.environ as they are imported, and a process that did
# not start through the entrypoint (`docker exec`) has only the NAME_FILE of a secret.
read_secret_files(os.environ)
_project = importlib.import_module(os.environ.get("PROJECT_SETTINGS_MODULE") or "config.settings")
_settings, OVERRIDDEN_SETTINGS = configure(
    {name: getattr(_project, name) for name in dir(_project) if name.isupper()}, os.environ
)
globals().update(_settings)
