"""Settings for running the site's tests natively with pytest-django.

The site's own settings under the image's settings layer (docker/settingsrules.py), as in
the container in development mode: static files straight from the apps, nothing collected.
"""

import config.settings as project
from settingsrules import configure

_settings, _ = configure({name: getattr(project, name) for name in dir(project) if name.isupper()},
                         {"ENVIRONMENT": "development"})
globals().update(_settings)
