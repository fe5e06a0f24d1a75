"""The licence page: instance id, enter a key → confirm, the licence state, and the history.

Registered on the Licence model so that it sits under "Licensing" in the admin; the model's
own add/change/delete views are switched off, because a licence is only ever entered as a key.
The per-user switches live in the PBX users list (presence admin), which this page links to.
"""

from __future__ import annotations

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect
from django.template.response import TemplateResponse
from django.urls import path, reverse

from licensing import tokens, trust
from licensing.models import Installation, Licence
from licensing.state import compute_status

HISTORY_ROWS = 50


class LicenceKeyForm(forms.Form):
    key = forms.CharField(
        label="Licence key",
        widget=forms.Textarea(attrs={"rows": 3, "cols": 80, "spellcheck": "false", "autocomplete": "off"}),
        help_text="Paste the whole key: one line starting with PHL1.",
    )


def order_text(instance_id: str, current: Licence | None) -> str:
    """What an administrator sends to the licence issuer to order (or renew) a licence."""
    lines = [
        "Please issue a Presence Heartbeat licence key.",
        "",
        f"Instance id: {instance_id}",
        "Customer: <your organisation>",
        "Seats (users): <number of users>",
    ]
    if current is not None and not current.demo:
        lines.append(
            f"Current licence: serial {current.serial}, {current.seats} seats, valid until {current.valid_until}"
        )
    return "\n".join(lines)


@admin.register(Licence)
class LicenceAdmin(admin.ModelAdmin):
    """The licence page instead of a list of rows."""

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj=None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj=None) -> bool:
        return False

    def get_urls(self):
        urls = [
            path("confirm/", self.admin_site.admin_view(self.confirm_view), name="licensing_licence_confirm"),
        ]
        return urls + super().get_urls()

    def may_enter(self, request: HttpRequest) -> bool:
        return request.user.has_perm("licensing.activate_licence")

    def changelist_view(self, request: HttpRequest, extra_context=None) -> HttpResponse:
        if not self.has_view_permission(request):
            raise PermissionDenied
        form = LicenceKeyForm()
        if request.method == "POST":
            if not self.may_enter(request):
                raise PermissionDenied
            form = LicenceKeyForm(request.POST)
            if form.is_valid():
                token = "".join(form.cleaned_data["key"].split())
                try:
                    terms = Licence.examine(token)
                except tokens.InvalidLicence as exc:
                    form.add_error("key", exc.message)
                else:
                    return self.render_confirm(request, token, terms)
        return self.render_page(request, form)

    def render_page(self, request: HttpRequest, form: LicenceKeyForm) -> HttpResponse:
        status = compute_status()  # fresh, not cached: this page is where changes are checked
        current = Licence.objects.filter(active=True).first()
        context = {
            **self.admin_site.each_context(request),
            "opts": self.model._meta,
            "title": "Licence",
            "status": status,
            "seats_free": max(status["seats_total"] - status["seats_used"], 0),
            "instance_id": Installation.current().instance_id,
            "order_text": order_text(Installation.current().instance_id, current),
            "current": current,
            "history": Licence.objects.select_related("entered_by")[:HISTORY_ROWS],
            "form": form,
            "may_enter": self.may_enter(request),
            "uses_demo_key": trust.uses_demo_key(),
            "users_url": reverse("admin:presence_pbxuser_changelist"),
        }
        return TemplateResponse(request, "admin/licensing/licence/page.html", context)

    def render_confirm(self, request: HttpRequest, token: str, terms: tokens.LicenceTerms) -> HttpResponse:
        current = Licence.objects.filter(active=True).first()
        context = {
            **self.admin_site.each_context(request),
            "opts": self.model._meta,
            "title": "Confirm the licence key",
            "terms": terms,
            "token": token,
            "current": current,
        }
        return TemplateResponse(request, "admin/licensing/licence/confirm.html", context)

    def confirm_view(self, request: HttpRequest) -> HttpResponse:
        """Enter the key shown on the confirm page (verified again: the form may have been altered)."""
        if request.method != "POST":
            return redirect("admin:licensing_licence_changelist")
        if not self.may_enter(request):
            raise PermissionDenied
        try:
            licence = Licence.enter(request.POST.get("key", ""), by=request.user)
        except tokens.InvalidLicence as exc:
            messages.error(request, f"The licence key was not entered: {exc.message}")
        else:
            messages.success(
                request,
                f"Licence entered: {licence.customer}, {licence.seats} seats, valid until {licence.valid_until}.",
            )
        return redirect("admin:licensing_licence_changelist")
