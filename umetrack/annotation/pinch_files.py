"""Pinch annotation files: JSON (the autosave and exchange format), CSV and ELAN (.eaf), with repair.

JSON, ``<recording>.pinch_annotations.json`` next to the recording when autosaved::

    {"format": "umetrack-studio.pinch-annotations", "version": 1,
     "recording": "recording_00", "num_frames": 300, "fps": 30.0,
     "left": [[start, end], ...], "right": [[start, end], ...]}

Every pair is a half-open [start, end) frame interval (end exclusive), as in the recordings' pinch
side file (``umetrack-studio.pinch``, which this reader also accepts, so ground truth can be
imported as a starting point). ``recording`` and ``fps`` are informative.

CSV, one interval per row after a header (end exclusive)::

    hand,start_frame,end_frame
    left,40,61

ELAN (.eaf, EAF 3.0): one tier per hand ("left", "right"), one annotation "pinch" per interval,
times in ms: ``round(frame * 1000 / fps)`` for both edges (the end edge is the first released frame).
Reading converts back with ``round(ms * fps / 1000)``.

Bad files, decided once for every format:
* Rejected with ``FormatError`` naming the file and the field (row, tier, annotation) when the
  content cannot be understood: unreadable or malformed file, wrong format tag or version, missing
  fields, non-integer frames, an unknown hand, or an interval with ``end <= start``.
* Repaired, with one line per fix in ``LoadedAnnotations.repairs`` (the app shows them), when the
  intent is clear: intervals out of time order are sorted; overlapping or touching intervals are
  merged into their union; intervals reaching outside the recording are clipped to it (dropped when
  nothing is left); a ``num_frames`` that differs from the recording's is noted. The file itself is
  not changed by reading; the next autosave writes the repaired intervals.
"""

from __future__ import annotations

import csv
import io
import os
import xml.etree.ElementTree as ET
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from umetrack.annotation.pinch_intervals import HANDS, PinchAnnotations
from umetrack.errors import FormatError
from umetrack.fileio import atomic_write_json, atomic_write_text, read_json, read_text, require
from umetrack.hand.model import HAND_NAMES
from umetrack.metrics import PinchEvent
from umetrack.recording.model import Recording
from umetrack.recording.umetrack_raw import PINCH_FORMAT, _nominal_fps

ANNOTATION_FORMAT = "umetrack-studio.pinch-annotations"
ANNOTATION_VERSION = 1
AUTOSAVE_SUFFIX = ".pinch_annotations.json"
CSV_HEADER = ("hand", "start_frame", "end_frame")
ELAN_ANNOTATION_VALUE = "pinch"
SUPPORTED_SUFFIXES = (".json", ".csv", ".eaf")


@dataclass(frozen=True)
class LoadedAnnotations:
    """Annotations read from ``source``, and the fixes made to them (empty when the file was clean)."""

    annotations: PinchAnnotations
    source: Path
    repairs: tuple[str, ...] = ()

    @property
    def report(self) -> str:
        """Human-readable summary of the repairs ("" when none)."""
        return repair_report(self.source.name, self.repairs)


@dataclass(frozen=True)
class _RawInterval:
    """An interval as read, before repair; ``where`` names it in messages (e.g. "left[2]", "row 5")."""

    hand: int
    start: int
    end: int
    where: str


def annotations_path_for(recording_path: str | Path) -> Path:
    """The autosave file of a recording: ``<stem>.pinch_annotations.json`` beside it (a folder
    recording such as HOT3D gets ``<folder>.pinch_annotations.json`` beside the folder)."""
    path = Path(recording_path)
    stem = path.name if path.is_dir() else path.stem
    return path.with_name(stem + AUTOSAVE_SUFFIX)


# -- repair ------------------------------------------------------------------------------------


