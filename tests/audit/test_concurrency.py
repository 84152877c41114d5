"""Concurrent writers on one studio chain must queue on the chain head, never fork the chain.

Only meaningful where several connections really write at once (PostgreSQL); the single-process
loop check lives in test_chain.py and runs on both databases."""

from __future__ import annotations

import threading

import pytest
from django.db import connection

from portal.audit.models import AuditChainHead, AuditEvent
from portal.audit.services import chain_for, record
from portal.audit.verify import verify_chain
from tests.audit.conftest import IS_POSTGRES
from tests.factories import make_studio


def test_recording_50_events_in_a_loop_leaves_a_contiguous_chain(db):
    studio = make_studio("Busy", "busy")
    for i in range(50):
        record(action="test.busy", studio=studio, details={"i": i})
    rows = list(AuditEvent.objects.filter(chain=chain_for(studio.pk)).order_by("seq"))
    assert len(rows) == 51
    assert [r.seq for r in rows] == list(range(1, 52))
    assert all(row.prev_hash == before.hash for before, row in zip(rows, rows[1:], strict=False))
    assert [r.details["i"] for r in rows[1:]] == list(range(50))
    assert AuditChainHead.objects.get(chain=chain_for(studio.pk)).last_seq == 51
    assert verify_chain(chain_for(studio.pk)) is None


if IS_POSTGRES:

    @pytest.mark.django_db(transaction=True)
    def test_concurrent_writers_on_postgres_leave_one_contiguous_chain():
        studio = make_studio("Race", "race")
        workers, per_worker = 4, 15
        barrier = threading.Barrier(workers)
        errors: list[BaseException] = []

        def write(worker: int) -> None:
            try:
                barrier.wait(timeout=10)
                for i in range(per_worker):
                    record(action="test.race", studio=studio, details={"worker": worker, "i": i})
            except BaseException as exc:  # noqa: BLE001 - surfaced by the assert below
                errors.append(exc)
            finally:
                connection.close()

        threads = [threading.Thread(target=write, args=(n,)) for n in range(workers)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=60)
        assert errors == []
        rows = list(AuditEvent.objects.filter(chain=chain_for(studio.pk)).order_by("seq"))
        assert [r.seq for r in rows] == list(range(1, workers * per_worker + 2))
        assert AuditChainHead.objects.get(chain=chain_for(studio.pk)).last_seq == workers * per_worker + 1
        assert verify_chain(chain_for(studio.pk)) is None
