"""Small things a person notices on the studio and project pages: an address of a form opened in the
browser (GET) leads to the page the form is on, not to a blank 405; the studio's role table does not tell
a director that members cannot open the project workspace."""

from __future__ import annotations

import html as htmlmod
import re

import pytest
from django.urls import reverse

from portal.access.policy import DESCRIPTIONS, Action


def test_opening_the_studio_settings_address_leads_to_the_settings_on_the_dashboard(world, client_for):
    url = reverse("studios:settings", kwargs={"studio": world.a.studio.slug})
    dashboard = reverse("studios:dashboard", kwargs={"studio": world.a.studio.slug})
    response = client_for(world.a.users["studio_admin"]).get(url)
    assert response.status_code == 302
    assert response["Location"] == dashboard + "#settings"
    page = client_for(world.a.users["studio_admin"]).get(url, follow=True)
    assert page.status_code == 200 and 'id="settings"' in page.content.decode()


def test_a_member_opening_the_settings_address_reaches_the_dashboard_and_an_outsider_learns_nothing(world, client_for):
    url = reverse("studios:settings", kwargs={"studio": world.a.studio.slug})
    page = client_for(world.a.users["director"]).get(url, follow=True)
    assert page.status_code == 200
    assert page.redirect_chain[-1][0].startswith(reverse("studios:dashboard", kwargs={"studio": world.a.studio.slug}))
    assert client_for(world.b.users["studio_admin"]).get(url).status_code == 404


def test_the_project_settings_address_leads_to_the_project_page(world, client_for):
    kwargs = {"studio": world.a.studio.slug, "project": world.a.project.code}
    response = client_for(world.a.users["studio_admin"]).get(reverse("projects:settings", kwargs=kwargs))
    assert response.status_code == 302
    assert response["Location"] == reverse("projects:detail", kwargs=kwargs) + "#settings"


def test_a_form_address_still_refuses_other_methods(world, client_for):
    url = reverse("studios:settings", kwargs={"studio": world.a.studio.slug})
    assert client_for(world.a.users["studio_admin"]).put(url).status_code == 405


def _member_cell(html: str, description: str) -> str:
    """The studio role table's "Member" cell (the third) of the row about `description`."""
    table = html[html.index('id="roles-heading"') :]
    row = re.search(r"<tr>\s*<th scope=\"row\">" + re.escape(description) + r"</th>(.*?)</tr>", table, re.S)
    assert row, f"no row for {description!r}"
    cells = re.findall(r"<td[^>]*>(.*?)</td>", row.group(1), re.S)
    return cells[1]


@pytest.mark.parametrize("language", ["en", "fr"])
def test_a_director_is_not_told_that_members_cannot_open_the_project_workspace(world, client_for, language):
    client = client_for(world.a.users["director"])
    html = client.get(
        reverse("studios:dashboard", kwargs={"studio": world.a.studio.slug}), HTTP_ACCEPT_LANGUAGE=language
    ).content.decode()
    html = htmlmod.unescape(html)
    from django.utils import translation

    with translation.override(language):
        workspace = translation.gettext(DESCRIPTIONS[Action.PROJECT_VIEW])
        dashboard = translation.gettext(DESCRIPTIONS[Action.STUDIO_VIEW])
        by_role = translation.gettext("By their project role")
    cell = _member_cell(html, workspace)
    assert by_role in cell and 'class="no"' not in cell
    # a studio action keeps its plain answer
    assert 'class="yes"' in _member_cell(html, dashboard)
    # and the director can indeed open the workspace
    project = reverse("projects:detail", kwargs={"studio": world.a.studio.slug, "project": world.a.project.code})
    assert client.get(project).status_code == 200
