"""The page cache (portal/core/page_cache.py): a signed-in user's marked pages and list APIs are kept
rendered until a write commits, never shown to anyone else, never stale after a write, with a form
token that works for the browser it is served to."""

from __future__ import annotations

import re
import threading

import pytest
from django.core.cache import cache
from django.db import connection, transaction
from django.test import Client
from django.urls import reverse

from portal.accounts import services as account_services
from portal.core import page_cache
from portal.review import services as review_services
from tests.footage.helpers import make_ready_version

TOKEN = re.compile(r'name="csrfmiddlewaretoken" value="([A-Za-z0-9]{64})"')


def warm(client: Client, url: str) -> None:
    """The first render of a view in a process only learns which tables it reads; the next is kept."""
    for _ in range(2):
        assert client.get(url).status_code == 200


def signed_in(user, **kwargs) -> Client:
    client = Client(**kwargs)
    client.force_login(user, backend="django.contrib.auth.backends.ModelBackend")
    return client


def asset_list(side) -> str:
    return reverse("footage:asset_list", kwargs={"studio": side.studio.slug, "project": side.project.code})


def project_page(side) -> str:
    return reverse("projects:detail", kwargs={"studio": side.studio.slug, "project": side.project.code})


def notes_api(side, version) -> str:
    return f"/api/v1/projects/{side.project.pk}/versions/{version.pk}/notes/"


def committed_notes_kept(text: str):
    """A world committed for real (transactional tests), a producer's note on a plate, and that
    producer's notes API answered from a kept copy: (side, version, client)."""
    from tests.factories import build_world

    side = build_world().a
    producer = side.users["producer"]
    version = make_ready_version(side.project, uploader=producer, name="plate.mov")
    review_services.note_create(actor=producer, version=version, frame_start=1, text=text)
    client = signed_in(producer)
    warm(client, notes_api(side, version))
    assert client.get(notes_api(side, version))["X-Page-Cache"] == "hit"
    return side, version, client


def test_a_second_view_is_the_kept_copy_and_a_write_shows_at_once(world):
    side = world.a
    producer = side.users["producer"]
    make_ready_version(side.project, uploader=producer, name="first_plate.mov")
    client = signed_in(producer)

    first = client.get(asset_list(side))
    assert "X-Page-Cache" not in first
    warm(client, asset_list(side))
    second = client.get(asset_list(side))
    assert second.status_code == 200 and second["X-Page-Cache"] == "hit"
    assert b"first_plate.mov" in second.content

    make_ready_version(side.project, uploader=producer, name="second_plate.mov")  # uncommitted, like a test's
    third = client.get(asset_list(side))
    assert "X-Page-Cache" not in third, "a write must drop the copy"
    assert b"second_plate.mov" in third.content
    assert client.get(asset_list(side))["X-Page-Cache"] == "hit"


def test_a_copy_is_never_shown_to_another_user(world):
    side = world.a
    version = make_ready_version(side.project, uploader=side.users["producer"], name="plate.mov")
    review_services.note_create(actor=side.users["producer"], version=version, frame_start=3, text="Fix the edge")
    producer, outsider = signed_in(side.users["producer"]), signed_in(world.b.users["producer"])
    warm(producer, notes_api(side, version))
    assert producer.get(notes_api(side, version))["X-Page-Cache"] == "hit"

    refused = outsider.get(notes_api(side, version))
    assert refused.status_code in (403, 404)
    assert "X-Page-Cache" not in refused and b"Fix the edge" not in refused.content


def test_the_served_form_token_is_valid_for_the_browser_it_is_served_to(world):
    side = world.a
    admin = side.users["studio_admin"]
    one, two = signed_in(admin, enforce_csrf_checks=True), signed_in(admin, enforce_csrf_checks=True)
    warm(one, project_page(side))  # rendered and kept, with browser one's token
    served = two.get(project_page(side))
    assert served["X-Page-Cache"] == "hit"
    tokens = set(TOKEN.findall(served.content.decode()))
    assert len(tokens) == 1, "the copy's form tokens are the request's own"
    assert page_cache._placeholder().decode() not in served.content.decode()
    assert served.cookies.get("csrftoken"), "browser two gets the CSRF cookie its token belongs to"

    signed_out = two.post(reverse("accounts:logout"), {"csrfmiddlewaretoken": tokens.pop()})
    assert signed_out.status_code == 302, "the form token of a kept copy must pass the CSRF check"