def repair_report(file_name: str, repairs: Sequence[str], note: str = "") -> str:
    """One line naming the file and the count, then one bullet per fix ("" when nothing was fixed)."""
    if not repairs:
        return ""
    return f"{file_name}: repaired {len(repairs)} problem(s){note}:\n" + "\n".join(f"• {line}" for line in repairs)


def _span(start: int, end: int) -> str:
    return f"[{start}, {end})"


def repair_intervals(raw: Sequence[_RawInterval], num_frames: int, source: Path) -> tuple[PinchAnnotations, list[str]]:
    """Clip, sort and merge raw intervals into valid annotations (module docstring), noting each fix."""
    repairs: list[str] = []
    per_hand: dict[int, list[tuple[int, int, str]]] = {hand: [] for hand in HANDS}
    for item in raw:
        if item.end <= item.start:
            raise FormatError(source, item.where, f"end frame {item.end} must be greater than start frame {item.start} (end is exclusive)")
        start, end = max(0, item.start), min(num_frames, item.end)
        if end <= start:
            repairs.append(f"{item.where} {_span(item.start, item.end)} lies outside the recording's frames 0..{num_frames - 1}: dropped")
            continue
        if (start, end) != (item.start, item.end):
            repairs.append(f"{item.where} {_span(item.start, item.end)} reaches outside frames 0..{num_frames - 1}: clipped to {_span(start, end)}")
        per_hand[item.hand].append((start, end, item.where))
    merged: dict[int, list[PinchEvent]] = {}
    for hand, items in per_hand.items():
        if [i[:2] for i in items] != sorted(i[:2] for i in items):
            repairs.append(f"{HAND_NAMES[hand]} intervals were not in time order: sorted")
        out: list[list[Any]] = []  # [start, end, where]
        for start, end, where in sorted(items):
            if out and start <= out[-1][1]:
                previous = out[-1]
                relation = "touches" if start == previous[1] else "overlaps"
                union_end = max(previous[1], end)
                repairs.append(f"{where} {_span(start, end)} {relation} {previous[2]} {_span(previous[0], previous[1])}: merged into {_span(previous[0], union_end)}")
                previous[1] = union_end
            else:
                out.append([start, end, where])
        merged[hand] = [PinchEvent(start, end) for start, end, _ in out]
    return PinchAnnotations(num_frames, merged), repairs


def _hand_index(name: Any, source: Path, where: str) -> int:
    if name not in HAND_NAMES:
        raise FormatError(source, where, f"unknown hand {name!r}; expected one of {', '.join(HAND_NAMES)}")
    return HAND_NAMES.index(name)


def _frame(value: Any, source: Path, where: str) -> int:
    """An integer frame index from JSON/CSV/XML text (5 and "5" are fine; 5.5, "x", true are not)."""
    if isinstance(value, bool):
        raise FormatError(source, where, f"expected an integer frame index, got {value!r}")
    if isinstance(value, int):
        return value
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, str):
        try:
            return int(value.strip())
        except ValueError:
            pass
    raise FormatError(source, where, f"expected an integer frame index, got {value!r}")


# -- JSON --------------------------------------------------------------------------------------


def annotations_document(annotations: PinchAnnotations, fps: float | None = None, recording_name: str | None = None) -> dict[str, Any]:
    """The JSON document (module docstring)."""
    doc: dict[str, Any] = {"format": ANNOTATION_FORMAT, "version": ANNOTATION_VERSION}
    if recording_name is not None:
        doc["recording"] = recording_name
    doc["num_frames"] = annotations.num_frames
    if fps is not None:
        doc["fps"] = float(fps)
    for hand in HANDS:
        doc[HAND_NAMES[hand]] = [[e.start, e.end] for e in annotations.intervals(hand)]
    return doc


