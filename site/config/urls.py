"""URL configuration: the admin under /admin/, the guestbook at the root.

/healthz and the uploaded files under /media/ are answered by the image's own middleware.
"""

from django.contrib import admin
from django.urls import include, path

urlpatterns = [
    path("admin/", admin.site.urls),
    path("", include("guestbook.urls")),
]
