"""One tus chunk asks for its upload and the policy once: the access queries a PATCH makes are counted
(the upload's row, the studio and project memberships the policy reads), and stay the same per chunk."""

from __future__ import annotations

import re

from django.db import connection
from django.test.utils import CaptureQueriesContext

from tests.footage.test_tus import create, patch

# What the scope check reads: the caller's upload with its project and studio (one joined row; the
# service's own read-back of the offset it wrote is not an access query), and the memberships.
MEMBERSHIP_TABLES = ("studios_studiomembership", "projects_projectmembership")
# What a chunk asks: the upload, and the user's studio and project roles in one read (the policy's
# per-request roles, issue 20). Before issue 18 it was 8: the view and the service each fetched the
# upload, and the policy was asked three times (project.view in both, footage.upload in the service),
# two membership reads each; after the resolver alone, 3.
ACCESS_QUERIES_PER_CHUNK = 2


def access_reads(queries) -> list[str]:
    reads = []
    for query in queries:
        sql = query["sql"]
        if not sql.lstrip().upper().startswith("SELECT"):
            continue
        first_from = re.search(r'\bFROM\s+"?(\w+)"?', sql, re.IGNORECASE)
        table = first_from.group(1) if first_from else ""
        if table in MEMBERSHIP_TABLES or (table == "footage_upload" and "projects_project" in sql):
            reads.append(sql)
    return reads


def test_a_chunk_checks_the_upload_and_the_policy_once(api_for, world, django_capture_on_commit_callbacks):
    api = api_for(world.a.users["artist"])
    data = bytes(range(256)) * 12  # 3072 bytes, in three chunks
    response = create(api, world.a.project, length=len(data))
    assert response.status_code == 201, response.content
    location = response["Location"]
    counts, seen = [], []
    for offset in (0, 1024, 2048):
        with CaptureQueriesContext(connection) as queries:
            response = patch(api, location, data[offset : offset + 1024], offset)
        assert response.status_code == 204, response.content
        assert response["Upload-Offset"] == str(offset + 1024)
        reads = access_reads(queries.captured_queries)
        counts.append(len(reads))
        seen.append(reads)
    assert counts == [ACCESS_QUERIES_PER_CHUNK] * 3, "\n".join([str(counts), *seen[0]])