def test_a_waiting_flash_message_is_rendered_not_a_copy(world):
    side = world.a
    client = signed_in(side.users["producer"])
    warm(client, asset_list(side))
    assert client.get(asset_list(side))["X-Page-Cache"] == "hit"
    session = client.session
    session["_messages"] = '[["__json_message",0,25,"Upload finished"]]'
    session.save()
    shown = client.get(asset_list(side))
    assert "X-Page-Cache" not in shown


def test_api_token_requests_are_always_rendered(world):
    side = world.a
    producer = side.users["producer"]
    version = make_ready_version(side.project, uploader=producer, name="plate.mov")
    _token, raw = account_services.api_token_create(user=producer, name="script")
    client = Client(HTTP_AUTHORIZATION=f"Bearer {raw}")
    for _ in range(3):  # never a copy kept for a person (the shared notes list may answer: access is checked)
        response = client.get(notes_api(side, version))
        assert response.status_code == 200 and response.get("X-Page-Cache") != "hit"


def test_the_cache_down_means_a_rendered_page(world, monkeypatch):
    side = world.a
    client = signed_in(side.users["producer"])

    def down(*args, **kwargs):
        raise ConnectionError("cache unreachable")

    monkeypatch.setattr(page_cache.cache, "get", down)
    response = client.get(asset_list(side))
    assert response.status_code == 200 and "X-Page-Cache" not in response


def test_off_in_the_settings_means_never_kept(world, settings):
    settings.PAGE_CACHE = False
    side = world.a
    client = signed_in(side.users["producer"])
    warm(client, asset_list(side))
    assert "X-Page-Cache" not in client.get(asset_list(side))


def test_a_savepoint_rolled_back_never_names_the_same_data_twice(world):
    """A test's transaction never commits: the keys follow its writes and its savepoints instead."""
    side = world.a
    producer = side.users["producer"]
    client = signed_in(producer)
    make_ready_version(side.project, uploader=producer, name="kept.mov")
    before = client.get(asset_list(side))
    try:
        with transaction.atomic():
            make_ready_version(side.project, uploader=producer, name="rolled_back.mov")
            inside = client.get(asset_list(side))
            assert b"rolled_back.mov" in inside.content
            raise RuntimeError("roll back")
    except RuntimeError:
        pass
    after = client.get(asset_list(side))
    assert b"rolled_back.mov" not in after.content
    assert b"kept.mov" in after.content and b"kept.mov" in before.content


# --- committed writes, from any connection ---------------------------------------------------


@pytest.mark.django_db(transaction=True)
def test_a_commit_on_another_connection_moves_the_table_generation():
    start = page_cache.generation("studios_studio")
    everything = page_cache.generation()

    def write(sql: str) -> None:
        try:
            with connection.cursor() as cursor:
                cursor.execute(sql)
        finally:
            connection.close()

    thread = threading.Thread(target=write, args=("UPDATE studios_studio SET name = name",))
    thread.start()
    thread.join()
    assert page_cache.generation("studios_studio") > start, "a write on another connection must drop the copies"
    assert page_cache.generation() == everything, "a write whose table is known moves only that table"

    moved = page_cache.generation("studios_studio")
    with transaction.atomic():
        with connection.cursor() as cursor:
            cursor.execute('UPDATE "studios_studio" SET name = name')
        assert page_cache.generation("studios_studio") == moved, "not before the commit: others cannot see it yet"
    assert page_cache.generation("studios_studio") > moved

    moved = page_cache.generation("studios_studio")
    with pytest.raises(RuntimeError), transaction.atomic():
        with connection.cursor() as cursor:
            cursor.execute("UPDATE studios_studio SET name = name")
        raise RuntimeError("roll back")
    assert page_cache.generation("studios_studio") == moved, "a rolled-back write changes nothing"

    with connection.cursor() as cursor:
        cursor.execute("CREATE TEMPORARY TABLE page_cache_probe (x integer)")  # no table to read off a CREATE
    assert page_cache.generation() > everything, "a write whose table is not read off it drops every copy"


