"""Find the runs of a LOGDIR and load their scalar curves into `RunData`.

A run is a folder holding event files, named by its path relative to LOGDIR.
The Keras `TensorBoard` callback writes one run as `run/train/` and
`run/validation/` sub-folders; those split folders are folded into their parent
so train and validation curves of one training job are analysed together, each
tag prefixed by its split (`train/epoch_loss`, `validation/epoch_loss`).

Local paths use `os.scandir`/`open` (the fast path); anything with a URL scheme
(`gs://`, `s3://`, `memory://`, `file://`...) goes through fsspec. Nothing is
ever written to the logdir, and a bad file never aborts a run: it becomes a
message in `RunData.errors`.
"""

from __future__ import annotations

import fnmatch
import logging
import os
import re
import stat
from collections.abc import Iterator
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from typing import Any, BinaryIO

from tb_recipe_plugin.analysis.series import RunData
from tb_recipe_plugin.io.event_reader import ScalarCollector, read_event_stream

logger = logging.getLogger(__name__)

EVENT_FILE_MARKER = "tfevents"
SPLIT_FOLDERS = frozenset({"train", "validation", "val", "eval", "test"})
ROOT_RUN = "."

_URL = re.compile(r"^[A-Za-z][A-Za-z0-9+.\-]*://")
_TIMESTAMP = re.compile(r"tfevents\.(\d+(?:\.\d+)?)")


class LogdirError(Exception):
    """LOGDIR cannot be used at all (missing, not a directory, unreadable); the CLI exits with code 2."""


@dataclass
class RunSource:
    """Event files of one run; `split` is the Keras split folder a file came from, or None."""

    name: str
    files: list[tuple[str | None, str]] = field(default_factory=list)


# --------------------------------------------------------------------------- discovery


def is_url(path: str) -> bool:
    return bool(_URL.match(path))


def discover_runs(logdir: str) -> list[RunSource]:
    """All runs under `logdir`, sorted by name; raises LogdirError only for the logdir itself."""
    if is_url(logdir):
        folders = _remote_event_folders(logdir)
    else:
        folders = _local_event_folders(logdir)
    runs: dict[str, RunSource] = {}
    for rel_dir, paths in folders:
        name, split = run_of_folder(rel_dir)
        source = runs.setdefault(name, RunSource(name))
        source.files.extend((split, path) for path in paths)
    for source in runs.values():
        source.files.sort(key=lambda item: _file_order(item[1]))
    return [runs[name] for name in sorted(runs)]


def run_of_folder(rel_dir: str) -> tuple[str, str | None]:
    """Run name and split for a folder holding event files (`rel_dir` relative to LOGDIR, '/'-separated)."""
    if rel_dir == ROOT_RUN:
        return ROOT_RUN, None
    parent, _, base = rel_dir.rpartition("/")
    if base in SPLIT_FOLDERS:
        return parent or ROOT_RUN, base
    return rel_dir, None


def _basename(path: str) -> str:
    return path.rstrip("/").rsplit("/", 1)[-1] if is_url(path) else os.path.basename(path)


def _file_order(path: str) -> tuple[float, str, str]:
    """Restarts are replayed in launch order: the writer's timestamp in the file name, then the name."""
    base = _basename(path)
    match = _TIMESTAMP.search(base)
    stamp = float(match.group(1)) if match else float("inf")
    return stamp, base, path


def _local_event_folders(logdir: str) -> list[tuple[str, list[str]]]:
    """(relative folder, event file paths) for every folder under `logdir` that holds event files.

    Iterative scandir walk: DirEntry caches the file type, so a huge logdir
    costs one listing per folder; symlinked folders are followed but each real
    folder is entered once, so a symlink loop cannot trap the walk.
    """
    root = os.path.normpath(os.path.expanduser(logdir))
    root_stat = _check_local_root(logdir, root)
    found: list[tuple[str, list[str]]] = []
    seen = {(root_stat.st_dev, root_stat.st_ino)}
    stack = [(root, ROOT_RUN)]
    while stack:
        folder, rel = stack.pop()
        events, subfolders = _scan_folder(folder)
        if events:
            found.append((rel, events))
        for sub_path, sub_name in subfolders:
            key = _folder_identity(sub_path)
            if key is None or key in seen:
                continue
            seen.add(key)
            stack.append((sub_path, sub_name if rel == ROOT_RUN else f"{rel}/{sub_name}"))
    return found


def _check_local_root(logdir: str, root: str) -> os.stat_result:
    """Only the logdir itself is fatal; anything wrong below it is skipped or reported per run."""
    try:
        root_stat = os.stat(root)
    except FileNotFoundError:
        raise LogdirError(f"logdir {logdir!r} does not exist") from None
    except OSError as exc:
        raise LogdirError(f"logdir {logdir!r} cannot be accessed: {exc.strerror or exc}") from None
    if not stat.S_ISDIR(root_stat.st_mode):
        raise LogdirError(f"logdir {logdir!r} is not a directory")
    try:
        with os.scandir(root):
            pass
    except OSError as exc:
        raise LogdirError(f"logdir {logdir!r} cannot be read: {exc.strerror or exc}") from None
    return root_stat


