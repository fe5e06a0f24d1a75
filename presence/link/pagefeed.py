"""Messages from the link worker to the user page (Channels groups, one per PBX user)."""

from __future__ import annotations


def presence_group(user_id: int) -> str:
    return f"presence-user-{user_id}"


def presence_message(presence: list[dict], contact: str) -> dict:
    """The user's presence as the page shows it: the entry we set (`tel:`) and the newest one."""
    mine = next((p for p in presence if p.get("contact") == contact), {})
    return {
        "type": "presence.changed",
        "activity": mine.get("activity", ""),
        "note": mine.get("note", ""),
        "newest": presence[0] if presence else {},
    }


def outcome_message(trigger_id: int, status: str, reason: str) -> dict:
    return {"type": "trigger.outcome", "id": trigger_id, "status": status, "reason": reason}
