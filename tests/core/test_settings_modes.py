"""One settings module, two modes, chosen by the environment alone (read in a fresh process)."""

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
print(json.dumps({
    "db": settings.DATABASES["default"]["ENGINE"],
    "db_options": settings.DATABASES["default"].get("OPTIONS", {}),
    "broker": settings.CELERY_BROKER_URL,
    "layer": settings.CHANNEL_LAYERS["default"]["BACKEND"],
    "storage": settings.STORAGES["default"]["BACKEND"],
    "email": settings.EMAIL_BACKEND,
    "embedded_worker": settings.CELERY_EMBEDDED_WORKER,
    "debug": settings.DEBUG,
    "site_url": settings.SITE_URL,
}))
"""
MODE_VARS = ("DATABASE_URL", "REDIS_URL", "S3_BUCKET", "EMAIL_HOST", "PORTAL_ENV", "DEBUG", "SITE_URL", "PORT")


def _settings_with(tmp_path, **extra) -> dict:
    env = {k: v for k, v in os.environ.items() if k not in MODE_VARS}
    env.update(DJANGO_SETTINGS_MODULE="portal.settings", PORTAL_DATA_DIR=str(tmp_path), **extra)
    out = subprocess.run([sys.executable, "-c", PROBE], cwd=ROOT, env=env, check=True, capture_output=True, text=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def test_no_variables_means_the_embedded_default(tmp_path):
    s = _settings_with(tmp_path)
    assert s["db"] == "django.db.backends.sqlite3"
    assert "journal_mode=WAL" in s["db_options"]["init_command"]
    assert s["broker"] == "memory://"
    assert s["layer"] == "channels.layers.InMemoryChannelLayer"
    assert s["storage"] == "django.core.files.storage.FileSystemStorage"
    assert s["email"] == "django.core.mail.backends.console.EmailBackend"
    assert s["embedded_worker"] is True
    assert s["site_url"] == "http://127.0.0.1:8000"


def test_emailed_links_follow_the_port_make_run_serves_on(tmp_path):
    # finding 17: `make run PORT=8101` served on 8101 but invitations linked to 8000
    assert _settings_with(tmp_path, PORT="8101")["site_url"] == "http://127.0.0.1:8101"
    assert (
        _settings_with(tmp_path, PORT="8101", SITE_URL="https://portal.example.com")["site_url"] == "https://portal.example.com"
    )


def test_service_variables_switch_every_layer(tmp_path):
    s = _settings_with(
        tmp_path,
        DATABASE_URL="postgres://portal@db.internal:5432/portal",
        REDIS_URL="redis://cache.internal:6379/0",
        S3_BUCKET="studio-media",
        EMAIL_HOST="smtp.internal",
    )
    assert s["db"] == "django.db.backends.postgresql"
    assert s["broker"] == "redis://cache.internal:6379/0"
    assert s["layer"] == "channels_redis.core.RedisChannelLayer"
    assert s["storage"] == "storages.backends.s3.S3Storage"
    assert s["email"] == "django.core.mail.backends.smtp.EmailBackend"
    assert s["embedded_worker"] is False


def test_production_settings_pass_the_deploy_check_with_no_warning(tmp_path):
    env = {k: v for k, v in os.environ.items() if k not in MODE_VARS}
    env.update(
        PORTAL_ENV="production",
        SECRET_KEY="x" * 20 + "Kq8#nV2$pL0@zR7!tY4%wE9^uI1&oA6*sD3",
        ALLOWED_HOSTS="portal.example.com",
        EMAIL_HOST="smtp.example.com",
        PORTAL_DATA_DIR=str(tmp_path),
        C2PA_SIGNING_OFF="true",  # unsigned on purpose: without it the check warns (tests/review/test_credentials.py)
    )
    result = subprocess.run(
        [sys.executable, "manage.py", "check", "--deploy", "--fail-level", "WARNING"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "no issues" in result.stdout


def test_production_refuses_to_start_without_a_secret_key(tmp_path):
    env = {k: v for k, v in os.environ.items() if k not in (*MODE_VARS, "SECRET_KEY")}
    env.update(PORTAL_ENV="production", PORTAL_DATA_DIR=str(tmp_path))
    result = subprocess.run([sys.executable, "manage.py", "check"], cwd=ROOT, env=env, capture_output=True, text=True)
    assert result.returncode != 0
    # a clear message, not a KeyError traceback
    assert "ImproperlyConfigured" in result.stderr and "needs SECRET_KEY" in result.stderr
    assert "KeyError" not in result.stderr
