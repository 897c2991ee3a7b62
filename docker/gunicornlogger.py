"""gunicorn's own logger, less the container's health probes (healthprobes.py says why).

Apart from healthprobes.py, which granian and runserver load: a project may pin a gunicorn
it never runs here, and that one must not break them.
"""

from gunicorn.glogging import Logger
from healthprobes import is_probe


class ProbeQuietLogger(Logger):
    def access(self, resp, req, environ, request_time):
        if not is_probe(environ.get("PATH_INFO"), environ.get("REMOTE_ADDR")):
            super().access(resp, req, environ, request_time)
