"""The admin's integration page: trigger URL, API keys, copy-paste lines, recipe downloads, myApps set-up.

The clear API key exists only in the response that creates it: it is never written to the
database, the session or the messages framework. Downloads with the key filled in are therefore
a POST that carries the key back from that page (or pasted by the admin) and renders the recipe
on the fly; without a key, the recipe holds a placeholder that every script refuses loudly.
"""

from __future__ import annotations

from django import forms
from django.contrib import admin
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse, HttpResponseNotAllowed
from django.template.response import TemplateResponse
from django.utils import timezone
from django.utils.translation import gettext
from django.views.decorators.cache import never_cache

from presence.models import ServiceSettings
from presence.myapps.setup import setup_context
from triggers import recipes
from triggers.models import ApiKey
from triggers.wording import key_state_name

NO_STORE = "no-store"
# The page lists every API key (name, prefix, state, use count): the same right as the API-key admin.
VIEW_PERMISSION = "triggers.view_apikey"


def require_view_permission(request: HttpRequest) -> None:
    if not request.user.has_perm(VIEW_PERMISSION):
        raise PermissionDenied(gettext("You may not see the API keys."))


class DownloadForm(forms.Form):
    key = forms.CharField(required=False, strip=True, max_length=100)
    heartbeat_minutes = forms.IntegerField(min_value=1, max_value=recipes.MAX_HEARTBEAT_MINUTES)

    def clean_key(self) -> str | None:
        try:
            return recipes.check_key(self.cleaned_data.get("key"))
        except recipes.RecipeError as exc:
            raise forms.ValidationError(str(exc)) from exc


class NewKeyForm(forms.Form):
    os = forms.ChoiceField(choices=[(name, recipe.title) for name, recipe in recipes.RECIPES.items()])


def default_heartbeat_minutes() -> int:
    """A third of the admin's heartbeat timeout, so two lost beats still do not fire heartbeat-lost."""
    timeout = ServiceSettings.current().heartbeat_timeout_minutes
    if not timeout:
        return recipes.DEFAULT_HEARTBEAT_MINUTES
    return max(1, min(recipes.MAX_HEARTBEAT_MINUTES, timeout // 3))


def _recipe_key_name(os_name: str) -> str:
    base = f"recipe {os_name} {timezone.localdate():%Y-%m-%d}"
    name, n = base, 1
    while ApiKey.objects.filter(name=name).exists():
        n += 1
        name = f"{base} ({n})"
    return name


def _page(request: HttpRequest, *, clear_key: str | None = None, new_key: ApiKey | None = None, form=None):
    url = recipes.trigger_url()
    context = {
        **admin.site.each_context(request),
        "title": gettext("Integration: getting triggers onto computers"),
        "trigger_url": url,
        "url_warnings": recipes.url_warnings(url),
        "api_keys": [(key, key_state_name(key.state)) for key in ApiKey.objects.all()],
        "clear_key": clear_key,
        "new_key": new_key,
        "key_placeholder": recipes.KEY_PLACEHOLDER,
        "one_liners": recipes.one_liners(clear_key),
        "recipes": list(recipes.RECIPES.values()),
        "heartbeat_minutes": default_heartbeat_minutes(),
        "can_add_key": request.user.has_perm("triggers.add_apikey"),
        "new_key_form": form or NewKeyForm(),
        "myapps": setup_context(),
    }
    response = TemplateResponse(request, "admin/integration.html", context)
    response["Cache-Control"] = NO_STORE
    return response


@never_cache
def integration_view(request: HttpRequest) -> HttpResponse:
    """GET: the page. POST: a new key for a recipe, shown once in this response only."""
    require_view_permission(request)
    if request.method == "GET":
        return _page(request)
    if request.method != "POST":
        return HttpResponseNotAllowed(["GET", "POST"])
    if not request.user.has_perm("triggers.add_apikey"):
        raise PermissionDenied(gettext("You may not create API keys."))
    form = NewKeyForm(request.POST)
    if not form.is_valid():
        return _page(request, form=form)
    row, clear = ApiKey.create(_recipe_key_name(form.cleaned_data["os"]))
    return _page(request, clear_key=clear, new_key=row)


@never_cache
def download_view(request: HttpRequest, os_name: str) -> HttpResponse:
    """The recipe for one OS as a zip: POST with the key to fill it in, GET (or no key) for the placeholder."""
    require_view_permission(request)
    try:
        recipes.get(os_name)
    except recipes.RecipeError:
        return HttpResponse(gettext("No such recipe."), status=404, content_type="text/plain; charset=utf-8")
    if request.method == "GET":
        form = DownloadForm({"heartbeat_minutes": request.GET.get("heartbeat_minutes", default_heartbeat_minutes())})
    elif request.method == "POST":
        form = DownloadForm(request.POST)
    else:
        return HttpResponseNotAllowed(["GET", "POST"])
    if not form.is_valid():
        errors = "; ".join(f"{field}: {' '.join(str(msg) for msg in msgs)}" for field, msgs in form.errors.items())
        return HttpResponse(errors, status=400, content_type="text/plain; charset=utf-8")
    data = recipes.zip_bundle(os_name, form.cleaned_data["key"], form.cleaned_data["heartbeat_minutes"])
    response = HttpResponse(data, content_type="application/zip")
    response["Content-Disposition"] = f'attachment; filename="presence-heartbeat-{os_name}.zip"'
    response["Cache-Control"] = NO_STORE
    return response
