"""Uploading a file through a Django form, as a browser does: the CSRF cookie and token, then multipart."""

from __future__ import annotations

import http.cookiejar
import re
import urllib.error
import urllib.request
import uuid


def upload(url: str, fields: dict[str, str], file_field: str, filename: str, content: bytes) -> int:
    """GET the form at `url`, then POST it with the file; the status of the answer (redirects not followed)."""
    jar = http.cookiejar.CookieJar()
    opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(jar), _NoRedirect())
    with opener.open(url, timeout=30) as page:
        token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page.read().decode()).group(1)
    boundary = uuid.uuid4().hex
    parts = [_part(boundary, name, value.encode()) for name, value in {**fields, "csrfmiddlewaretoken": token}.items()]
    parts.append(_part(boundary, file_field, content, filename))
    body = b"".join(parts) + f"--{boundary}--\r\n".encode()
    request = urllib.request.Request(url, data=body, method="POST", headers={
        "Content-Type": f"multipart/form-data; boundary={boundary}", "Referer": url})
    try:
        with opener.open(request, timeout=300) as answer:
            return answer.status
    except urllib.error.HTTPError as answer:
        return answer.code


def _part(boundary: str, name: str, value: bytes, filename: str = "") -> bytes:
    disposition = f'form-data; name="{name}"' + (f'; filename="{filename}"' if filename else "")
    kind = "Content-Type: application/octet-stream\r\n" if filename else ""
    return f"--{boundary}\r\nContent-Disposition: {disposition}\r\n{kind}\r\n".encode() + value + b"\r\n"


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args, **kwargs):
        return None
