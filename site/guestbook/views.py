from django import forms
from django.http import HttpResponse, HttpResponseRedirect
from django.shortcuts import render
from django.urls import reverse
from django.views.decorators.http import require_http_methods

from .models import Entry

LATEST_COUNT = 20


class EntryForm(forms.ModelForm):
    class Meta:
        model = Entry
        fields = ["text"]
        widgets = {
            "text": forms.TextInput(
                attrs={"placeholder": "Say hello…", "autocomplete": "off"}
            ),
        }


@require_http_methods(["GET", "HEAD", "POST"])
def index(request):
    if request.method == "POST":
        form = EntryForm(request.POST)
        if form.is_valid():
            form.save()
            # 303 makes the browser follow up with a GET, so reloading the
            # page does not post the entry a second time.
            return HttpResponseRedirect(reverse("index"), status=303)
        status = 400
    else:
        form = EntryForm()
        status = 200

    context = {
        "form": form,
        "count": Entry.objects.count(),
        "entries": Entry.objects.all()[:LATEST_COUNT],
    }
    return render(request, "guestbook/index.html", context, status=status)


# Crawlers may read the guestbook but have no business in the admin.
ROBOTS_TXT = "User-agent: *\nDisallow: /admin/\n"


@require_http_methods(["GET", "HEAD"])
def robots_txt(request):
    return HttpResponse(ROBOTS_TXT, content_type="text/plain; charset=utf-8")
