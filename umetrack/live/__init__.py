"""Live input: camera sources that stream timestamped multi-view frames (a simulated headset, OpenCV
cameras with a rig file) and a recorder that writes them to the UmeTrack raw layout as they arrive."""

from umetrack.live.recorder import LiveRecorder
from umetrack.live.sources import (
    RIG_FORMAT,
    LiveFrame,
    LiveRig,
    LiveSource,
    LiveSourceError,
    OpenCVCameras,
    Outage,
    RigCamera,
    SimulatedHeadset,
    read_rig_file,
)
from umetrack.recording.umetrack_raw import LIVE_FORMAT, LiveRecordInfo, live_info_path, read_live_info

__all__ = [
    "LIVE_FORMAT",
    "RIG_FORMAT",
    "LiveFrame",
    "LiveRecordInfo",
    "LiveRecorder",
    "LiveRig",
    "LiveSource",
    "LiveSourceError",
    "OpenCVCameras",
    "Outage",
    "RigCamera",
    "SimulatedHeadset",
    "live_info_path",
    "read_live_info",
    "read_rig_file",
]
