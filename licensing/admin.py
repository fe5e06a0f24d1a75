"""The licence page: instance id, enter a key → confirm, the licence state, and the history.

Registered on the Licence model so that it sits under "Licensing" in the admin; the model's
own add/change/delete views are switched off, because a licence is only ever entered as a key.
The per-user switches live in the PBX users list (presence admin), which this page links to.
"""

from __future__ import annotations

import datetime as dt

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils.formats import date_format
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from licensing import tokens, trust
from licensing.models import Installation, Licence
from licensing.state import compute_status
from licensing.wording import LICENCE

HISTORY_ROWS = 50


class LicenceKeyForm(forms.Form):
    key = forms.CharField(
        label=_("Licence key"),
        widget=forms.Textarea(attrs={"rows": 3, "cols": 80, "spellcheck": "false", "autocomplete": "off"}),
        help_text=_("Paste the whole key: one line starting with PHL1."),
    )


def order_text(instance_id: str, current: Licence | None) -> str:
    """What an administrator sends to the licence issuer to order (or renew) a licence (in their language)."""
    lines = [
        gettext("Please issue a Presence Heartbeat licence key."),
        "",
        gettext("Instance id: %(instance)s") % {"instance": instance_id},
        gettext("Customer: <your organisation>"),
        gettext("Seats (users): <number of users>"),
    ]
    if current is not None and not current.demo:
        lines.append(
            gettext("Current licence: serial %(serial)s, %(seats)s seats, valid until %(until)s")
            % {"serial": current.serial, "seats": current.seats, "until": current.valid_until.isoformat()}
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
                    form.add_error("key", LICENCE(exc.message))
                else:
                    return self.render_confirm(request, token, terms)
        return self.render_page(request, form)

    def render_page(self, request: HttpRequest, form: LicenceKeyForm) -> HttpResponse:
        status = compute_status()  # fresh, not cached: this page is where changes are checked
        current = Licence.objects.filter(active=True).first()
        context = {
            **self.admin_site.each_context(request),
            "opts": self.model._meta,
            "title": gettext("Licence"),
            "status": status,
            "message": LICENCE(status["message"]),
            "valid_until": dt.date.fromisoformat(status["valid_until"]) if status["valid_until"] else None,
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
            "title": gettext("Confirm the licence key"),
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
            messages.error(request, gettext("The licence key was not entered: %(why)s") % {"why": LICENCE(exc.message)})
        else:
            messages.success(
                request,
                gettext("Licence entered: %(customer)s, %(seats)s seats, valid until %(until)s.")
                % {
                    "customer": licence.customer,
                    "seats": licence.seats,
                    "until": date_format(licence.valid_until, "SHORT_DATE_FORMAT"),
                },
            )
        return redirect("admin:licensing_licence_changelist")
