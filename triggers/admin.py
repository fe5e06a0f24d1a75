"""Admin for API keys (shown once, rotated with grace, revoked) and the read-only trigger log."""

from __future__ import annotations

import datetime as dt
from typing import cast

from django import forms
from django.contrib import admin, messages
from django.core.paginator import Paginator
from django.db.models import QuerySet
from django.shortcuts import get_object_or_404, redirect
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils import timezone
from django.utils.functional import cached_property
from django.utils.html import format_html
from django.utils.translation import gettext, ngettext
from django.utils.translation import gettext_lazy as _

from heartbeat_site.helpers import html
from heartbeat_site.helpers.wording import short_datetime
from presence.models import ServiceSettings
from presence.wording import activity_name
from triggers.models import ApiKey, Trigger, new_key
from triggers.recipes import trigger_url
from triggers.wording import TRIGGER_LOG, key_state_name


class RotateForm(forms.Form):
    grace_hours = forms.IntegerField(
        min_value=0,
        max_value=24 * 90,
        initial=72,
        label=_("Grace hours"),
        help_text=_("The old key keeps working this many hours, so deployed scripts can be updated. 0 = at once."),
    )


@admin.register(ApiKey)
class ApiKeyAdmin(admin.ModelAdmin):
    list_display = ["name", "masked", "key_state", "created_at", "last_used_at", "use_count", "expires_at"]
    search_fields = ["name", "prefix"]
    readonly_fields = [
        "masked",
        "key_state",
        "created_at",
        "rotated_at",
        "revoked_at",
        "last_used_at",
        "use_count",
        "previous_valid_until",
    ]
    fields = ["name", "expires_at", *readonly_fields]
    actions = ["revoke_selected"]
    change_form_template = "admin/triggers/apikey/change_form.html"

    @admin.display(description=_("key"))
    def masked(self, obj: ApiKey) -> str:
        return f"phk_{obj.prefix}_…" if obj.prefix else "—"

    @admin.display(description=_("state"))
    def key_state(self, obj: ApiKey) -> str:
        state = obj.state
        if obj.is_due_for_rotation(ServiceSettings.current().key_rotation_days):
            return format_html('<strong style="color:#b45309">{}</strong>', gettext("active — due for rotation"))
        if state == "rotating":
            return gettext("rotating (old key works until %(until)s)") % {
                "until": short_datetime(obj.previous_valid_until) if obj.previous_valid_until else "—"
            }
        return key_state_name(state)

    def save_model(self, request, obj: ApiKey, form, change: bool) -> None:
        if not change:
            clear, obj.prefix, obj.key_hash = new_key()
            request._new_api_key = clear  # shown once in response_add, never stored
        super().save_model(request, obj, form, change)

    def response_add(self, request, obj: ApiKey, post_url_continue=None):
        return self.show_key(request, obj, request._new_api_key, "created")

    def show_key(self, request, obj: ApiKey, clear: str, what: str):
        context = {
            **self.admin_site.each_context(request),
            "opts": self.model._meta,
            "title": gettext("API key created") if what == "created" else gettext("API key rotated"),
            "api_key": obj,
            "clear_key": clear,
            "what": what,
            "trigger_url": trigger_url(),
        }
        response = TemplateResponse(request, "admin/triggers/apikey/show_key.html", context)
        response["Cache-Control"] = "no-store"
        return response

    def get_urls(self):
        urls = super().get_urls()
        custom = [
            path("<int:pk>/rotate/", self.admin_site.admin_view(self.rotate_view), name="triggers_apikey_rotate"),
            path("<int:pk>/revoke/", self.admin_site.admin_view(self.revoke_view), name="triggers_apikey_revoke"),
        ]
        return custom + urls

    def rotate_view(self, request, pk: int):
        obj = get_object_or_404(ApiKey, pk=pk)
        if not self.has_change_permission(request, obj):
            return redirect("admin:index")
        form = RotateForm(request.POST or None)
        if request.method == "POST" and form.is_valid():
            clear = obj.rotate(dt.timedelta(hours=form.cleaned_data["grace_hours"]))
            return self.show_key(request, obj, clear, "rotated")
        context = {
            **self.admin_site.each_context(request),
            "opts": self.model._meta,
            "title": gettext("Rotate %(name)s") % {"name": obj.name},
            "api_key": obj,
            "form": form,
        }
        return TemplateResponse(request, "admin/triggers/apikey/rotate.html", context)

    def revoke_view(self, request, pk: int):
        obj = get_object_or_404(ApiKey, pk=pk)
        if request.method == "POST" and self.has_change_permission(request, obj):
            obj.revoke()
            message = gettext("%(name)s is revoked: it no longer works.") % {"name": obj.name}
            self.message_user(request, message, messages.WARNING)
        return redirect(reverse("admin:triggers_apikey_change", args=[pk]))

    @admin.action(description=_("Revoke selected keys"), permissions=["change"])
    def revoke_selected(self, request, queryset) -> None:
        for key in queryset:
            key.revoke()
        count = len(queryset)
        message = ngettext("Revoked %(count)d key.", "Revoked %(count)d keys.", count) % {"count": count}
        self.message_user(request, message, messages.WARNING)


