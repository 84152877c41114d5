"""The chain's hash becomes keyed (HMAC-SHA256 with AUDIT_HMAC_KEY). Rows written before are first
checked with the old unkeyed hash, chain by chain; a chain that does not verify is not re-hashed
(that would launder a tampering): the migration stops and names it. Then every row is hashed again
with the key, in order, and each chain head follows. Runs as the table's owner, who alone may lift
the append-only trigger for this one upgrade."""

import hashlib
import json
from datetime import UTC

from django.db import migrations

GENESIS = "0" * 64


def _payload(row) -> dict:
    created = row.created_at.astimezone(UTC) if row.created_at.tzinfo else row.created_at
    return {
        "chain": row.chain,
        "seq": int(row.seq),
        "created_at": created.strftime("%Y-%m-%dT%H:%M:%S.%fZ"),
        "actor_id": row.actor_id,
        "actor_email": row.actor_email,
        "studio_id": row.studio_id,
        "project_id": row.project_id,
        "action": row.action,
        "target_type": row.target_type,
        "target_id": row.target_id,
        "target_repr": row.target_repr,
        "ip": row.ip,
        "user_agent": row.user_agent,
        "details": row.details,
        "prev_hash": row.prev_hash,
    }


def _blob(payload: dict) -> bytes:
    return json.dumps(payload, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=str).encode()


def rehash(apps, schema_editor):
    import hmac

    from portal.audit.models import audit_key

    Event = apps.get_model("audit", "AuditEvent")
    Head = apps.get_model("audit", "AuditChainHead")
    key = audit_key()
    connection = schema_editor.connection
    chains = sorted(set(Event.objects.values_list("chain", flat=True)))
    if not chains:
        return
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("ALTER TABLE audit_auditevent DISABLE TRIGGER audit_event_no_update_delete")
    for chain in chains:
        prev_old, prev_new = GENESIS, GENESIS
        for row in Event.objects.filter(chain=chain).order_by("seq").iterator(chunk_size=2000):
            payload = _payload(row)
            if row.prev_hash != prev_old or hashlib.sha256(_blob(payload)).hexdigest() != row.hash:
                raise RuntimeError(
                    f"audit chain {chain} does not verify at seq {row.seq} before the upgrade: not re-hashed. "
                    "Investigate (verify_audit on the previous release), then migrate again."
                )
            prev_old = row.hash
            payload["prev_hash"] = prev_new
            new_hash = hmac.new(key, _blob(payload), hashlib.sha256).hexdigest()
            with connection.cursor() as cursor:  # raw: no model manager stands between this and the row
                cursor.execute("UPDATE audit_auditevent SET prev_hash = %s, hash = %s WHERE id = %s", [prev_new, new_hash, row.pk])
            prev_new = new_hash
        Head.objects.filter(chain=chain).update(last_hash=prev_new)
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("ALTER TABLE audit_auditevent ENABLE TRIGGER audit_event_no_update_delete")


class Migration(migrations.Migration):
    dependencies = [("audit", "0003_append_only_trigger")]

    operations = [migrations.RunPython(rehash, migrations.RunPython.noop)]
