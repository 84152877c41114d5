"""Paging of the lists that grow on the project page (members), the studio dashboard (projects,
members, open invitations) and the notifications page: each list has its own page parameter, the
pager keeps the other parameters (filters, the other lists' pages), a page past the end shows the
last one, and the pages make as many queries with 50 rows as with 5."""

from __future__ import annotations

import re

import pytest
from django.db import connection
from django.http import QueryDict
from django.test.utils import CaptureQueriesContext

from portal.core.pagination import section_page
from portal.projects import services as project_services
from portal.projects import views as project_views
from portal.projects.models import ProjectMembership
from portal.review import services as review_services
from portal.review import views as review_views
from portal.studios import services as studio_services
from portal.studios import views as studio_views
from portal.studios.models import StudioMembership
from tests.factories import add_person, make_studio

# these tests count what rendering costs: every request renders (no kept page copy)
pytestmark = pytest.mark.usefixtures("no_page_cache")

SMALL, LARGE = 5, 50


@pytest.fixture
def studio_world(db):
    studio = make_studio("Paging Studio", "paging")
    admin = add_person(studio, "admin@paging.test", "studio_admin")
    project = project_services.project_create(actor=admin, studio=studio, code="PAGE", name="Paging")
    producer = add_person(studio, "producer@paging.test", "member", project=project, project_role="producer", inviter=admin)
    return {"studio": studio, "admin": admin, "project": project, "producer": producer, "made": {}}


def grow_project_members(w, total: int) -> None:
    have = ProjectMembership.objects.filter(project=w["project"]).count()
    for n in range(have, total):
        email = f"crew{n:03d}@paging.test"
        add_person(w["studio"], email, "member", project=w["project"], project_role="artist", inviter=w["admin"])


def grow_studio_members(w, total: int) -> None:
    have = StudioMembership.objects.filter(studio=w["studio"]).count()
    for n in range(have, total):
        add_person(w["studio"], f"member{n:03d}@paging.test", "member", inviter=w["admin"])


def grow_projects(w, total: int) -> None:
    have = w["studio"].projects.count()
    for n in range(have, total):
        project_services.project_create(actor=w["admin"], studio=w["studio"], code=f"GROW_{n:03d}", name=f"Grown {n}")


def grow_invitations(w, total: int) -> None:
    have = w["made"].get("invitations", 0)
    for n in range(have, total):
        studio_services.invitation_send(actor=w["admin"], studio=w["studio"], email=f"guest{n:03d}@paging.test")
    w["made"]["invitations"] = max(have, total)


def grow_notifications(w, total: int) -> None:
    have = w["made"].get("notifications", 0)
    for n in range(have, total):
        review_services.notify(
            users=[w["producer"]], project=w["project"], verb="mention", text=f"Mentioned in note {n}", link=f"/n/{n}"
        )
    w["made"]["notifications"] = max(have, total)


def rows(html: str, marker: str) -> list[str]:
    return re.findall(marker, html)


# --- the helper -------------------------------------------------------------------------------


def test_section_page_keeps_the_other_parameters_and_clamps(db):
    items = list(range(7))
    page, query = section_page(items, QueryDict("kind=video&members_page=9&page=2"), param="members_page", per_page=3)
    assert page.number == 3 and list(page.object_list) == [6]  # past the end: the last page
    assert QueryDict(query) == QueryDict("kind=video&page=2")  # its own parameter is the pager's to add
    page, query = section_page(items, QueryDict("members_page=abc"), param="members_page", per_page=3)
    assert page.number == 1 and list(page.object_list) == [0, 1, 2] and query == ""


