def test_world_builds(world):
    assert world.a.studio.status == "active"
    assert set(world.a.users) == {"studio_admin", "member", "producer", "director", "artist", "viewer"}
    assert world.a.project.memberships.count() == 4
