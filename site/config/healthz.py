"""
Liveness and readiness probe at /healthz.

This is a middleware rather than a view because views only run after
CommonMiddleware has validated the Host header against ALLOWED_HOSTS. The
container's health check calls http://127.0.0.1/healthz, and 127.0.0.1 is not
necessarily an allowed host in a deployment, so the probe must be answered
before that check. It never looks at the Host header, so answering it early is
safe.
"""

import logging

from django.db import Error, connection
from django.http import HttpResponse

logger = logging.getLogger(__name__)

HEALTHZ_PATH = "/healthz"


class HealthCheckMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        if request.path_info != HEALTHZ_PATH or request.method not in ("GET", "HEAD"):
            return self.get_response(request)
        try:
            with connection.cursor() as cursor:
                cursor.execute("SELECT 1")
                cursor.fetchone()
        except Error as exc:
            logger.error("Health check failed: database error: %r", exc)
            status, body = 503, f"database unavailable: {type(exc).__name__}\n"
        else:
            status, body = 200, "ok"
        if request.method == "HEAD":
            # gunicorn drops (and warns about) a body sent in reply to HEAD.
            body = ""
        return HttpResponse(
            body, status=status, content_type="text/plain; charset=utf-8"
        )
