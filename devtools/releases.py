"""Releases to deploy on purpose, shared by the deploy tests and the deploy benchmark."""

# A wsgi.py for the bundled site whose health endpoint fails while every page works: the release
# runs, and never turns healthy, so Swarm rolls it back.
UNHEALTHY_WSGI = '''import os

from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")

_site = get_wsgi_application()


def application(environ, start_response):
    if environ.get("PATH_INFO") == "/healthz":
        start_response("503 Service Unavailable", [("Content-Type", "text/plain")])
        return [b"this release is broken\\n"]
    return _site(environ, start_response)
'''