@pytest.mark.django_db(transaction=True)
def test_session_and_sign_in_attempt_writes_keep_the_copies():
    start = page_cache.generations(["django_session", "axes_accessattempt"])
    with connection.cursor() as cursor:
        cursor.execute("DELETE FROM django_session WHERE session_key = 'none'")
        cursor.execute('DELETE FROM "axes_accessattempt" WHERE id = -1')
        cursor.execute("SELECT 1")
    assert page_cache.generations(["django_session", "axes_accessattempt"]) == start


@pytest.mark.django_db(transaction=True)
def test_an_emptied_cache_never_meets_its_old_copies():
    cache.delete(page_cache.GENERATION_PREFIX + "review_note")
    first = page_cache.generation("review_note")
    cache.delete(page_cache.GENERATION_PREFIX + "review_note")
    page_cache.bump(["review_note"])
    assert page_cache.generation("review_note") != first


@pytest.mark.django_db(transaction=True)
def test_a_committed_write_drops_the_copies_that_read_its_table_and_only_those():
    """Committed for real (a transactional test): the notes API's copy outlives a write to a table it
    does not read (a character), and is dropped by a new note, which the next answer shows."""
    from portal.characters.models import Character

    side, version, client = committed_notes_kept("First note")
    producer = side.users["producer"]

    Character.objects.create(project=side.project, name="Unrelated")
    assert client.get(notes_api(side, version))["X-Page-Cache"] == "hit", "the notes API never reads characters"

    review_services.note_create(actor=producer, version=version, frame_start=2, text="Second note")
    fresh = client.get(notes_api(side, version))
    assert "X-Page-Cache" not in fresh and b"Second note" in fresh.content
    assert client.get(notes_api(side, version))["X-Page-Cache"] == "hit"


@pytest.mark.django_db(transaction=True)
def test_a_live_event_goes_out_after_the_generations_moved(monkeypatch):
    """A browser fetches the page again when a live event arrives: the event registered before the
    transaction's writes must still find the copies dropped."""
    from portal.live import services as live_services

    seen = []
    monkeypatch.setattr(live_services, "publish", lambda *a, **k: seen.append(page_cache.generation("studios_studio")))
    before = page_cache.generation("studios_studio")
    with transaction.atomic():
        live_services.publish_on_commit(1, "assets.changed", {})
        with connection.cursor() as cursor:
            cursor.execute("UPDATE studios_studio SET name = name")
    assert seen and seen[0] > before, "the event went out before the generation moved"


@pytest.mark.django_db(transaction=True)
def test_access_taken_away_is_never_answered_from_a_copy():
    """Committed for real: once a producer leaves the project, their kept copy of its notes is gone:
    the access check's own tables are among those the copy was made from."""
    from portal.projects import services as project_services
    from portal.projects.models import ProjectMembership

    side, version, client = committed_notes_kept("Secret note")
    producer = side.users["producer"]

    membership = ProjectMembership.objects.get(project=side.project, user=producer)
    project_services.project_member_remove(actor=side.users["studio_admin"], membership=membership)
    refused = client.get(notes_api(side, version))
    assert refused.status_code in (403, 404) and "X-Page-Cache" not in refused
    assert b"Secret note" not in refused.content


