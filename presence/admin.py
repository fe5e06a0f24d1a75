"""Admin for the PBX directory, presets, event rules, override rules and the settings."""

from __future__ import annotations

import json

from django.contrib import admin, messages
from django.db.models import Exists, OuterRef
from django.http import JsonResponse
from django.urls import path, reverse
from django.utils.html import format_html
from django.utils.translation import gettext, ngettext
from django.utils.translation import gettext_lazy as _

from heartbeat_site.helpers import html
from heartbeat_site.helpers.wording import short_datetime
from licensing import seats
from licensing.models import Seat
from licensing.state import licence_status
from licensing.wording import LICENCE
from presence.jsonforms import BOUNDED_JSON
from presence.models import ACTIVITY_COLOURS, EventRule, OverrideRule, PbxUser, Preset, ServiceSettings
from presence.wording import DECISIONS, activity_name
from triggers.devices import devices_seen
from triggers.models import Trigger

STATUS_LABELS = dict(Trigger.Status.choices)


def presence_text(value: dict | None) -> str:
    if not value:
        return ""
    return f"{activity_name(value.get('activity'))} {value.get('note', '')}".strip()


def swatch(colour: str) -> str:
    return format_html(
        '<span style="display:inline-block;width:1em;height:1em;border-radius:50%;background:{};'
        'vertical-align:middle;border:1px solid #0002"></span>',
        colour,
    )


class LicensedFilter(admin.SimpleListFilter):
    """Who has a seat? — answers the question a licence renewal starts with."""

    title = _("licence")
    parameter_name = "licensed"

    def lookups(self, request, model_admin):
        return [("yes", _("Licensed")), ("no", _("Not licensed"))]

    def queryset(self, request, queryset):
        if self.value() in ("yes", "no"):
            return queryset.filter(licensed=self.value() == "yes")
        return queryset


