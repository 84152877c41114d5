"""Backup codes were stored in clear: each is replaced by its keyed digest (see services.backup_code_digest)."""

from django.db import migrations


def hash_codes(apps, schema_editor):
    from portal.accounts.services import backup_code_digest

    StaticToken = apps.get_model("otp_static", "StaticToken")
    for token in StaticToken.objects.all():
        if len(token.token) != 16:  # a clear code (8 characters); digests are 16
            token.token = backup_code_digest(token.token)
            token.save(update_fields=["token"])


class Migration(migrations.Migration):
    dependencies = [
        ("accounts", "0001_initial"),
        ("otp_static", "0003_add_timestamps"),
    ]

    operations = [migrations.RunPython(hash_codes, migrations.RunPython.noop)]
