"""PbxTableUsers replication → the PbxUser directory (create, update, mark removed — never delete)."""

from __future__ import annotations

from django.db import connection, transaction
from django.utils import timezone

from presence.models import LinkStatus, PbxUser, PbxUserEmail

DIRECTORY_FIELDS = ("h323", "cn", "dn", "e164", "node", "emails", "active")
_UPDATE_FIELDS = [*DIRECTORY_FIELDS, "h323_key", "e164_key", "search_text", "updated_at"]


def _row_values(row: dict) -> dict:
    emails = row.get("emails") or []
    return {
        "h323": str(row.get("h323") or "")[:255],
        "cn": str(row.get("cn") or "")[:255],
        "dn": str(row.get("dn") or "")[:255],
        "e164": str(row.get("e164") or "")[:64],
        "node": str(row.get("node") or "")[:255],
        "emails": [str(e)[:255] for e in emails if e],
        "active": True,
    }


def upsert_users(rows: list[dict]) -> tuple[int, int]:
    """Create or update users from replication rows; returns (created, updated). A few queries per batch."""
    by_guid = {str(r["guid"]).lower(): r for r in rows if r.get("guid")}
    if not by_guid:
        return 0, 0
    existing = {u.guid: u for u in PbxUser.objects.filter(guid__in=list(by_guid))}
    created, changed = [], []
    now = timezone.now()
    for guid, row in by_guid.items():
        values = _row_values(row)
        user = existing.get(guid)
        if user is None:
            user = PbxUser(guid=guid, **values)
            user.fill_keys()
            created.append(user)
        elif any(getattr(user, k) != v for k, v in values.items()):
            for key, value in values.items():
                setattr(user, key, value)
            user.fill_keys()
            user.updated_at = now
            changed.append(user)
    with transaction.atomic():
        if created:
            PbxUser.objects.bulk_create(created, batch_size=500)
            created = list(PbxUser.objects.filter(guid__in=[u.guid for u in created]).only("pk", "emails"))
        if changed:
            PbxUser.objects.bulk_update(changed, _UPDATE_FIELDS, batch_size=500)
            PbxUserEmail.objects.filter(user__in=changed).delete()
        emails = [
            PbxUserEmail(user_id=u.pk, email=e) for u in [*created, *changed] for e in {x.lower() for x in u.emails}
        ]
        PbxUserEmail.objects.bulk_create(emails, batch_size=1000)
    return len(created), len(changed)


def mark_removed(guid: str) -> None:
    PbxUser.objects.filter(guid=guid.lower()).update(active=False, updated_at=timezone.now())


def finish_initial_load(seen: set[str]) -> int:
    """After a full replication: users the PBX no longer has become inactive. Returns how many."""
    gone = [pk for pk, guid in PbxUser.objects.filter(active=True).values_list("pk", "guid") if guid not in seen]
    for start in range(0, len(gone), 5000):  # bounded IN lists (SQLite's variable limit)
        PbxUser.objects.filter(pk__in=gone[start : start + 5000]).update(active=False, updated_at=timezone.now())
    LinkStatus.objects.filter(pk=1).update(directory_synced_at=timezone.now())
    if connection.vendor == "postgresql":
        # Fresh statistics after a bulk load: PostgreSQL then re-plans the statements every process
        # has prepared against the directory (a plan made while it was empty would scan it).
        with connection.cursor() as cursor:
            cursor.execute(f"ANALYZE {PbxUser._meta.db_table}, {PbxUserEmail._meta.db_table}")
    return len(gone)
