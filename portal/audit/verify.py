"""Chain verification: recompute every row and name the first broken link."""

from __future__ import annotations

from dataclasses import dataclass

from portal.audit.anchors import AnchorInvalid, read_anchor
from portal.audit.models import GENESIS_HASH, AuditChainHead, AuditEvent


@dataclass(frozen=True)
class Break:
    chain: str
    seq: int | None
    event_id: int | None
    reason: str

    def __str__(self):
        where = f"seq {self.seq}" if self.seq is not None else "end of chain"
        ident = f" (event id {self.event_id})" if self.event_id is not None else ""
        return f"chain {self.chain}: {where}{ident}: {self.reason}"


def verify_chain(chain: str) -> Break | None:
    try:
        anchor = read_anchor(chain)
    except AnchorInvalid as exc:
        return Break(chain, None, None, str(exc))
    prev_hash = GENESIS_HASH
    expected_seq = 1
    last_id = 0
    rows = AuditEvent.objects.filter(chain=chain).order_by("seq").iterator(chunk_size=2000)
    for row in rows:
        if row.seq != expected_seq:
            return Break(chain, expected_seq, None, f"row missing: expected seq {expected_seq}, found {row.seq} (deleted?)")
        if row.id <= last_id:
            return Break(chain, row.seq, row.id, "rows reordered: ids do not rise with seq")
        if row.prev_hash != prev_hash:
            return Break(
                chain,
                row.seq,
                row.id,
                "link broken: prev_hash is not the hash of the row before (row deleted, inserted or swapped)",
            )
        if row.compute_hash() != row.hash:
            return Break(chain, row.seq, row.id, "content changed: hash does not match the row (edited)")
        if anchor is not None and row.seq == anchor.seq and row.hash != anchor.hash:
            return Break(
                chain,
                row.seq,
                row.id,
                f"rewritten: the anchor written outside the database at {anchor.written_at} has another hash here",
            )
        prev_hash = row.hash
        expected_seq += 1
        last_id = row.id
    last_seq = expected_seq - 1
    if anchor is not None and last_seq < anchor.seq:
        return Break(
            chain,
            None,
            None,
            f"the log ends at seq {last_seq} but the anchor written outside the database at {anchor.written_at} "
            f"saw seq {anchor.seq} (rows deleted?)",
        )
    head = AuditChainHead.objects.filter(chain=chain).first()
    if head is not None and (head.last_seq != last_seq or head.last_hash != prev_hash):
        return Break(
            chain,
            None,
            None,
            f"chain head says seq {head.last_seq} but the log ends at seq {last_seq} (rows deleted at the end?)",
        )
    return None


def all_chains() -> list[str]:
    chains = set(AuditEvent.objects.values_list("chain", flat=True).distinct())
    chains |= set(AuditChainHead.objects.values_list("chain", flat=True))
    return sorted(chains)


def verify_all() -> tuple[int, Break | None]:
    """Return (number of chains checked, first break or None)."""
    chains = all_chains()
    for chain in chains:
        problem = verify_chain(chain)
        if problem:
            return len(chains), problem
    return len(chains), None
