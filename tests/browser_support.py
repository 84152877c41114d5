"""Browser-test support, shared by every browser test (tests/conftest.py exposes the fixtures once,
so the whole session has one portal server and one Chromium). A real portal: `manage.py migrate`
+ `seed_demo --accounts-only` (the demo's studios and logins, not its footage and runs), then uvicorn
serving portal.asgi exactly as `make run` does, in the mode the suite runs in.
Embedded: SQLite in a temp folder and the
in-process Celery worker. Services: a fresh PostgreSQL database, Redis, and a separate
`celery worker` process. Driven by Debian's Chromium through Playwright."""

from __future__ import annotations

import json
import os
import re
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
import uuid
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
DEMO_PASSWORD = "portal-demo-2026"
BROWSER_AI_PROVIDERS = json.dumps(
    {
        "providers": [
            {
                "id": "anthropic",
                "kind": "anthropic",
                "label": "Anthropic API",
                "region": "us",
                "api_key": "sk-ant-browser-test-not-real",
                "promises": {
                    "retention": "Inputs and outputs deleted after 30 days",
                    "training": "Never used to train models",
                    "region": "United States",
                    "link": "https://example.com/anthropic-terms",
                },
            },
            {
                "id": "bedrock-eu",
                "kind": "bedrock",
                "label": "Claude on AWS Bedrock (Frankfurt)",
                "region": "eu-central-1",
                "aws_access_key": "AKIAIOSFODNN7EXAMPLE",
                "aws_secret_key": "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
                "models": {"claude-sonnet-4-6": "eu.anthropic.claude-sonnet-4-6-v1:0"},
                "promises": {
                    "retention": "Not stored by the provider after the request",
                    "training": "Not used for training",
                    "region": "Frankfurt, EU (eu-central-1)",
                    "text": "Processed in the studio's own AWS account.",
                    "link": "https://example.com/bedrock-terms",
                },
            },
        ]
    }
)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _wait_http(url: str, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    last = None
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(url, timeout=2) as response:
                if response.status == 200:
                    return
        except Exception as exc:  # server still starting
            last = exc
        time.sleep(0.2)
    raise RuntimeError(f"server at {url} did not come up: {last}")


class Portal:
    def __init__(self, base_url: str, log_path: Path, mode: str, env: dict | None = None):
        self.base_url = base_url
        self.log_path = log_path
        self.mode = mode
        self.env = env or {}

    def manage(self, *args: str) -> str:
        """Run a management command against this server's database and settings."""
        done = subprocess.run(
            [sys.executable, "manage.py", *args], cwd=ROOT, env=self.env, check=True, capture_output=True, text=True
        )
        return done.stdout

    def url(self, path: str) -> str:
        return self.base_url + path

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    def invitation_links(self) -> list[str]:
        """Acceptance links from emails the console backend printed."""
        return re.findall(r"https?://[^\s]+/invite/[A-Za-z0-9_\-]+/", self.log())


def _services_env() -> dict | None:
    if not os.environ.get("DATABASE_URL"):
        return None
    return {"DATABASE_URL": os.environ["DATABASE_URL"], "REDIS_URL": os.environ.get("REDIS_URL", "")}


@pytest.fixture(scope="session")
def portal_server(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("portal-e2e")
    port = _free_port()
    env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "REDIS_URL", "DJANGO_SETTINGS_MODULE")}
    env.update(
        PORTAL_DATA_DIR=str(tmp / "data"),
        SITE_URL=f"http://127.0.0.1:{port}",
        PYTHONUNBUFFERED="1",
        DJANGO_SETTINGS_MODULE="portal.settings",
        # Small browser chunks, so a reload in the middle of an upload leaves a real offset behind.
        TUS_BROWSER_CHUNK_SIZE="262144",
        # The test tool that takes its time (tests/toolruns/test_browser.py watches its progress live).
        TOOLRUNS_EXTRA_TOOL_PACKAGES="tests.toolruns.tool_sleeper",
    )
    # The model providers platform staff configured (tests/providers/test_settings_browser.py allows one and
    # withdraws it again); fake credentials, and no studio allows any at the start, so nothing is ever called.
    env.setdefault("AI_PROVIDERS", BROWSER_AI_PROVIDERS)
    services = _services_env()
    processes: list[subprocess.Popen] = []
    dbname = None
    admin_url = None
    if services:
        import psycopg

        # A database of its own: the server is another process and cannot see the test's transactions.
        admin_url = re.sub(r"/[^/]*$", "/postgres", services["DATABASE_URL"])
        dbname = f"portal_e2e_{uuid.uuid4().hex[:8]}"
        with psycopg.connect(admin_url, autocommit=True) as conn:
            conn.execute(f'CREATE DATABASE "{dbname}"')
        env["DATABASE_URL"] = re.sub(r"/[^/]*$", f"/{dbname}", services["DATABASE_URL"])
        if services["REDIS_URL"]:
            env["REDIS_URL"] = services["REDIS_URL"]
            env["CHANNELS_PREFIX"] = f"e2e{port}"
    log_path = tmp / "server.log"
    log = open(log_path, "w")
    try:
        subprocess.run([sys.executable, "manage.py", "migrate", "--noinput", "-v0"], cwd=ROOT, env=env, check=True)
        subprocess.run([sys.executable, "manage.py", "seed_demo", "--quiet", "--accounts-only"], cwd=ROOT, env=env, check=True)
        if env.get("REDIS_URL"):
            worker_log = open(tmp / "worker.log", "w")
            processes.append(
                subprocess.Popen(
                    [
                        sys.executable,
                        "-m",
                        "celery",
                        "-A",
                        "portal",
                        "worker",
                        "-Q",
                        "default,tools",
                        "-c",
                        "1",
                        "-n",
                        f"e2e{port}@%h",
                        "-l",
                        "info",
                    ],
                    cwd=ROOT,
                    env=env,
                    stdout=worker_log,
                    stderr=subprocess.STDOUT,
                )
            )
        processes.append(
            subprocess.Popen(
                [sys.executable, "-m", "uvicorn", "portal.asgi:application", "--host", "127.0.0.1", "--port", str(port)],
                cwd=ROOT,
                env={**env, "PORTAL_SERVER": "1"},
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        )
        _wait_http(f"http://127.0.0.1:{port}/healthz")
        yield Portal(f"http://127.0.0.1:{port}", log_path, "services" if services else "embedded", env)
    finally:
        for proc in reversed(processes):
            proc.terminate()
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                proc.kill()
        log.close()
        if dbname:
            import psycopg

            with psycopg.connect(admin_url, autocommit=True) as conn:
                conn.execute(f'DROP DATABASE IF EXISTS "{dbname}" WITH (FORCE)')


@pytest.fixture(scope="session")
def browser():
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield b
        b.close()


@pytest.fixture
def new_page(browser, tmp_path):
    """new_page(locale="en") -> a page in a fresh browser context (its own cookies).

    Every page fails its test if the browser refused anything under the portal's
    Content-Security-Policy (an inline script, an eval, a resource from another origin)."""
    contexts = []
    refused: list[str] = []

    def watch(message) -> None:
        if "Content Security Policy" in message.text:
            refused.append(message.text)

    def make(locale: str = "en-GB"):
        context = browser.new_context(locale=locale, viewport={"width": 1280, "height": 900})
        context.set_default_timeout(15000)
        contexts.append(context)
        page = context.new_page()
        page.on("console", watch)
        return page

    yield make
    for context in contexts:
        context.close()
    assert not refused, "the Content-Security-Policy refused: " + " | ".join(refused[:5])


def sign_in(page, portal: Portal, email: str, password: str = DEMO_PASSWORD):
    page.goto(portal.url("/account/sign-in/"))
    page.get_by_label(re.compile("e-?mail", re.I)).fill(email)
    page.get_by_label(re.compile("password|mot de passe", re.I)).fill(password)
    page.get_by_role("button", name=re.compile("sign in|se connecter", re.I)).click()
    page.wait_for_load_state("networkidle")
