"""Keep the container's own health probes out of the access log.

The image's HEALTHCHECK asks /healthz from inside the container every 2 s: logged, those
lines would outnumber the real requests. A probe is recognised by its path and its
loopback address, so a request for /healthz from outside is still logged. Each server is
told through its own public hook: gunicorn's `--logger-class` (gunicornlogger.py), granian's
`--log-config`
(granian-log.json, which puts SkipProbes on its access handler), and SkipProbes on Django's
`django.server` logger for runserver (runserver.py).
"""

import logging

HEALTHZ_PATH = "/healthz"
LOOPBACK = ("127.0.0.1", "::1")


def is_probe(path, address):
    return path == HEALTHZ_PATH and address in LOOPBACK


class SkipProbes(logging.Filter):
    """For granian's `granian.access` records (their arguments a dict) and runserver's `django.server`
    ones (the request line first among their arguments, the connection's socket attached as `request`)."""

    def filter(self, record):
        if isinstance(record.args, dict):
            return not is_probe(record.args.get("path"), record.args.get("addr"))
        words = str(record.args[0]).split() if record.args else []
        try:
            # This end's address: a probe's connection arrives on loopback, the published port's on
            # the container's own address. (The client may have hung up by now; this end stays.)
            address = record.request.getsockname()[0]
        except (AttributeError, OSError, IndexError):
            return True
        return not is_probe(words[1] if len(words) > 1 else None, address)
