"""docker/imagemiddleware.py, through Django's test client: health, the upload limit, uploaded files."""

from __future__ import annotations

from unittest import mock

import pytest
from django.db import OperationalError, connection
from django.test import override_settings

pytestmark = pytest.mark.django_db

ONLY_THE_IMAGES = ["imagemiddleware.HealthCheckMiddleware", "imagemiddleware.UploadLimitMiddleware",
                   "imagemiddleware.MediaFilesMiddleware", "django.middleware.common.CommonMiddleware"]


@pytest.fixture
def media(tmp_path):
    (tmp_path / "media" / "docs").mkdir(parents=True)
    (tmp_path / "media" / "docs" / "report one.pdf").write_bytes(b"%PDF-1.4 data")
    (tmp_path / "media" / "page.html").write_text("<script>alert(1)</script>")
    (tmp_path / "secret.txt").write_text("outside the media root")
    with override_settings(MEDIA_ROOT=str(tmp_path / "media"), MEDIA_URL="/media/"):
        yield tmp_path / "media"


def test_health_answers_200_whatever_the_host_and_head_without_a_body(client):
    response = client.get("/healthz", HTTP_HOST="evil.example")
    assert (response.status_code, response.content, response["Content-Type"]) == (200, b"ok", "text/plain; charset=utf-8")
    assert client.head("/healthz").content == b""


def test_health_without_the_database_is_503_and_logged(client, caplog):
    with mock.patch.object(connection, "cursor", side_effect=OperationalError("unable to open database file")):
        response = client.get("/healthz")
    assert response.status_code == 503 and b"OperationalError" in response.content
    assert "unable to open database file" in caplog.text


def test_only_the_exact_health_path_is_special(client):
    assert client.get("/healthz/").status_code == 404


@override_settings(MIDDLEWARE=ONLY_THE_IMAGES, UPLOAD_MAX_BYTES=2**20)
def test_a_body_over_the_limit_is_a_413_with_a_message_before_anything_reads_it(client):
    response = client.post("/anything/", data=b"x" * 2**21, content_type="application/octet-stream")
    assert response.status_code == 413
    assert response.content == b"Request Entity Too Large: 2.0 MB is more than the 1 MB this site accepts (UPLOAD_MAX_MB).\n"
    assert client.post("/anything/", data=b"x" * 10, content_type="application/octet-stream").status_code == 404


@override_settings(MIDDLEWARE=ONLY_THE_IMAGES)
def test_an_uploaded_file_is_served_as_data_never_as_a_page(client, media):
    response = client.get("/media/docs/report%20one.pdf")
    assert response.status_code == 200 and b"".join(response.streaming_content) == b"%PDF-1.4 data"
    assert response["X-Content-Type-Options"] == "nosniff"
    page = client.get("/media/page.html")
    assert page.status_code == 200 and page["Content-Security-Policy"] == "sandbox"


@override_settings(MIDDLEWARE=ONLY_THE_IMAGES)
@pytest.mark.parametrize("path", ["/media/docs/", "/media/", "/media/missing.txt", "/media/../secret.txt",
                                  "/media/%2e%2e/secret.txt", "/media/docs/../../secret.txt"])
def test_no_listing_no_traversal_only_404(client, media, path):
    response = client.get(path)
    assert response.status_code in (400, 404)
    assert b"outside the media root" not in b"".join(getattr(response, "streaming_content", [response.content]))