def read_annotations_json(path: str | Path, num_frames: int) -> LoadedAnnotations:
    path = Path(path)
    doc = read_json(path)
    fmt = require(doc, "format", path)
    if fmt not in (ANNOTATION_FORMAT, PINCH_FORMAT):
        raise FormatError(path, "format", f"expected {ANNOTATION_FORMAT!r} (or the pinch labels' {PINCH_FORMAT!r}), got {fmt!r}")
    version = require(doc, "version", path)
    if version != ANNOTATION_VERSION:
        raise FormatError(path, "version", f"unsupported version {version!r} (this reader knows {ANNOTATION_VERSION})")
    notes = []
    stored_frames = _frame(require(doc, "num_frames", path), path, "num_frames")
    if stored_frames != num_frames:
        notes.append(f"the file was written for {stored_frames} frames, the recording has {num_frames}")
    raw = []
    for hand in HANDS:
        name = HAND_NAMES[hand]
        pairs = require(doc, name, path)
        if not isinstance(pairs, list):
            raise FormatError(path, name, f"expected a list of [start, end] pairs, got {type(pairs).__name__}")
        for index, pair in enumerate(pairs):
            where = f"{name}[{index}]"
            if not isinstance(pair, list) or len(pair) != 2:
                raise FormatError(path, where, f"expected a [start, end] pair, got {pair!r}")
            raw.append(_RawInterval(hand, _frame(pair[0], path, where), _frame(pair[1], path, where), where))
    annotations, repairs = repair_intervals(raw, num_frames, path)
    return LoadedAnnotations(annotations, path, tuple(notes + repairs))


def write_annotations_json(path: str | Path, annotations: PinchAnnotations, fps: float | None = None, recording_name: str | None = None) -> None:
    """Write atomically: the file holds the previous or the new annotations, never a torn mix."""
    atomic_write_json(path, annotations_document(annotations, fps, recording_name))


# -- CSV ---------------------------------------------------------------------------------------


def read_annotations_csv(path: str | Path, num_frames: int) -> LoadedAnnotations:
    path = Path(path)
    text = read_text(path)
    rows = [row for row in csv.reader(io.StringIO(text)) if any(cell.strip() for cell in row)]
    if not rows or tuple(cell.strip() for cell in rows[0]) != CSV_HEADER:
        raise FormatError(path, "header", f"expected the header {','.join(CSV_HEADER)}")
    raw = []
    for number, row in enumerate(rows[1:], start=2):
        where = f"row {number}"
        if len(row) != len(CSV_HEADER):
            raise FormatError(path, where, f"expected {len(CSV_HEADER)} columns ({','.join(CSV_HEADER)}), got {len(row)}")
        hand = _hand_index(row[0].strip(), path, f"{where}.hand")
        raw.append(_RawInterval(hand, _frame(row[1], path, f"{where}.start_frame"), _frame(row[2], path, f"{where}.end_frame"), where))
    annotations, repairs = repair_intervals(raw, num_frames, path)
    return LoadedAnnotations(annotations, path, tuple(repairs))


def write_annotations_csv(path: str | Path, annotations: PinchAnnotations) -> None:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(CSV_HEADER)
    for hand in HANDS:
        for event in annotations.intervals(hand):
            writer.writerow((HAND_NAMES[hand], event.start, event.end))
    atomic_write_text(path, out.getvalue())


# -- ELAN --------------------------------------------------------------------------------------


def _ms(frame: int, fps: float) -> int:
    return int(round(frame * 1000.0 / fps))


