"""Production's webhook rules cannot be relaxed from the environment (read in a fresh process)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PROBE = """
import json, django
from django.conf import settings
django.setup()
from portal.webhooks import net
print(json.dumps({"allow_local": net.allow_local(), "https": net.require_https(),
                  "keys": len(settings.WEBHOOKS_ENCRYPTION_KEYS)}))
"""


def _probe(tmp_path, **extra) -> dict:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("WEBHOOKS_", "PORTAL_ENV", "DEBUG"))}
    env.update(DJANGO_SETTINGS_MODULE="portal.settings", PORTAL_DATA_DIR=str(tmp_path), **extra)
    out = subprocess.run([sys.executable, "-c", PROBE], cwd=ROOT, env=env, check=True, capture_output=True, text=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def test_production_always_requires_https_and_public_addresses(tmp_path):
    production = {"PORTAL_ENV": "production", "SECRET_KEY": "s" * 60, "EMAIL_HOST": "smtp.example.com"}
    assert _probe(tmp_path, **production) == {"allow_local": False, "https": True, "keys": 1}
    relaxed = _probe(tmp_path, **production, WEBHOOKS_ALLOW_LOCAL_ADDRESSES="true", WEBHOOKS_REQUIRE_HTTPS="false")
    assert relaxed["allow_local"] is False and relaxed["https"] is True


def test_development_allows_a_local_receiver_unless_told_otherwise(tmp_path):
    assert _probe(tmp_path) == {"allow_local": True, "https": False, "keys": 1}
    assert _probe(tmp_path, WEBHOOKS_ALLOW_LOCAL_ADDRESSES="false", WEBHOOKS_REQUIRE_HTTPS="true") == {
        "allow_local": False,
        "https": True,
        "keys": 1,
    }
    assert _probe(tmp_path, WEBHOOKS_ENCRYPTION_KEY="key-one, key-two")["keys"] == 2
