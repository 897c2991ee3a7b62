from datetime import timedelta

from django.test import Client, TestCase, override_settings
from django.urls import reverse
from django.utils import timezone

from .models import Entry

# In the container the suite runs against the collected, hashed static files;
# natively nothing is collected. Plain storage makes {% static %} behave the
# same in both places, so every page-rendering test is identical in both runs.
PLAIN_STATIC = override_settings(
    STORAGES={
        "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
        "staticfiles": {
            "BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"
        },
    }
)


@PLAIN_STATIC
class IndexPageTests(TestCase):
    def test_empty_guestbook_shows_zero(self):
        response = self.client.get(reverse("index"))
        self.assertEqual(response.status_code, 200)
        self.assertEqual(response.context["count"], 0)
        self.assertContains(response, "0 entries")
        self.assertContains(response, "No entries yet")

    def test_lists_entries_from_the_database(self):
        Entry.objects.create(text="Hello from the test")
        Entry.objects.create(text="Second <b>visitor</b>")
        response = self.client.get(reverse("index"))
        self.assertEqual(response.context["count"], 2)
        self.assertContains(response, "2 entries")
        self.assertContains(response, "Hello from the test")
        # Entries are user input, so they must come out escaped.
        self.assertContains(response, "Second &lt;b&gt;visitor&lt;/b&gt;")

    def test_shows_only_the_twenty_latest_newest_first(self):
        now = timezone.now()
        for i in range(25):
            entry = Entry.objects.create(text=f"entry #{i:02d}")
            Entry.objects.filter(pk=entry.pk).update(
                created=now - timedelta(minutes=25 - i)
            )
        response = self.client.get(reverse("index"))
        self.assertContains(response, "25 entries")
        shown = [entry.text for entry in response.context["entries"]]
        self.assertEqual(shown, [f"entry #{i:02d}" for i in range(24, 4, -1)])
        self.assertNotContains(response, "entry #04")

    def test_form_is_csrf_protected(self):
        response = self.client.get(reverse("index"))
        self.assertContains(response, 'name="csrfmiddlewaretoken"')


@PLAIN_STATIC
class SignGuestbookTests(TestCase):
    def test_post_creates_entry_and_redirects(self):
        response = self.client.post(reverse("index"), {"text": "  Nice site!  "})
        self.assertRedirects(response, reverse("index"), status_code=303)
        self.assertEqual(
            list(Entry.objects.values_list("text", flat=True)), ["Nice site!"]
        )

    def test_redirect_shows_the_new_entry(self):
        response = self.client.post(
            reverse("index"), {"text": "Visible after redirect"}, follow=True
        )
        self.assertContains(response, "Visible after redirect")
        self.assertContains(response, "1 entry")

    def assertRejected(self, data):
        with self.assertLogs("django.request", "WARNING"):
            response = self.client.post(reverse("index"), data)
        self.assertEqual(response.status_code, 400)
        self.assertEqual(Entry.objects.count(), 0)
        return response

    def test_empty_text_is_rejected(self):
        response = self.assertRejected({"text": ""})
        self.assertContains(response, "This field is required.", status_code=400)

    def test_blank_text_is_rejected(self):
        response = self.assertRejected({"text": "   "})
        self.assertContains(response, "This field is required.", status_code=400)

    def test_missing_text_is_rejected(self):
        self.assertRejected({})

    def test_too_long_text_is_rejected(self):
        response = self.assertRejected({"text": "x" * 201})
        self.assertContains(response, "at most 200 characters", status_code=400)

    def test_longest_allowed_text_is_accepted(self):
        response = self.client.post(reverse("index"), {"text": "x" * 200})
        self.assertEqual(response.status_code, 303)
        self.assertEqual(Entry.objects.get().text, "x" * 200)

    def test_post_without_csrf_token_is_forbidden(self):
        client = Client(enforce_csrf_checks=True)
        with self.assertLogs("django.security.csrf", "WARNING"):
            response = client.post(reverse("index"), {"text": "forged"})
        self.assertEqual(response.status_code, 403)
        self.assertEqual(Entry.objects.count(), 0)

    def test_post_with_csrf_token_is_accepted(self):
        client = Client(enforce_csrf_checks=True)
        page = client.get(reverse("index"))
        token = page.context["csrf_token"]
        response = client.post(
            reverse("index"), {"text": "genuine", "csrfmiddlewaretoken": token}
        )
        self.assertEqual(response.status_code, 303)
        self.assertEqual(Entry.objects.get().text, "genuine")


@PLAIN_STATIC
class HostValidationTests(TestCase):
    def test_page_with_disallowed_host_is_rejected(self):
        with self.assertLogs("django.security.DisallowedHost", "ERROR"):
            response = self.client.get(reverse("index"), HTTP_HOST="evil.example")
        self.assertEqual(response.status_code, 400)


class RobotsTxtTests(TestCase):
    def test_keeps_crawlers_out_of_the_admin_without_a_query(self):
        with self.assertNumQueries(0):
            response = self.client.get("/robots.txt")
        self.assertEqual(response.status_code, 200)
        self.assertEqual(response["Content-Type"], "text/plain; charset=utf-8")
        self.assertIn(b"Disallow: /admin/", response.content)

    def test_post_is_refused(self):
        with self.assertLogs("django.request", "WARNING"):
            response = self.client.post("/robots.txt")
        self.assertEqual(response.status_code, 405)


@PLAIN_STATIC
class AdminTests(TestCase):
    def test_login_page_renders(self):
        response = self.client.get(reverse("admin:login"))
        self.assertEqual(response.status_code, 200)
        self.assertContains(response, "Django administration")

    def test_entries_are_searchable_in_the_admin(self):
        from django.contrib.auth.models import User

        admin = User.objects.create_superuser("admin", "admin@example.com", "pw")
        self.client.force_login(admin)
        Entry.objects.create(text="Greetings from Lisbon")
        Entry.objects.create(text="Greetings from Oslo")
        url = reverse("admin:guestbook_entry_changelist")
        response = self.client.get(url, {"q": "lisbon"})
        self.assertContains(response, "Greetings from Lisbon")
        self.assertNotContains(response, "Greetings from Oslo")
