"""The continuity tool through the run engine: the issue's "Done when" scene (a recoloured jacket and
a vanished prop between two shots) becomes exactly two machine-made notes in review, on the incoming
shot at the right frame, with boxes and confidences, apart from people's notes."""

from __future__ import annotations

import pytest

from portal.review.models import Note
from portal.toolruns import services
from portal.toolruns.models import ToolRun
from studio_tools.continuity import synthetic as synth
from tests.footage.helpers import make_ready_version
from tests.studio_tools.test_continuity_tool import FPS, FRAMES, done_when_scene
from tests.toolruns.conftest import store_real_file


@pytest.mark.django_db(transaction=True)
def test_continuity_findings_land_in_review_as_machine_notes(world_tx, tmp_path, api_for, client_for):
    world = world_tx
    outgoing, incoming, truth, rng = done_when_scene()
    shots = []
    for index, image in enumerate((outgoing, incoming), start=1):
        path = synth.write_clip(tmp_path / f"shot{index}.mp4", synth.shot_frames(image, FRAMES, rng), FPS)
        version = make_ready_version(world.a.project, uploader=world.a.users["artist"], name=f"shot{index}.mp4")
        version.media_info = {
            "kind": "video",
            "duration": FRAMES / FPS,
            "video": {"width": 480, "height": 270, "frame_rate": f"{FPS}/1", "frame_count": FRAMES},
        }
        version.save(update_fields=["media_info"])
        shots.append(store_real_file(version, path))
    run = services.toolrun_create(
        actor=world.a.users["director"],
        project=world.a.project,
        tool="continuity",
        params={},
        input_version_ids=[v.pk for v in shots],
    )
    run = services.toolrun_execute(run.pk)
    assert run.status == ToolRun.Status.SUCCEEDED, run.error

    notes = list(Note.objects.filter(source=Note.Source.MACHINE).select_related("drawing").order_by("finding_type"))
    assert [(n.finding_type, n.version_id, n.frame_start) for n in notes] == [
        ("costume", shots[1].pk, 0),
        ("prop", shots[1].pk, 0),
    ]
    for note in notes:
        assert note.tool_run_id == run.pk and note.author is None and note.finding_state == "open"
        assert 0.5 <= note.confidence <= 1.0
        [shape] = note.drawing.shapes
        assert shape["type"] == "rect"
    # a box where the truth is: the jacket in the incoming frame
    costume = notes[0].drawing.shapes[0]["points"]
    box = {"x": costume[0][0], "y": costume[0][1], "w": costume[1][0] - costume[0][0], "h": costume[1][1] - costume[0][1]}
    assert synth.box_overlap(box, truth["jacket"][1]) > 0.3
    # the review API shows them apart from people's notes
    api = api_for(world.a.users["viewer"])
    url = f"/api/v1/projects/{world.a.project.pk}/versions/{shots[1].pk}/notes/"
    assert len(api.get(url + "?source=machine").json()["results"]) == 2
    assert api.get(url + "?source=human").json()["results"] == []
    # and the run's page points at them: one entry, the incoming shot, with a link to its review
    project = world.a.project
    page = client_for(world.a.users["viewer"]).get(f"/s/{project.studio.slug}/p/{project.code}/runs/{run.pk}/")
    html = page.content.decode()
    section = html[html.index('id="findings-heading"') : html.index("</section>", html.index('id="findings-heading"'))]
    assert f"/review/{shots[1].pk}/" in section and f"/review/{shots[0].pk}/" not in section
    assert section.count("costume · frame 0") == 1 and section.count("prop · frame 0") == 1
