"""``open_recording`` picks the reader from the path, and rejects what it cannot read clearly."""

from __future__ import annotations

import pytest

from umetrack.errors import FormatError
from umetrack.recording import open_recording, write_umetrack_raw


def test_raw_recording_opens_from_either_file_or_the_stem(tmp_path, make_recording):
    video, labels = write_umetrack_raw(make_recording(num_frames=3), tmp_path)
    for path in (video, labels, tmp_path / "recording_00"):
        with open_recording(path) as recording:
            assert recording.num_frames == 3 and recording.source == labels


def test_labels_without_their_video(tmp_path, make_recording):
    video, labels = write_umetrack_raw(make_recording(num_frames=3), tmp_path)
    video.unlink()
    with pytest.raises(FormatError, match="not found") as error:
        open_recording(labels)
    assert error.value.source == str(video)


@pytest.mark.parametrize("name", ["notes.txt", "clip.tar.gz", "image.png"])
def test_unsupported_files(tmp_path, name):
    path = tmp_path / name
    path.write_bytes(b"hello")
    with pytest.raises(FormatError, match="unsupported") as error:
        open_recording(path)
    assert error.value.source == str(path)


def test_missing_path_and_plain_folder(tmp_path):
    with pytest.raises(FormatError, match="not found"):
        open_recording(tmp_path / "nothing_here")
    with pytest.raises(FormatError, match="not a HOT3D recording"):
        open_recording(tmp_path)
