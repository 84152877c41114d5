"""The recap tests' generated episodes: the generator lives in studio_tools/recap/synthetic.py (the portal's
demo seed makes its episodes with it too); the tests keep importing it from here."""

from studio_tools.recap.synthetic import (
    EPISODE_LINES,
    FRAMECODE_BITS,
    FRAMECODE_BLOCK,
    VFR_TICKS,
    VFR_TIMEBASE,
    ShotPlan,
    Truth,
    episode_cues,
    episode_plans,
    make_episode,
    read_frame_number,
    render_frames,
    srt_time,
    stamp_frame_number,
    vfr_times,
    write_audio,
    write_srt,
    write_video,
)

__all__ = [
    "EPISODE_LINES",
    "FRAMECODE_BITS",
    "FRAMECODE_BLOCK",
    "VFR_TICKS",
    "VFR_TIMEBASE",
    "ShotPlan",
    "Truth",
    "episode_cues",
    "episode_plans",
    "make_episode",
    "read_frame_number",
    "render_frames",
    "srt_time",
    "stamp_frame_number",
    "vfr_times",
    "write_audio",
    "write_srt",
    "write_video",
]