def write_annotations_eaf(path: str | Path, annotations: PinchAnnotations, fps: float, media_path: str | Path | None = None) -> None:
    """ELAN EAF 3.0: a TIME_ORDER of slots in ms and one alignable tier per hand."""
    if not fps > 0:
        raise ValueError(f"fps: expected > 0, got {fps}")
    root = ET.Element("ANNOTATION_DOCUMENT", {
        "AUTHOR": "UmeTrack Studio", "DATE": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "FORMAT": "3.0", "VERSION": "3.0",
        "xmlns:xsi": "http://www.w3.org/2001/XMLSchema-instance",
        "xsi:noNamespaceSchemaLocation": "http://www.mpi.nl/tools/elan/EAFv3.0.xsd",
    })  # fmt: skip
    header = ET.SubElement(root, "HEADER", {"MEDIA_FILE": "", "TIME_UNITS": "milliseconds"})
    if media_path is not None:
        ET.SubElement(header, "MEDIA_DESCRIPTOR", {"MEDIA_URL": Path(media_path).resolve().as_uri(), "MIME_TYPE": "video/mp4"})
    time_order = ET.SubElement(root, "TIME_ORDER")
    tiers = []
    slot_count = annotation_count = 0
    for hand in HANDS:
        tier = ET.Element("TIER", {"LINGUISTIC_TYPE_REF": "default-lt", "TIER_ID": HAND_NAMES[hand]})
        for event in annotations.intervals(hand):
            slot_ids = []
            for frame in (event.start, event.end):
                slot_count += 1
                slot_ids.append(f"ts{slot_count}")
                ET.SubElement(time_order, "TIME_SLOT", {"TIME_SLOT_ID": slot_ids[-1], "TIME_VALUE": str(_ms(frame, fps))})
            annotation_count += 1
            alignable = ET.SubElement(ET.SubElement(tier, "ANNOTATION"), "ALIGNABLE_ANNOTATION", {
                "ANNOTATION_ID": f"a{annotation_count}", "TIME_SLOT_REF1": slot_ids[0], "TIME_SLOT_REF2": slot_ids[1]})  # fmt: skip
            ET.SubElement(alignable, "ANNOTATION_VALUE").text = ELAN_ANNOTATION_VALUE
        tiers.append(tier)
    root.extend(tiers)
    ET.SubElement(root, "LINGUISTIC_TYPE", {"GRAPHIC_REFERENCES": "false", "LINGUISTIC_TYPE_ID": "default-lt", "TIME_ALIGNABLE": "true"})
    ET.indent(root)
    atomic_write_text(path, '<?xml version="1.0" encoding="UTF-8"?>\n' + ET.tostring(root, encoding="unicode") + "\n")


def read_annotations_eaf(path: str | Path, num_frames: int, fps: float) -> LoadedAnnotations:
    """Read the "left" and "right" tiers of an EAF file (other tiers are ignored)."""
    path = Path(path)
    try:
        root = ET.parse(path).getroot()
    except FileNotFoundError:
        raise FormatError(path, "", "file not found") from None
    except (OSError, ET.ParseError) as exc:
        raise FormatError(path, "", f"malformed EAF XML: {exc}") from None
    if root.tag != "ANNOTATION_DOCUMENT":
        raise FormatError(path, "", f"expected an ELAN ANNOTATION_DOCUMENT, got <{root.tag}>")
    slots = {}
    for slot in root.iter("TIME_SLOT"):
        slot_id = slot.get("TIME_SLOT_ID")
        if slot.get("TIME_VALUE") is not None:
            slots[slot_id] = _frame(slot.get("TIME_VALUE"), path, f"TIME_SLOT {slot_id}.TIME_VALUE")
    raw = []
    for tier in root.iter("TIER"):
        name = tier.get("TIER_ID")
        if name not in HAND_NAMES:
            continue
        for annotation in tier.iter("ALIGNABLE_ANNOTATION"):
            where = f"TIER {name}.{annotation.get('ANNOTATION_ID')}"
            edges = []
            for ref in ("TIME_SLOT_REF1", "TIME_SLOT_REF2"):
                slot_id = annotation.get(ref)
                if slot_id not in slots:
                    raise FormatError(path, f"{where}.{ref}", f"time slot {slot_id!r} is missing or has no TIME_VALUE")
                edges.append(int(round(slots[slot_id] * fps / 1000.0)))
            raw.append(_RawInterval(HAND_NAMES.index(name), edges[0], edges[1], where))
    annotations, repairs = repair_intervals(raw, num_frames, path)
    return LoadedAnnotations(annotations, path, tuple(repairs))


# -- by suffix ---------------------------------------------------------------------------------