@pytest.mark.django_db(transaction=True)
def test_a_disabled_user_is_never_answered_from_a_copy():
    """A copy is served before the sign-in's own queries: the user row is among its tables, so
    disabling the person (committed) sends their next request through the sign-in again."""
    from tests.factories import build_world

    side = build_world().a
    producer = side.users["producer"]
    client = signed_in(producer)
    warm(client, asset_list(side))
    assert client.get(asset_list(side))["X-Page-Cache"] == "hit"

    producer.is_active = False
    producer.save(update_fields=["is_active"])
    refused = client.get(asset_list(side))
    assert "X-Page-Cache" not in refused
    assert refused.status_code in (302, 403, 404)


def test_a_shared_list_is_rendered_once_for_everyone_allowed_and_checked_for_each(world):
    """The notes on a version are the same for everyone who may see them: kept once for all, while
    each person's access is still checked at each request."""
    side = world.a
    version = make_ready_version(side.project, uploader=side.users["producer"], name="plate.mov")
    review_services.note_create(actor=side.users["producer"], version=version, frame_start=3, text="Shared note")
    # signing in writes the user row (last_login): every client first, then the requests
    producer, director_client = signed_in(side.users["producer"]), signed_in(side.users["director"])
    outsider_client, viewer_client = signed_in(world.b.users["producer"]), signed_in(side.users["viewer"])
    warm(producer, notes_api(side, version))

    director = director_client.get(notes_api(side, version))
    assert director.status_code == 200 and director["X-Page-Cache"] == "shared"
    assert b"Shared note" in director.content

    outsider = outsider_client.get(notes_api(side, version))
    assert outsider.status_code in (403, 404) and b"Shared note" not in outsider.content

    review_services.note_create(actor=side.users["producer"], version=version, frame_start=4, text="Newer note")
    viewer = viewer_client.get(notes_api(side, version))
    assert viewer.status_code == 200 and "X-Page-Cache" not in viewer and b"Newer note" in viewer.content


@pytest.mark.django_db(transaction=True)
def test_signing_in_keeps_everyone_s_copies_but_a_change_to_the_user_row_drops_them():
    from django.contrib.auth.models import update_last_login

    from tests.factories import build_world

    producer = build_world().a.users["producer"]
    start = page_cache.generation("accounts_user")
    update_last_login(None, producer)  # what every sign-in does
    assert page_cache.generation("accounts_user") == start
    producer.full_name = "Renamed"
    producer.save(update_fields=["full_name"])
    assert page_cache.generation("accounts_user") > start


class _SpyCache:
    """The cache, with the lifetime each page copy was kept for noted."""

    def __init__(self, real) -> None:
        self.real, self.kept_for = real, []

    def set(self, key, value, timeout=None, **kwargs):
        if key.startswith("page-cache:") and not key.startswith(page_cache.GENERATION_PREFIX):
            self.kept_for.append(timeout)
        return self.real.set(key, value, timeout, **kwargs)

    def __getattr__(self, name):
        return getattr(self.real, name)


def test_copies_made_together_do_not_all_expire_together(world, settings, monkeypatch):
    """A crew opening the portal at once makes its copies at once: each is kept a random 30-60 s of
    PAGE_CACHE_SECONDS, so they are not all rendered again in the same second a minute later."""
    settings.PAGE_CACHE_SECONDS = 60
    spy = _SpyCache(page_cache.cache)
    monkeypatch.setattr(page_cache, "cache", spy)
    side = world.a
    make_ready_version(side.project, uploader=side.users["producer"], name="plate.mov")
    for role in ("producer", "director", "artist"):
        client = signed_in(side.users[role])
        for url in (asset_list(side), project_page(side)):
            warm(client, url)
            assert client.get(url)["X-Page-Cache"] == "hit"
    assert spy.kept_for and all(30 <= t <= 60 for t in spy.kept_for), spy.kept_for

    lifetimes = [page_cache.lifetime() for _ in range(400)]
    assert min(lifetimes) >= 30 and max(lifetimes) <= 60
    assert len(set(lifetimes)) > 15, "copies made together would expire together"
    settings.PAGE_CACHE_SECONDS = 0
    assert page_cache.lifetime() == 0
