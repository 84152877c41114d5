"""Frame rates are said the same way everywhere in a language: "29.97 fps" in English, "29,97 i/s" in French
(the badge on the project page, the asset table and the review page all use one filter)."""

from __future__ import annotations

import pytest
from django.utils import translation

from portal.footage.templatetags.footage import fps


@pytest.mark.parametrize(
    ("rate", "english", "french"),
    [("25/1", "25 fps", "25 i/s"), ("30000/1001", "29.97 fps", "29,97 i/s"), ("24000/1001", "23.976 fps", "23,976 i/s")],
)
def test_rates_in_both_languages(rate, english, french):
    with translation.override("en"):
        assert fps(rate) == english
    with translation.override("fr"):
        assert fps(rate) == french


def test_the_project_badge_uses_the_same_words(world, client_for):
    html = (
        client_for(world.a.users["artist"])
        .get(f"/s/{world.a.studio.slug}/p/{world.a.project.code}/", HTTP_ACCEPT_LANGUAGE="fr")
        .content.decode()
    )
    assert 'lang="fr"' in html
    assert " i/s</span>" in html and " fps</span>" not in html


def test_uppy_speaks_french_in_a_french_page():
    """The vendored French locale is the one uppy 6.0.1 depends on, and the upload panel loads it."""
    from pathlib import Path

    root = Path(__file__).resolve().parents[2]
    locale = (root / "static/vendor/uppy/locales/fr_FR.mjs").read_text(encoding="utf-8")
    assert "export default fr_FR" in locale and "dropPasteFiles" in locale
    script = (root / "static/js/footage.js").read_text(encoding="utf-8")
    assert 'import("../vendor/uppy/locales/fr_FR.mjs")' in script and "locale }" in script
