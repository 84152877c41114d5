"""The hash chain: how rows are linked, and that `manage.py verify_audit` names the first broken
link after every kind of tampering (edit, delete, swap)."""

from __future__ import annotations

import re
from io import StringIO

import pytest
from django.core.management import CommandError, call_command

from portal.audit.models import GENESIS_HASH, AuditChainHead, AuditEvent
from portal.audit.services import PLATFORM_CHAIN, chain_for, record
from portal.audit.verify import all_chains, verify_all, verify_chain
from portal.core import request_context
from tests.audit.conftest import ALL_BUT_ID, CONTENT_FIELDS, IS_POSTGRES, field_values, owner_rights, raw_delete, raw_update
from tests.factories import make_studio


def rows_of(chain: str) -> list[AuditEvent]:
    return list(AuditEvent.objects.filter(chain=chain).order_by("seq"))


def assert_linked(rows: list[AuditEvent]) -> None:
    assert [r.seq for r in rows] == list(range(1, len(rows) + 1))
    assert rows[0].prev_hash == GENESIS_HASH
    for before, row in zip(rows, rows[1:], strict=False):
        assert row.prev_hash == before.hash
        assert row.id > before.id
    for row in rows:
        # Read back from the database, the row still hashes to what was stored.
        assert row.hash == row.compute_hash()
        assert len(row.hash) == 64


def verify_audit_error() -> str:
    with pytest.raises(CommandError) as excinfo:
        call_command("verify_audit", stdout=StringIO())
    return str(excinfo.value)


def names_seq(message: str, seq: int) -> bool:
    return re.search(rf"\bseq {seq}\b", message) is not None


# --- chaining -----------------------------------------------------------------------------------


def test_record_chains_rows_seq_1_to_n_with_prev_hash_links(db):
    studio = make_studio("Linked", "linked")
    for i in range(5):
        record(action="test.linked", studio=studio, details={"i": i})
    rows = rows_of(chain_for(studio.pk))
    assert len(rows) == 6  # studio.create + 5
    assert rows[0].action == "studio.create"
    assert_linked(rows)
    head = AuditChainHead.objects.get(chain=chain_for(studio.pk))
    assert (head.last_seq, head.last_hash) == (6, rows[-1].hash)
    chains, problem = verify_all()
    assert problem is None
    assert chains >= 1


def test_each_studio_has_its_own_chain_and_platform_events_go_to_the_platform_chain(db):
    one = make_studio("One", "one")
    two = make_studio("Two", "two")
    # Interleaved writes: each chain still counts on its own.
    for i in range(4):
        record(action="test.one", studio=one, details={"i": i})
        record(action="test.two", studio=two, details={"i": i})
        record(action="test.platform", actor_email=f"stranger{i}@nowhere.test")
    rows_one, rows_two, rows_platform = rows_of(chain_for(one.pk)), rows_of(chain_for(two.pk)), rows_of(PLATFORM_CHAIN)
    assert chain_for(one.pk) != chain_for(two.pk)
    assert len(rows_one) == len(rows_two) == 5
    assert len(rows_platform) == 4
    for rows in (rows_one, rows_two, rows_platform):
        assert_linked(rows)
    assert {r.studio_id for r in rows_one} == {one.pk}
    assert {r.studio_id for r in rows_two} == {two.pk}
    assert {r.studio_id for r in rows_platform} == {None}
    assert rows_platform[0].actor_email == "stranger0@nowhere.test"
    assert verify_all() == (3, None)


def test_a_project_event_lands_in_its_studio_chain(world):
    event = record(action="test.project", project=world.a.project, actor=world.a.users["producer"])
    assert event.chain == chain_for(world.a.studio.pk)
    assert event.studio_id == world.a.studio.pk
    assert event.actor_email == "producer@a.test"
    assert verify_all()[1] is None


def test_verify_audit_command_reports_an_intact_log(world):
    out = StringIO()
    call_command("verify_audit", stdout=out)
    assert "intact" in out.getvalue()
    assert f"{len(all_chains())} chain(s)" in out.getvalue()
    assert chain_for(world.a.studio.pk) in all_chains() and chain_for(world.b.studio.pk) in all_chains()


def test_an_ipv6_address_in_any_spelling_does_not_break_the_chain(db):
    """The request's address is part of the hash; the database may store it normalized."""
    studio = make_studio("Six", "six")
    token = request_context.set_current(
        request_context.RequestContext(ip="2001:0DB8:0000:0000:0000:0000:0000:0001", user_agent="pytest")
    )
    try:
        record(action="test.ipv6", studio=studio)
    finally:
        request_context.reset(token)
    assert verify_chain(chain_for(studio.pk)) is None