def describe_presence(value: dict | None) -> str:
    if not value:
        return "—"
    activity = activity_name(value.get("activity"))
    return f"{activity} “{value['note']}”" if value.get("note") else activity


class CappedCountPaginator(Paginator):
    """Counts at most CAP rows: the trigger log holds millions, and COUNT(*) over it is slow."""

    CAP = 10_000

    @cached_property
    def count(self) -> int:
        return cast(QuerySet, self.object_list)[: self.CAP + 1].count()


class ReceivedFilter(admin.SimpleListFilter):
    title = _("received")
    parameter_name = "received"

    def lookups(self, request, model_admin):
        return [("hour", _("Last hour")), ("today", _("Today")), ("7d", _("Last 7 days"))]

    def queryset(self, request, queryset):
        now = timezone.now()
        since = {
            "hour": now - dt.timedelta(hours=1),
            "today": timezone.localtime(now).replace(hour=0, minute=0, second=0, microsecond=0),
            "7d": now - dt.timedelta(days=7),
        }.get(self.value() or "")
        return queryset.filter(received_at__gte=since) if since else queryset


class KeyFilter(admin.SimpleListFilter):
    title = _("API key")
    parameter_name = "key"

    def lookups(self, request, model_admin):
        return [(str(k.pk), k.name) for k in ApiKey.objects.only("pk", "name")]

    def queryset(self, request, queryset):
        return queryset.filter(api_key_id=self.value()) if self.value() else queryset


class ScopeFilter(admin.SimpleListFilter):
    """Computer-level triggers (sent with only a device) and the per-user triggers they were handed out as."""

    title = _("scope")
    parameter_name = "scope"

    def lookups(self, request, model_admin):
        return [("device", _("Computer-level (device only)")), ("handed-out", _("Handed out to a user"))]

    def queryset(self, request, queryset):
        if self.value() == "device":
            return queryset.filter(Trigger.device_only())
        if self.value() == "handed-out":
            return queryset.filter(parent__isnull=False)
        return queryset


