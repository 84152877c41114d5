"""A French session sees no English on the project, tools, start, run and review pages: the text a
person reads (tags, scripts and styles removed) is searched for English words that have a French
translation. The upload panel's own words (Uppy) are checked in a real browser, since its script
writes them."""

from __future__ import annotations

import html as htmlmod
import re

import pytest
from django.urls import reverse

from portal.toolruns import services as run_services
from tests.browser_support import sign_in
from tests.footage.helpers import make_ready_version

# Words and phrases of the English pages that must not be left in a French one (each has a French
# translation; words that read the same in both languages, like "Version" or "Notes", are not listed).
ENGLISH = [
    "Upload",
    "Drop files",
    "browse",
    "Start run",
    "Parameters",
    "Inputs",
    "Takes:",
    "optional",
    "Choose…",
    "Waiting",
    "Cancel",
    "Download",
    "Add a note",
    "Keyboard shortcuts",
    "Contact sheet",
    "Continuity check",
    "Crowd extension",
    "Recap length",
    "Crowd size",
    "What to check",
    "Shortest moment",
    "seconds",
    "fps",
    "footage",
    "Frame rate",
    "Tools",
    "Runs",
    "Your role",
    "Members",
    "Sign out",
    "Thumbnail width",
    "Show timecodes",
    "Columns",
    "True",
    "False",
    "thumb_width",
]
_WORDS = re.compile(r"(?<![\w-])(" + "|".join(re.escape(w) for w in ENGLISH) + r")(?![\w-])")
# Names of the test-only tools (registered by the suite, never shipped) are not the page's words.
_TEST_TOOLS = re.compile(r"(Crasher|Sleeper|External AI demo) \(test tool\)[^.]*\.?")


def visible_text(page: str) -> str:
    page = re.sub(r"<(script|style|template)\b[^>]*>.*?</\1>", " ", page, flags=re.S)
    page = re.sub(r"<[^>]+>", " ", page)
    return _TEST_TOOLS.sub(" ", re.sub(r"\s+", " ", htmlmod.unescape(page)))


def english_in(text: str) -> list[str]:
    return sorted({m.group(1) for m in _WORDS.finditer(text)})


def test_the_walk_finds_english_when_there_is_some():
    """The check itself: an English page is caught, a French one passes."""
    assert english_in(visible_text("<p>Start run</p><p>Recap length 30 seconds</p>")) == [
        "Recap length",
        "Start run",
        "seconds",
    ]
    assert english_in(visible_text("<p>Lancer l’exécution</p><script>Start run</script>")) == []


def test_a_french_session_sees_no_english_on_the_project_pages(world, client_for):
    producer = world.a.users["producer"]
    version = make_ready_version(world.a.project, uploader=world.a.users["artist"], name="shot_a.mov")
    run = run_services.toolrun_create(
        actor=producer, project=world.a.project, tool="contactsheet", params={}, input_version_ids=[version.pk]
    )
    client = client_for(producer)
    scope = {"studio": world.a.studio.slug, "project": world.a.project.code}
    pages = [
        reverse("projects:detail", kwargs=scope),
        reverse("toolruns:tools", kwargs=scope),
        *[reverse("toolruns:start", kwargs={**scope, "tool": t}) for t in ("crowd", "continuity", "contactsheet", "recap")],
        reverse("toolruns:run", kwargs={**scope, "run_id": run.pk}),
        reverse("review:review", kwargs={**scope, "version_id": version.pk}),
    ]
    found = {}
    for url in pages:
        response = client.get(url, HTTP_ACCEPT_LANGUAGE="fr")
        assert response.status_code == 200, url
        page = response.content.decode()
        assert 'lang="fr"' in page, url
        english = english_in(visible_text(page))
        if english:
            found[url] = english
    assert not found, f"English words on French pages: {found}"


@pytest.mark.browser
def test_the_upload_panel_speaks_french(portal_server, new_page):
    page = new_page(locale="fr-FR")
    sign_in(page, portal_server, "producer@demo.test")
    page.goto(portal_server.url("/s/demo/p/DEMO_S1/"))
    page.wait_for_function("() => window.portalUppy !== undefined")
    panel = page.locator("#uploader")
    panel.get_by_text("Déposer les fichiers ici").first.wait_for()
    text = panel.inner_text()
    assert english_in(text) == [], text
    assert "Drop files here" not in text