@admin.register(PbxUser)
class PbxUserAdmin(admin.ModelAdmin):
    formfield_overrides = BOUNDED_JSON
    list_display = ["licence_switch", "h323", "cn", "e164", "node", "active", "tel_presence"]
    list_display_links = ["h323"]
    list_filter = [LicensedFilter, "active", "node"]
    search_fields = ["search_text"]
    search_help_text = _("Name, login name, number or e-mail; several words must all match.")
    show_full_result_count = False
    list_per_page = 50
    fields = [
        "guid",
        "h323",
        "cn",
        "dn",
        "e164",
        "node",
        "emails",
        "active",
        "presence",
        "presence_at",
        "devices",
        "timeline",
    ]
    readonly_fields = ["presence", "presence_at", "devices", "timeline"]
    actions = ["license_selected", "unlicense_selected"]
    change_list_template = "admin/presence/pbxuser/change_list.html"

    @admin.display(description=_("timeline"))
    def timeline(self, obj: PbxUser) -> str:
        """The answer to "why is Alice yellow?": the latest triggers with what decided each."""
        if obj.pk is None:
            return "—"
        rows = Trigger.objects.filter(pbx_user=obj).order_by("-received_at")[:20]
        timeline = html.table(
            [gettext("happened"), gettext("event"), gettext("status"), gettext("why"), gettext("set")],
            (
                (
                    short_datetime(t.at, seconds=True),
                    t.event,
                    t.get_status_display(),
                    DECISIONS(t.reason or (t.decision or {}).get("rule", "")),
                    presence_text((t.decision or {}).get("after")),
                )
                for t in rows
            ),
        )
        url = reverse("admin:triggers_trigger_changelist") + f"?pbx_user__id__exact={obj.pk}"
        return format_html('{}<p><a href="{}">{}</a></p>', timeline, url, gettext("All of this user's triggers"))

    @admin.display(description=_("devices seen"))
    def devices(self, obj: PbxUser) -> str:
        """The computers this user's triggers came from: where a computer-level event (a shutdown sent
        with only the device) finds them. The newest event from each, and when it happened."""
        if obj.pk is None:
            return "—"
        rows = devices_seen(obj.pk)
        if not rows:
            return gettext("No trigger from a device yet.")
        return html.table(
            [_("device (as last sent)"), _("last event"), _("happened"), _("status")],
            (
                (
                    row["device"],
                    row["event"],
                    short_datetime(row["at"], seconds=True),
                    STATUS_LABELS.get(row["status"], row["status"]),
                )
                for row in rows
            ),
            row_class="device",
        )

    def get_queryset(self, request):
        # One EXISTS per row on Seat's unique index: the switch column and the filter cost no extra query.
        seat = Seat.objects.filter(user_guid=OuterRef("guid"))
        return super().get_queryset(request).annotate(licensed=Exists(seat))

    def get_search_results(self, request, queryset, search_term):
        # One condition per word over the lower-cased search column (name, login, number, e-mails).
        for word in search_term.lower().split():
            queryset = queryset.filter(search_text__contains=word)
        return queryset, False

    def get_urls(self):
        switch = path(
            "<path:object_id>/licence-switch/",
            self.admin_site.admin_view(self.licence_switch_view),
            name="presence_pbxuser_licence_switch",
        )
        return [switch, *super().get_urls()]

    def has_licence_permission(self, request) -> bool:
        """May this person flip licence switches (the bulk actions and the JSON endpoint)?"""
        return request.user.has_perm("licensing.change_seat")

    def changelist_view(self, request, extra_context=None):
        extra_context = {
            **(extra_context or {}),
            "licence_status": licence_status(),
            "may_switch": self.has_licence_permission(request),
        }
        return super().changelist_view(request, extra_context)

    @admin.display(description=_("licence"), ordering="-licensed")
    def licence_switch(self, obj: PbxUser) -> str:
        checked = getattr(obj, "licensed", False)
        return format_html(
            '<span class="licence-cell"><input type="checkbox" role="switch" class="licence-toggle" data-url="{}" '
            'aria-label="{}"{}><span class="licence-msg" role="status"></span></span>',
            reverse("admin:presence_pbxuser_licence_switch", args=[obj.pk]),
            gettext("Licence for %(user)s") % {"user": obj.h323 or obj.guid},
            " checked" if checked else "",
        )

    def licence_switch_view(self, request, object_id: str) -> JsonResponse:
        """POST {"on": true|false}: flip one user's switch at once. JSON in, JSON out, CSRF-protected.

        200 with the new state; 409 when the seats are used up (nothing changed); 403 without the
        licensing permission; 404 for an unknown user.
        """
        if request.method != "POST":
            return JsonResponse(
                {"ok": False, "error": "method_not_allowed", "detail": gettext("Use POST.")}, status=405
            )
        if not self.has_licence_permission(request):
            detail = gettext("You may not change licence switches.")
            return JsonResponse({"ok": False, "error": "forbidden", "detail": detail}, status=403)
        user = self.get_queryset(request).filter(pk=object_id).first() if object_id.isdigit() else None
        if user is None:
            return JsonResponse({"ok": False, "error": "not_found", "detail": gettext("No such PBX user.")}, status=404)
        try:
            body = json.loads(request.body or b"{}")
        except (ValueError, RecursionError):  # RecursionError: nested deeper than Python parses
            body = None
        if not isinstance(body, dict) or not isinstance(body.get("on"), bool):
            detail = gettext('Send JSON like {"on": true}.')
            return JsonResponse({"ok": False, "error": "invalid", "detail": detail}, status=400)
        on = body["on"]
        try:
            changed = seats.set_switch([user.guid], on, by=request.user)
        except seats.SeatLimitExceeded as exc:
            status = licence_status()
            return JsonResponse(
                {
                    "ok": False,
                    "error": "seat_limit",
                    "detail": LICENCE(str(exc)),
                    "on": user.licensed,
                    "seats_used": status["seats_used"],
                    "seats_total": status["seats_total"],
                },
                status=409,
            )
        if changed:
            # The admin's history keeps English: it is a record, read long after in any language.
            self.log_change(request, user, f"Licence switched {'on' if on else 'off'}.")
        status = licence_status()
        return JsonResponse(
            {
                "ok": True,
                "on": on,
                "changed": bool(changed),
                "seats_used": status["seats_used"],
                "seats_total": status["seats_total"],
            }
        )

    @admin.action(description=_("License selected PBX users"), permissions=["licence"])
    def license_selected(self, request, queryset) -> None:
        guids = list(queryset.values_list("guid", flat=True))
        try:
            changed = seats.set_switch(guids, True, by=request.user)
        except seats.SeatLimitExceeded as exc:
            message = gettext("No licence was switched on. %(why)s") % {"why": LICENCE(str(exc))}
            self.message_user(request, message, messages.ERROR)
            return
        already = len(guids) - changed
        self.message_user(
            request,
            ngettext(
                "Licence switched on for %(count)d user; %(already)d were already on.",
                "Licence switched on for %(count)d users; %(already)d were already on.",
                changed,
            )
            % {"count": changed, "already": already},
        )

    @admin.action(description=_("Unlicense selected PBX users"), permissions=["licence"])
    def unlicense_selected(self, request, queryset) -> None:
        guids = list(queryset.values_list("guid", flat=True))
        changed = seats.set_switch(guids, False)
        self.message_user(
            request,
            ngettext(
                "Licence switched off for %(count)d user; %(already)d were already off.",
                "Licence switched off for %(count)d users; %(already)d were already off.",
                changed,
            )
            % {"count": changed, "already": len(guids) - changed},
        )

    @admin.display(description=_("presence (tel:)"))
    def tel_presence(self, obj: PbxUser) -> str:
        entry = obj.contact("tel:")
        if not entry:
            return "—"
        return format_html(
            "{} {} {}",
            swatch(ACTIVITY_COLOURS.get(entry.get("activity", ""), "#d9d9d9")),
            activity_name(entry.get("activity")),
            entry.get("note", ""),
        )


@admin.register(Preset)
class PresetAdmin(admin.ModelAdmin):
    list_display = ["name", "colour", "activity_label", "note", "show_on_user_page", "order"]
    list_editable = ["show_on_user_page", "order"]

    @admin.display(description="")
    def colour(self, obj: Preset) -> str:
        return swatch(obj.display_color)

    @admin.display(description=_("activity"))
    def activity_label(self, obj: Preset) -> str:
        return activity_name(obj.activity)


@admin.register(EventRule)
class EventRuleAdmin(admin.ModelAdmin):
    formfield_overrides = BOUNDED_JSON
    list_display = ["event", "action", "preset", "weekdays", "start_time", "end_time"]
    list_select_related = ["preset"]


@admin.register(OverrideRule)
class OverrideRuleAdmin(admin.ModelAdmin):
    formfield_overrides = BOUNDED_JSON
    list_display = ["order", "name", "activities", "note_match", "note_pattern", "events", "decision", "enabled"]
    list_display_links = ["name"]
    list_editable = ["order", "enabled"]


@admin.register(ServiceSettings)
class ServiceSettingsAdmin(admin.ModelAdmin):
    def has_add_permission(self, request) -> bool:
        return not ServiceSettings.objects.exists()

    def has_delete_permission(self, request, obj=None) -> bool:
        return False

    def changelist_view(self, request, extra_context=None):
        from django.shortcuts import redirect

        return redirect("admin:presence_servicesettings_change", ServiceSettings.current().pk)