@admin.register(Trigger)
class TriggerAdmin(admin.ModelAdmin):
    list_display = ["id", "received_at", "at", "event", "user_link", "device", "status_badge", "why_short", "key_name"]
    list_filter = ["status", "event", "source", ScopeFilter, ReceivedFilter, KeyFilter]
    search_fields = ["user_value"]  # see get_search_fields
    list_select_related = ["pbx_user"]
    paginator = CappedCountPaginator
    show_full_result_count = False
    list_per_page = 100
    ordering = ["-received_at"]
    raw_id_fields = ["pbx_user", "api_key"]
    fields = (
        "id",
        "status",
        "reason_shown",
        "why",
        "handed_out",
        "from_device_trigger",
        "event",
        "source",
        "user_value",
        "pbx_user",
        "device",
        "at",
        "received_at",
        "decided_at",
        "applied_at",
        "key_name",
        "client_id",
        "source_ip",
        "http_status",
    )
    readonly_fields = fields

    @admin.display(description=_("reason"), ordering="reason")
    def why_short(self, obj: Trigger) -> str:
        """The stored reason (English, as the API answered it) in the reader's language."""
        return TRIGGER_LOG(obj.reason)

    @admin.display(description=_("reason"))
    def reason_shown(self, obj: Trigger) -> str:
        return TRIGGER_LOG(obj.reason) or "—"

    @admin.display(description=_("decision"))
    def why(self, obj: Trigger) -> str:
        """The answer to "why is Alice yellow?": the rule, and the presence before and after."""
        decision = obj.decision or {}
        if not decision.get("rule") and not decision.get("before") and not decision.get("after"):
            return "—"
        preset = decision.get("preset") or "—"
        return format_html(
            "<div>{}: {}</div><div>{}: {}</div><div>{}: {}</div><div>{}: {}</div>",
            gettext("Rule"),
            TRIGGER_LOG(decision.get("rule") or "—"),
            gettext("Preset"),
            gettext("restore") if preset == "restore" else preset,
            gettext("Before"),
            describe_presence(decision.get("before")),
            gettext("After"),
            describe_presence(decision.get("after")),
        )

    @admin.display(description=_("decisions per user"))
    def handed_out(self, obj: Trigger) -> str:
        """A computer-level trigger's per-user triggers: who was on the device, and what came of each."""
        if not obj.for_device_only:
            return "—"
        if obj.status == Trigger.Status.QUEUED:
            return gettext("Not handed out yet: the link worker does that in its next round.")
        rows = Trigger.objects.filter(parent=obj).select_related("pbx_user").order_by("pbx_user__h323", "id")
        if not rows:
            return TRIGGER_LOG(obj.reason) or "—"
        return html.table(
            [_("trigger"), _("user"), _("status"), _("why"), _("set")],
            (
                (
                    format_html(
                        '<a href="{}">#{}</a>', reverse("admin:triggers_trigger_change", args=[row.pk]), row.pk
                    ),
                    row.pbx_user.h323 if row.pbx_user else row.user_value,
                    row.get_status_display(),
                    TRIGGER_LOG(row.reason or (row.decision or {}).get("rule", "")),
                    describe_presence((row.decision or {}).get("after")),
                )
                for row in rows
            ),
            row_class="handed-out",
        )

    @admin.display(description=_("from computer-level trigger"))
    def from_device_trigger(self, obj: Trigger) -> str:
        if obj.parent_id is None:
            return "—"
        url = reverse("admin:triggers_trigger_change", args=[obj.parent_id])
        return format_html('<a href="{}">#{}</a> ({})', url, obj.parent_id, obj.device)

    def get_search_fields(self, request):
        # An exact id search only when the term is a number (`=id` fails on text).
        term = request.GET.get("q", "").strip()
        fields = ["user_value", "pbx_user__h323_key", "device", "=client_id"]
        return ["=id", *fields] if term.isdigit() else fields

    def has_add_permission(self, request) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        return False

    @admin.display(description=_("user"), ordering="pbx_user__h323")
    def user_link(self, obj: Trigger) -> str:
        if obj.pbx_user is not None:
            url = reverse("admin:presence_pbxuser_change", args=[obj.pbx_user_id])
            return format_html('<a href="{}">{}</a>', url, obj.pbx_user.h323 or obj.user_value)
        if obj.for_device_only:
            return format_html("<em>{}</em>", _("users on this device"))
        return obj.user_value

    @admin.display(description=_("status"), ordering="status")
    def status_badge(self, obj: Trigger) -> str:
        colours = {
            "applied": "#15803d",
            "queued": "#1d4ed8",
            "skipped": "#6b7280",
            "superseded": "#6b7280",
            "failed": "#b91c1c",
            "refused": "#b45309",
            "dispatched": "#15803d",
        }
        return format_html(
            '<strong style="color:{}">{}</strong>', colours.get(obj.status, "#000"), obj.get_status_display()
        )