def read_annotations(path: str | Path, num_frames: int, fps: float) -> LoadedAnnotations:
    """Read a .json, .csv or .eaf annotation file (FormatError for anything else)."""
    suffix = Path(path).suffix.lower()
    if suffix == ".json":
        return read_annotations_json(path, num_frames)
    if suffix == ".csv":
        return read_annotations_csv(path, num_frames)
    if suffix == ".eaf":
        return read_annotations_eaf(path, num_frames, fps)
    raise FormatError(path, "", f"unknown annotation file type {suffix!r}; expected one of {', '.join(SUPPORTED_SUFFIXES)}")


def write_annotations(path: str | Path, annotations: PinchAnnotations, fps: float, recording_name: str | None = None, media_path: str | Path | None = None) -> None:
    suffix = Path(path).suffix.lower()
    if suffix == ".json":
        write_annotations_json(path, annotations, fps, recording_name)
    elif suffix == ".csv":
        write_annotations_csv(path, annotations)
    elif suffix == ".eaf":
        write_annotations_eaf(path, annotations, fps, media_path)
    else:
        raise ValueError(f"unknown annotation file type {suffix!r}; expected one of {', '.join(SUPPORTED_SUFFIXES)}")


# -- autosave ----------------------------------------------------------------------------------


@dataclass
class AnnotationAutosave:
    """The autosave file of one recording's annotations and what happened when it was opened.

    Attributes:
        path: where every edit is written (atomically: a crash mid-write keeps the previous edit).
        repairs: fixes made when loading it (shown to the user; written back at the next save).
        rejected: why the existing file could not be read. It is then kept, renamed to
            ``rejected_path``, just before the first save, so an edit never destroys it.
        last_error: why the latest save failed (None after a successful one).
    """

    path: Path
    fps: float | None = None
    recording_name: str | None = None
    repairs: tuple[str, ...] = ()
    rejected: FormatError | None = None
    last_error: str | None = None
    saves: int = field(default=0)

    @property
    def rejected_path(self) -> Path:
        return self.path.with_name(self.path.name + ".rejected")

    @property
    def report(self) -> str:
        """What the user should know about the loaded file ("" when it was clean or absent)."""
        if self.rejected is not None:
            return f"Pinch annotations not loaded: {self.rejected}\nThe file is kept as {self.rejected_path.name} at the first edit."
        return repair_report(self.path.name, self.repairs, " (written back at the next edit)")

    def save(self, annotations: PinchAnnotations) -> None:
        """Write ``annotations``; raises OSError (and records it in ``last_error``) when it cannot."""
        try:
            if self.rejected is not None and self.path.exists() and not self.rejected_path.exists():
                os.replace(self.path, self.rejected_path)
            write_annotations_json(self.path, annotations, self.fps, self.recording_name)
        except OSError as exc:
            self.last_error = f"cannot autosave {self.path}: {exc}"
            raise
        self.last_error = None
        self.saves += 1


def recording_fps(recording: Recording) -> float:
    """The recording's nominal frame rate (median frame interval), for ELAN times and the JSON's "fps"."""
    return _nominal_fps(recording.timestamps_ns)


def open_autosave(recording_path: str | Path, recording: Recording) -> tuple[AnnotationAutosave, PinchAnnotations]:
    """The recording's autosave file and its annotations: empty when there is none yet or when it
    is rejected (``autosave.rejected`` says why), repaired when it had fixable problems."""
    num_frames = recording.num_frames
    autosave = AnnotationAutosave(annotations_path_for(recording_path), recording_fps(recording), recording.name)
    if not autosave.path.exists():
        return autosave, PinchAnnotations(num_frames)
    try:
        loaded = read_annotations_json(autosave.path, num_frames)
    except FormatError as exc:
        autosave.rejected = exc
        return autosave, PinchAnnotations(num_frames)
    autosave.repairs = loaded.repairs
    return autosave, loaded.annotations
