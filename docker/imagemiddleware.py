"""The middleware the image puts in front of every project (settingsrules.IMAGE_MIDDLEWARE)."""

import logging
import posixpath

from django.conf import settings
from django.db import Error, connection
from django.http import Http404, HttpResponse
from django.views.static import serve

logger = logging.getLogger(__name__)

HEALTHZ_PATH = "/healthz"


class HealthCheckMiddleware:
    """/healthz: 200 when the database answers, 503 when not; for the engine's probe and `inv up`.

    First in the chain, so it is answered before ALLOWED_HOSTS is checked: the probe asks
    http://127.0.0.1/healthz, which a deployment need not allow. It never reads the Host header.
    """

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
        # gunicorn drops (and warns about) a body sent in reply to HEAD.
        return HttpResponse("" if request.method == "HEAD" else body, status=status,
                            content_type="text/plain; charset=utf-8")


class UploadLimitMiddleware:
    """A request body over UPLOAD_MAX_BYTES gets a 413 with a message before anything reads it."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        length = request.META.get("CONTENT_LENGTH") or ""
        limit = settings.UPLOAD_MAX_BYTES
        if length.isdigit() and int(length) > limit:
            message = (f"Request Entity Too Large: {int(length) / 2**20:.1f} MB is more than the "
                       f"{limit / 2**20:.0f} MB this site accepts (UPLOAD_MAX_MB).\n")
            return HttpResponse(message, status=413, content_type="text/plain; charset=utf-8")
        return self.get_response(request)


class MediaFilesMiddleware:
    """Uploaded files under MEDIA_URL, from MEDIA_ROOT on the data volume, in both modes.

    Django's static `serve` view refuses paths outside the root and, with show_indexes off,
    directories. An upload is served as data, never as a page of this site: no MIME sniffing,
    and a sandbox in which an uploaded HTML or SVG file runs no script with the site's rights.
    """

    def __init__(self, get_response):
        self.get_response = get_response
        self.prefix = "/" + settings.MEDIA_URL.strip("/") + "/"

    def __call__(self, request):
        if not request.path_info.startswith(self.prefix) or request.method not in ("GET", "HEAD"):
            return self.get_response(request)
        path = posixpath.normpath(request.path_info[len(self.prefix):]).lstrip("/")
        try:
            response = serve(request, path, document_root=settings.MEDIA_ROOT, show_indexes=False)
        except Http404:
            response = HttpResponse("Not Found\n", status=404, content_type="text/plain; charset=utf-8")
        response["X-Content-Type-Options"] = "nosniff"
        response["Content-Security-Policy"] = "sandbox"
        return response
