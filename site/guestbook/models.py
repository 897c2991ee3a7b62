from django.db import models


class Entry(models.Model):
    text = models.CharField("message", max_length=200)
    created = models.DateTimeField("created at", auto_now_add=True)

    class Meta:
        ordering = ["-created"]
        verbose_name = "guestbook entry"
        verbose_name_plural = "guestbook entries"

    def __str__(self):
        return self.text
