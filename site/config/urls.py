"""URL configuration: the admin under /admin/, the guestbook at the root.

/healthz is not routed here; config.healthz.HealthCheckMiddleware answers it.
"""

from django.contrib import admin
from django.urls import include, path

urlpatterns = [
    path("admin/", admin.site.urls),
    path("", include("guestbook.urls")),
]
