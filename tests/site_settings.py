"""Settings for running the site's tests natively with pytest-django.

The project's own settings, plus a throwaway key and static files served
straight from the apps, so that nothing has to be collected first.
"""

import os

# Long enough for production mode, which the settings assume when ENVIRONMENT is unset.
os.environ.setdefault("SECRET_KEY", "native-tests-only-" + "k3y" * 16)

from config.settings import *  # noqa: E402, F401, F403
from config.settings import STORAGES  # noqa: E402

STORAGES = {
    **STORAGES,
    "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
}

# Look static files up in the apps on each request, as runserver does, instead
# of scanning a STATIC_ROOT that only exists once collectstatic has run.
WHITENOISE_USE_FINDERS = True
WHITENOISE_AUTOREFRESH = True