def _scan_folder(folder: str) -> tuple[list[str], list[tuple[str, str]]]:
    """Event files and sub-folders of one folder; an unreadable sub-folder is logged and skipped."""
    events: list[str] = []
    subfolders: list[tuple[str, str]] = []
    try:
        with os.scandir(folder) as entries:
            for entry in entries:
                try:
                    if entry.is_dir():
                        subfolders.append((entry.path, entry.name))
                    elif EVENT_FILE_MARKER in entry.name and entry.is_file():
                        events.append(entry.path)
                except OSError:  # entry vanished or a dangling symlink
                    continue
    except OSError as exc:
        logger.warning("skipping folder %s: %s", folder, exc.strerror or exc)
    return events, subfolders


def _folder_identity(path: str) -> tuple[int, int] | None:
    try:
        st = os.stat(path)
    except OSError:
        return None
    return st.st_dev, st.st_ino


def _remote_event_folders(logdir: str) -> list[tuple[str, list[str]]]:
    """Same as the local walk through fsspec; `find` is one flat listing on object stores."""
    fs, root = _url_to_fs(logdir)
    root = root.rstrip("/") or "/"
    try:
        if not fs.exists(root):
            raise LogdirError(f"logdir {logdir!r} does not exist")
        if not fs.isdir(root):
            raise LogdirError(f"logdir {logdir!r} is not a directory")
        paths = fs.find(root, withdirs=False, detail=False)
    except LogdirError:
        raise
    except Exception as exc:  # noqa: BLE001 - every backend raises its own types
        raise LogdirError(f"logdir {logdir!r} cannot be listed: {exc}") from None
    folders: dict[str, list[str]] = {}
    prefix = root.rstrip("/") + "/"
    for path in sorted(paths):
        folder, _, base = path.rpartition("/")
        if EVENT_FILE_MARKER not in base:
            continue
        rel = folder[len(prefix) :] if folder.startswith(prefix) else ROOT_RUN
        folders.setdefault(rel or ROOT_RUN, []).append(fs.unstrip_protocol(path))
    return list(folders.items())


def _url_to_fs(url: str) -> tuple[Any, str]:
    try:
        import fsspec
    except ImportError as exc:  # pragma: no cover - fsspec is a declared dependency
        raise LogdirError(f"reading {url!r} needs fsspec: {exc}") from None
    try:
        return fsspec.core.url_to_fs(url)
    except (ImportError, ValueError) as exc:
        raise LogdirError(f"no file system for {url!r}: {exc}") from None


# --------------------------------------------------------------------------- loading


def load_run(source: RunSource) -> RunData:
    """Scalars of every event file of `source`, merged per series key; bad files become messages."""
    collector = ScalarCollector()
    errors: list[str] = []
    for split, path in source.files:
        errors.extend(_read_file(collector, split, path))
    return RunData(name=source.name, series=collector.to_series(), errors=errors)


def _read_file(collector: ScalarCollector, split: str | None, path: str) -> list[str]:
    """Messages about one file; never raises, so one odd file (or remote backend) cannot sink the run."""
    label = _file_label(split, path)
    try:
        with _open_read_only(path) as stream:
            return read_event_stream(stream, collector.scope(f"{split}/" if split else ""), label).errors
    except FileNotFoundError:
        return [f"{label}: file disappeared before it could be read; skipped"]
    except PermissionError:
        return [f"{label}: permission denied; skipped"]
    except IsADirectoryError:
        return [f"{label}: is a directory, not an event file; skipped"]
    except OSError as exc:
        return [f"{label}: cannot be read ({exc.strerror or exc}); skipped"]
    except Exception as exc:  # noqa: BLE001 - remote backends raise their own exception types
        return [f"{label}: unexpected error while reading ({exc!r}); skipped the rest of this file"]


def _file_label(split: str | None, path: str) -> str:
    base = _basename(path)
    return f"{split}/{base}" if split else base


def _open_read_only(path: str) -> AbstractContextManager[BinaryIO]:
    """Binary read-only handle; fsspec for URLs so remote runs share the local code path."""
    if not is_url(path):
        return open(path, "rb")
    fs, inner = _url_to_fs(path)
    return fs.open(inner, "rb")


def select_runs(sources: list[RunSource], run_glob: str | None) -> list[RunSource]:
    """Runs whose name matches `run_glob` (case-sensitive on every OS, '*' crosses '/'); all if None."""
    if run_glob is None:
        return sources
    return [s for s in sources if fnmatch.fnmatchcase(s.name, run_glob)]


def iter_runs(logdir: str, run_glob: str | None = None) -> Iterator[RunData]:
    """Load runs one at a time so peak memory follows the largest run, not the whole logdir."""
    for source in select_runs(discover_runs(logdir), run_glob):
        yield load_run(source)
