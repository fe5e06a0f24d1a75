"""Admin for the PBX directory, presets, event rules, override rules and the settings."""

from __future__ import annotations

from django.contrib import admin
from django.utils.html import format_html

from presence.models import EventRule, OverrideRule, PbxUser, Preset, ServiceSettings


def swatch(colour: str) -> str:
    return format_html(
        '<span style="display:inline-block;width:1em;height:1em;border-radius:50%;background:{};'
        'vertical-align:middle;border:1px solid #0002"></span>',
        colour,
    )


@admin.register(PbxUser)
class PbxUserAdmin(admin.ModelAdmin):
    list_display = ["h323", "cn", "e164", "node", "active", "tel_presence"]
    list_filter = ["active", "node"]
    search_fields = ["search_text"]
    show_full_result_count = False
    list_per_page = 50
    fields = ["guid", "h323", "cn", "dn", "e164", "node", "emails", "active", "presence", "presence_at"]
    readonly_fields = ["presence", "presence_at"]

    def get_search_results(self, request, queryset, search_term):
        # One indexed-friendly condition per word over the lower-cased search column.
        for word in search_term.lower().split():
            queryset = queryset.filter(search_text__contains=word)
        return queryset, False

    @admin.display(description="presence (tel:)")
    def tel_presence(self, obj: PbxUser) -> str:
        entry = obj.contact("tel:")
        if not entry:
            return "—"
        activity = entry.get("activity") or "available"
        from presence.models import ACTIVITY_COLOURS

        return format_html(
            "{} {} {}",
            swatch(ACTIVITY_COLOURS.get(entry.get("activity", ""), "#d9d9d9")),
            activity,
            entry.get("note", ""),
        )


@admin.register(Preset)
class PresetAdmin(admin.ModelAdmin):
    list_display = ["name", "colour", "activity_label", "note", "show_on_user_page", "order"]
    list_editable = ["show_on_user_page", "order"]

    @admin.display(description="")
    def colour(self, obj: Preset) -> str:
        return swatch(obj.display_color)

    @admin.display(description="activity")
    def activity_label(self, obj: Preset) -> str:
        return obj.activity or "available"


@admin.register(EventRule)
class EventRuleAdmin(admin.ModelAdmin):
    list_display = ["event", "action", "preset", "weekdays", "start_time", "end_time"]
    list_select_related = ["preset"]


@admin.register(OverrideRule)
class OverrideRuleAdmin(admin.ModelAdmin):
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