def test_a_page_is_one_query_with_the_total_in_it(studio_world):
    grow_studio_members(studio_world, 4)
    listing = StudioMembership.objects.filter(studio=studio_world["studio"]).order_by("pk")
    every = list(listing)
    for per_page, number, expected in ((10, "1", every), (3, "1", every[:3]), (3, "2", every[3:])):
        with CaptureQueriesContext(connection) as ctx:
            page, _ = section_page(listing, QueryDict(f"page={number}"), per_page=per_page)
            assert list(page.object_list) == expected
            assert page.paginator.count == 4 and page.paginator.num_pages == -(-4 // per_page)
        assert len(ctx.captured_queries) == 1, (per_page, number)
    with CaptureQueriesContext(connection) as ctx:
        page, _ = section_page(listing.filter(pk=-1), QueryDict(""), per_page=3)
        assert list(page.object_list) == [] and page.paginator.count == 0 and page.number == 1
    assert len(ctx.captured_queries) == 1
    page, _ = section_page(listing, QueryDict("page=7"), per_page=3)  # past the end: the last page
    assert page.number == 2 and list(page.object_list) == every[3:]


# --- the pages --------------------------------------------------------------------------------


def test_project_page_pages_its_members_and_keeps_the_asset_filter(studio_world, client_for, monkeypatch):
    monkeypatch.setattr(project_views, "MEMBERS_PER_PAGE", 3)
    grow_project_members(studio_world, 7)  # the producer and 6 more
    client = client_for(studio_world["producer"])
    url = f"/s/paging/p/{studio_world['project'].code}/"
    first = client.get(url, {"kind": "video"}).content.decode()
    assert len(rows(first, r'class="person-email"')) == 3
    assert 'href="?kind=video&amp;members_page=2#members" rel="next"' in first
    assert 'href="?kind=video&amp;members_page=3#members">' in first  # the last page
    assert '<span class="count">7</span>' in first  # the heading counts every member, not the page
    last = client.get(url, {"kind": "video", "members_page": "3"})
    assert last.context["members_page"].number == 3
    emails = rows(last.content.decode(), r'<span class="person-email">([^<]+)</span>')
    assert len(emails) == 1
    beyond = client.get(url, {"members_page": "99"})
    assert rows(beyond.content.decode(), r'<span class="person-email">([^<]+)</span>') == emails
    every = set()
    for number in (1, 2, 3):
        html = client.get(url, {"members_page": number}).content.decode()
        every |= set(rows(html, r'<span class="person-email">([^<]+)</span>'))
    assert len(every) == 7  # each member on exactly one page


def test_dashboard_pages_each_list_on_its_own_parameter(studio_world, client_for, monkeypatch):
    monkeypatch.setattr(studio_views.DashboardView, "per_page", 2)
    grow_projects(studio_world, 3)
    grow_studio_members(studio_world, 5)
    grow_invitations(studio_world, 3)
    client = client_for(studio_world["admin"])
    html = client.get("/s/paging/", {"members_page": "2"}).content.decode()
    # each pager keeps the others' pages, and lands on its own section
    assert 'href="?members_page=2&amp;projects_page=2#projects" rel="next"' in html
    assert 'href="?members_page=2&amp;invitations_page=2#invitations" rel="next"' in html
    assert 'href="?members_page=1#members" rel="prev"' in html
    response = client.get("/s/paging/", {"members_page": "3", "projects_page": "2", "invitations_page": "2"})
    context = response.context
    assert [m.user.email for m in context["members"]] == [m.user.email for m in context["member_page"].object_list]
    assert context["member_page"].number == 3 and len(context["members"]) == 1
    assert context["project_page"].number == 2 and len(context["projects"]) == 1
    assert context["invitation_page"].number == 2 and context["invitation_page"].paginator.count == 3
    assert '<span class="count">5</span>' in response.content.decode()


def test_dashboard_for_a_member_pages_only_their_projects(studio_world, client_for, monkeypatch):
    monkeypatch.setattr(studio_views.DashboardView, "per_page", 2)
    grow_projects(studio_world, 4)  # the producer is on PAGE only
    response = client_for(studio_world["producer"]).get("/s/paging/")
    assert [p.code for p in response.context["projects"]] == ["PAGE"]
    assert "projects_page=" not in response.content.decode()
    assert "invitation_page" not in response.context  # no invitations for someone who cannot manage them


def test_notifications_page_is_paged(studio_world, client_for, monkeypatch):
    monkeypatch.setattr(review_views.NotificationsView, "per_page", 4)
    grow_notifications(studio_world, 9)
    client = client_for(studio_world["producer"])
    first = client.get("/notifications/").content.decode()
    texts = rows(first, r"Mentioned in note (\d+)")
    assert texts == ["8", "7", "6", "5"]  # newest first
    assert 'href="?page=2" rel="next"' in first
    last = client.get("/notifications/", {"page": "3"}).content.decode()
    assert rows(last, r"Mentioned in note (\d+)") == ["0"]
    assert client.get("/notifications/", {"page": "x"}).context["notification_page"].number == 1


# --- constant queries, 5 rows and 50 ----------------------------------------------------------

CASES = {
    "project page, members": ("producer", lambda w: f"/s/paging/p/{w['project'].code}/", grow_project_members),
    "dashboard, members": ("admin", lambda w: "/s/paging/", grow_studio_members),
    "dashboard, projects": ("admin", lambda w: "/s/paging/", grow_projects),
    "dashboard, invitations": ("admin", lambda w: "/s/paging/", grow_invitations),
    "notifications": ("producer", lambda w: "/notifications/", grow_notifications),
}


@pytest.mark.parametrize("case", list(CASES))
def test_page_makes_as_many_queries_with_50_rows_as_with_5(
    case, studio_world, client_for, django_assert_max_num_queries, django_capture_on_commit_callbacks
):
    who, url_of, grow = CASES[case]
    client = client_for(studio_world[who])
    url = url_of(studio_world)
    with django_capture_on_commit_callbacks(execute=False):
        grow(studio_world, SMALL)
    client.get(url)  # warm-up: session, content types and other first-request caches
    with CaptureQueriesContext(connection) as small:
        small_body = client.get(url).content
    with django_capture_on_commit_callbacks(execute=False):
        grow(studio_world, LARGE)
    with django_assert_max_num_queries(len(small.captured_queries)):
        response = client.get(url)
    assert response.status_code == 200
    assert len(response.content) > len(small_body), "the growth did not reach the listing"


def test_project_page_tools_section_reads_runs_in_constant_queries(studio_world, client_for, django_assert_max_num_queries):
    """The section's light run rows (no outputs, no JSON) never load a deferred field per run."""
    from portal.toolruns import services as toolrun_services
    from portal.toolruns.models import ToolRun
    from tests.footage.helpers import make_ready_version

    project, producer = studio_world["project"], studio_world["producer"]
    version = make_ready_version(project, uploader=producer, name="plate.mov")

    def run():
        made = toolrun_services.toolrun_create(
            actor=producer, project=project, tool="contactsheet", params={}, input_version_ids=[version.pk]
        )
        ToolRun.objects.filter(pk=made.pk).update(status=ToolRun.Status.SUCCEEDED, progress=1.0)
        return made

    client = client_for(producer)
    url = f"/s/paging/p/{project.code}/"
    first = run()
    client.get(url)
    with CaptureQueriesContext(connection) as one:
        assert f"/runs/{first.pk}/" in client.get(url).content.decode()
    later = [run() for _ in range(6)]
    with django_assert_max_num_queries(len(one.captured_queries)):
        html = client.get(url).content.decode()
    shown = [r.pk for r in later if f"/runs/{r.pk}/" in html]
    assert shown == [r.pk for r in later[1:]]  # the latest five
    assert html.count("contactsheet #") == 5
    assert " running</span>" not in html  # every run finished: no count in the heading
    # waiting and running runs are counted over all the project's runs, not only the five shown
    ToolRun.objects.filter(pk__in=[first.pk, later[0].pk]).update(status=ToolRun.Status.RUNNING)
    ToolRun.objects.filter(pk=later[1].pk).update(status=ToolRun.Status.QUEUED)
    with django_assert_max_num_queries(len(one.captured_queries)):
        html = client.get(url).content.decode()
    assert '<span class="count">3 running</span>' in html
