"""The Django-free media layer: accept or reject uploads, describe them (measured, see `probe`), read
their frames (`reader`, the only frame reader), make review derivatives, write timecode, hash files.

Everything that runs ffmpeg goes through `sandbox`, which pins each run to one local file read by one
allowed demuxer, with CPU, memory, output and wall-clock caps. See `formats` for the acceptance rules.
"""

from studio_tools.media.derivatives import (
    Filmstrip,
    Proxy,
    make_filmstrip,
    make_poster,
    make_proxy,
    make_review_proxy,
    make_waveform,
    remux_blockers,
)
from studio_tools.media.errors import MediaCancelled, MediaIncomplete, MediaLimitExceeded, MediaRejected, MediaToolError
from studio_tools.media.formats import FORMATS, ContainerFormat
from studio_tools.media.hashing import sha256_file
from studio_tools.media.probe import AudioInfo, MediaInfo, SubtitleInfo, VideoInfo, probe
from studio_tools.media.reader import Frame, FrameStream, display_size, frame_index_at, read_frame, read_frames, read_frames_at
from studio_tools.media.sandbox import Limits
from studio_tools.media.subtitles import Cue, parse_subtitles

__all__ = [
    "FORMATS",
    "Frame",
    "FrameStream",
    "SubtitleInfo",
    "display_size",
    "frame_index_at",
    "read_frame",
    "read_frames",
    "read_frames_at",
    "AudioInfo",
    "ContainerFormat",
    "Cue",
    "Filmstrip",
    "Limits",
    "MediaCancelled",
    "MediaIncomplete",
    "MediaInfo",
    "MediaLimitExceeded",
    "MediaRejected",
    "MediaToolError",
    "Proxy",
    "VideoInfo",
    "make_filmstrip",
    "make_poster",
    "make_proxy",
    "make_review_proxy",
    "make_waveform",
    "parse_subtitles",
    "remux_blockers",
    "probe",
    "sha256_file",
]