# --- tampering ----------------------------------------------------------------------------------


def test_verify_audit_catches_an_edited_action(chain):
    _studio, rows = chain
    raw_update(rows[2].id, action="test.innocent")
    message = verify_audit_error()
    assert names_seq(message, 3)
    assert f"event id {rows[2].id}" in message
    assert "content changed" in message


def test_verify_audit_catches_edited_details(chain):
    _studio, rows = chain
    raw_update(rows[4].id, details={"step": 5, "note": "nothing to see"})
    message = verify_audit_error()
    assert names_seq(message, 5)
    assert f"event id {rows[4].id}" in message


def test_verify_audit_catches_an_edited_row_whose_hash_was_recomputed(chain):
    """Rewriting a row *and* its own hash still breaks the next row's link."""
    _studio, rows = chain
    edited = rows[2]
    edited.action = "test.rewritten"
    raw_update(edited.id, action=edited.action, hash=edited.compute_hash())
    message = verify_audit_error()
    assert names_seq(message, 4)
    assert f"event id {rows[3].id}" in message
    assert "link broken" in message


def test_verify_audit_names_the_first_of_several_broken_links(chain):
    _studio, rows = chain
    raw_update(rows[5].id, action="test.later")
    raw_update(rows[1].id, action="test.earlier")
    message = verify_audit_error()
    assert names_seq(message, 2)
    assert not names_seq(message, 6)


def test_verify_audit_catches_a_deleted_middle_row(chain):
    _studio, rows = chain
    raw_delete(rows[2].id)
    message = verify_audit_error()
    assert names_seq(message, 3)
    assert "missing" in message


def test_verify_audit_catches_a_deleted_last_row_through_the_chain_head(chain):
    studio, rows = chain
    raw_delete(rows[-1].id)
    message = verify_audit_error()
    assert chain_for(studio.pk) in message
    assert "seq 7" in message and "seq 6" in message  # head says 7, the log ends at 6


def test_verify_audit_catches_a_wiped_log(chain):
    studio, _rows = chain
    with owner_rights() as cursor:
        # TRUNCATE is left to the owner on PostgreSQL (the trigger is row-level); SQLite has none.
        cursor.execute("TRUNCATE audit_auditevent" if IS_POSTGRES else "DELETE FROM audit_auditevent")
    message = verify_audit_error()
    assert "seq 7" in message


def test_verify_audit_catches_two_rows_with_swapped_content(chain):
    _studio, rows = chain
    third, fourth = rows[2], rows[3]
    raw_update(third.id, **field_values(fourth, CONTENT_FIELDS))
    raw_update(fourth.id, **field_values(third, CONTENT_FIELDS))
    message = verify_audit_error()
    assert names_seq(message, 3)
    assert f"event id {third.id}" in message


def test_verify_audit_catches_two_rows_with_swapped_seq(chain):
    _studio, rows = chain
    third, fourth = rows[2], rows[3]
    raw_update(third.id, seq=10**9)  # out of the way of the unique (chain, seq)
    raw_update(fourth.id, seq=3)
    raw_update(third.id, seq=4)
    message = verify_audit_error()
    assert names_seq(message, 3)
    assert f"event id {fourth.id}" in message


def test_verify_audit_catches_two_whole_rows_swapped(chain):
    """Every column but the id swapped: each row is self-consistent, only the order is wrong."""
    _studio, rows = chain
    third, fourth = rows[2], rows[3]
    raw_update(fourth.id, seq=10**9)
    raw_update(third.id, **field_values(fourth, ALL_BUT_ID))
    raw_update(fourth.id, **field_values(third, ALL_BUT_ID))
    message = verify_audit_error()
    assert names_seq(message, 4)
    assert f"event id {third.id}" in message


def test_verify_audit_names_the_tampered_chain_among_several(world, chain):
    studio, rows = chain
    raw_update(rows[1].id, details={})
    message = verify_audit_error()
    assert chain_for(studio.pk) in message
    assert chain_for(world.a.studio.pk) + ":" not in message


def test_the_untampered_fixture_chain_verifies(chain):
    """Control for the tests above: the breaks come from the tampering, not from the fixture."""
    out = StringIO()
    call_command("verify_audit", stdout=out)
    assert "intact" in out.getvalue()
