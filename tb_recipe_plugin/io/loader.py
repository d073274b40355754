"""Find the runs of a LOGDIR and load their scalar curves into `RunData`.

A run is a folder holding event files, named by its path relative to LOGDIR.
The Keras `TensorBoard` callback writes one run as `run/train/` and
`run/validation/` sub-folders; those split folders are folded into their parent
so train and validation curves of one training job are analysed together, each
tag prefixed by its split (`train/epoch_loss`, `validation/epoch_loss`).

Local paths use `os.scandir`/`open` (the fast path); anything with a URL scheme
(`gs://`, `s3://`, `memory://`, `file://`...) goes through fsspec. Nothing is
ever written to the logdir, and a bad file never aborts a run: it becomes a
message in `RunData.errors`. Nor is anything dropped silently: a folder the
walk cannot enter or examine (permission denied, a path longer than PATH_MAX,
a symbolic-link loop) becomes a run of its own carrying that message, so every
presenter shows it without knowing about discovery.
"""

from __future__ import annotations

import errno
import fnmatch
import os
import re
import stat
from collections import Counter
from collections.abc import Iterator
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from typing import Any, BinaryIO

from tb_recipe_plugin.analysis.series import RunData
from tb_recipe_plugin.io.event_reader import (
    HPARAMS_SESSION_START_TAG,
    ScalarCollector,
    read_event_stream,
)

EVENT_FILE_MARKER = "tfevents"
# Keras' `train/` and `validation/`, and the `train_inner/` (per update), `train/` (per epoch) and `valid/` writers
# of fairseq, among other split-per-folder layouts.
SPLIT_FOLDERS = frozenset({"train", "train_inner", "validation", "valid", "val", "eval", "test"})
ROOT_RUN = "."

_URL = re.compile(r"^[A-Za-z][A-Za-z0-9+.\-]*://")
_TIMESTAMP = re.compile(r"tfevents\.(\d+(?:\.\d+)?)")


class LogdirError(Exception):
    """LOGDIR cannot be used at all (missing, not a directory, unreadable); the CLI exits with code 2."""


@dataclass
class RunSource:
    """Event files of one run; `split` is the Keras split folder a file came from, or None.

    `errors` are problems met while discovering the run's folders (a folder
    that could not be read); `load_run` passes them on as the run's messages.
    """

    name: str
    files: list[tuple[str | None, str]] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    # Event files of a child folder that only records this run's hyperparameters (PyTorch's and tensorboardX's
    # `add_hparams` write into `<run>/<timestamp>/`): read for their HParams data, not as curves.
    hparams_files: list[str] = field(default_factory=list)
    # Configuration files beside the event files (`CONFIG_FILES`): read for the run's hyperparameters.
    config_files: list[str] = field(default_factory=list)


CONFIG_FILES = ("hparams.yaml", "args.yaml", "opt.yaml", "hyp.yaml")
"""Files that record a run's hyperparameters beside its event files: Lightning's `hparams.yaml`, Ultralytics'
`args.yaml`, YOLOv5's `opt.yaml` and `hyp.yaml`. Read (not parsed) by the loader, parsed by `sweep/hparams.py`."""
CONFIG_FILE_KEY = "file:"
"""`RunData.hparams` keys of configuration files: this prefix and the file name (no tag starts with it)."""
CONFIG_FILE_MAX = 1 << 18
"""A configuration file over 256 KiB is not a record of hyperparameters; it is skipped, with a message."""


@dataclass
class _Folder:
    """A folder found by the walk: event files in it, and messages about what could not be examined."""

    rel: str  # relative to LOGDIR, '/'-separated
    events: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    configs: list[str] = field(default_factory=list)  # `CONFIG_FILES` found in it


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
    for folder in folders:
        name, split = run_of_folder(folder.rel)
        source = runs.setdefault(name, RunSource(name))
        source.files.extend((split, path) for path in folder.events)
        source.errors.extend(folder.errors)
        if folder.events:
            source.config_files.extend(sorted(folder.configs))
    for source in runs.values():
        source.files.sort(key=lambda item: _file_order(item[1]))
    _fold_hparams_children(runs)
    return [runs[name] for name in sorted(runs)]


HPARAMS_CHILD_MAX_BYTES = 1 << 20
"""A child folder is read at discovery to see whether it only records hyperparameters when its event files hold at
most 1 MiB together (`add_hparams` writes a few hundred bytes); larger folders are runs of their own."""


def _fold_hparams_children(runs: dict[str, RunSource]) -> None:
    """Fold `<run>/<child>` into `<run>` when the child's event files hold HParams session data and no curve of more
    than one point: what PyTorch's and tensorboardX's `add_hparams` write (the hyperparameters and one value per
    metric, in a child folder named by a timestamp). TensorBoard lists such a child as a run of its own; users
    expect the hyperparameters on the run they trained. And drop a folder above other runs whose event files only
    declare the HParams experiment (`hp.hparams_config` at a sweep's root, as TensorFlow's HParams tutorial
    writes it): no run of its own. Local logdirs only (a remote check would cost a download)."""
    from tb_recipe_plugin.hparams_child import experiment_record, hparams_parent

    below: Counter[str] = Counter()  # folder -> runs below it, kept current as children are folded away
    for name in runs:
        below.update(_ancestors(name))
    for name in sorted(runs, key=len, reverse=True):  # children first: a parent sees its folded children gone
        source = runs.get(name)
        # the rules' cheap parts first (a parent, or runs below; no split folder), before opening any file
        child = hparams_parent(name, runs, [HPARAMS_SESSION_START_TAG], 0) is not None
        if source is None or source.errors or not (child or below[name]):
            continue
        paths = [path for _, path in source.files]
        if any(is_url(path) for path in paths) or not _small(paths):
            continue
        collector = ScalarCollector()
        for split, path in source.files:
            _read_file(collector, split, path)
        longest = max((len(set(s.steps.tolist())) for s in collector.to_series().values()), default=0)
        parent = hparams_parent(name, runs, collector.hparams, longest)
        if parent is not None:
            runs[parent].hparams_files.extend(paths)
        elif not (below[name] and experiment_record(collector.hparams, longest)):
            continue
        del runs[name]
        below.subtract(_ancestors(name))


def _ancestors(name: str) -> list[str]:
    """The folders a run lies in, up to the logdir itself (`ROOT_RUN`)."""
    if name == ROOT_RUN:
        return []
    parts = name.split("/")
    return [ROOT_RUN] + ["/".join(parts[:i]) for i in range(1, len(parts))]


def _small(paths: list[str]) -> bool:
    try:
        return sum(os.stat(path).st_size for path in paths) <= HPARAMS_CHILD_MAX_BYTES
    except OSError:
        return False


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


def _local_event_folders(logdir: str) -> list[_Folder]:
    """Every folder under `logdir` that holds event files or could not be examined.

    Iterative scandir walk: DirEntry caches the file type, so a huge logdir
    costs one listing per folder; symlinked folders are followed but each real
    folder is entered once, so a symlink loop cannot trap the walk.
    """
    root = os.path.normpath(os.path.expanduser(logdir))
    root_stat = _check_local_root(logdir, root)
    found: list[_Folder] = []
    seen = {(root_stat.st_dev, root_stat.st_ino)}
    stack = [(root, ROOT_RUN)]
    while stack:
        path, rel = stack.pop()
        folder, subfolders = _scan_folder(path, rel)
        if folder.events or folder.errors:
            found.append(folder)
        for sub_path, sub_name in subfolders:
            sub_rel = sub_name if rel == ROOT_RUN else f"{rel}/{sub_name}"
            try:
                st = os.stat(sub_path)
            except FileNotFoundError:  # vanished since the listing
                continue
            except OSError as exc:
                found.append(_Folder(sub_rel, errors=[_folder_message(sub_rel, exc)]))
                continue
            key = (st.st_dev, st.st_ino)
            if key not in seen:
                seen.add(key)
                stack.append((sub_path, sub_rel))
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


def _scan_folder(path: str, rel: str) -> tuple[_Folder, list[tuple[str, str]]]:
    """Event files and sub-folders of one folder; what cannot be examined becomes a message."""
    folder = _Folder(rel)
    subfolders: list[tuple[str, str]] = []
    try:
        with os.scandir(path) as entries:
            for entry in entries:
                try:
                    if entry.is_dir():
                        subfolders.append((entry.path, entry.name))
                    elif EVENT_FILE_MARKER in entry.name and not entry.is_file() and entry.is_symlink():
                        folder.errors.append(f"{_shown(entry.name)}: symbolic link to a missing file; skipped")
                    elif EVENT_FILE_MARKER in entry.name and entry.is_file():
                        folder.events.append(entry.path)
                    elif entry.name in CONFIG_FILES and entry.is_file():
                        folder.configs.append(entry.path)
                except FileNotFoundError:  # vanished since the listing
                    continue
                except OSError as exc:
                    folder.errors.append(f"{_shown(entry.name)}: cannot be examined ({_reason(exc)}); skipped")
    except FileNotFoundError:
        pass  # vanished since its parent was listed
    except OSError as exc:
        folder.errors.append(_folder_message(rel, exc))
    return folder, subfolders


def _folder_message(rel: str, exc: Exception) -> str:
    return (
        f"folder {_shown(rel)} could not be read ({_reason(exc)}); event files under it, if any, are not in this report"
    )


def _reason(exc: Exception) -> str:
    """The OS error in words a user can act on."""
    if not isinstance(exc, OSError):
        return f"{type(exc).__name__}: {exc}"
    text = exc.strerror or str(exc)
    if exc.errno == errno.ENAMETOOLONG:
        return f"its path is longer than the operating system allows: {text}"
    if exc.errno == errno.ELOOP:
        return f"a loop of symbolic links: {text}"
    return text


_SHOWN = 200  # longest folder path quoted whole in a message (the run's name has it in full)


def _shown(rel: str) -> str:
    """A path for a message: a path longer than PATH_MAX is abbreviated, with its length."""
    if len(rel) <= _SHOWN:
        return rel
    return f"{rel[:60]}...{rel[-60:]} ({len(rel)} characters)"


def _remote_event_folders(logdir: str) -> list[_Folder]:
    """Same as the local walk through fsspec; `find` is one flat listing on object stores."""
    fs, root = _url_to_fs(logdir)
    root = root.rstrip("/") or "/"
    failures: list[tuple[str, Exception]] = []
    try:
        if not fs.exists(root):
            raise LogdirError(f"logdir {logdir!r} does not exist")
        if not fs.isdir(root):
            raise LogdirError(f"logdir {logdir!r} is not a directory")
        paths = _find(fs, root, failures)
    except LogdirError:
        raise
    except Exception as exc:  # noqa: BLE001 - every backend raises its own types
        raise LogdirError(f"logdir {logdir!r} cannot be listed: {exc}") from None
    folders: dict[str, _Folder] = {}
    prefix = root.rstrip("/") + "/"
    for path in sorted(paths):
        folder, _, base = path.rpartition("/")
        if EVENT_FILE_MARKER not in base:
            continue
        rel = (folder[len(prefix) :] if folder.startswith(prefix) else ROOT_RUN) or ROOT_RUN
        folders.setdefault(rel, _Folder(rel)).events.append(fs.unstrip_protocol(path))
    for failed, exc in failures:
        rel = failed[len(prefix) :] if failed.startswith(prefix) else ROOT_RUN
        folders.setdefault(rel, _Folder(rel)).errors.append(_folder_message(rel, exc))
    return list(folders.values())


def _find(fs: Any, root: str, failures: list[tuple[str, Exception]]) -> list[str]:
    """All file paths under `root`.

    Backends with their own `find` (object stores: one flat listing) report a
    failure by raising, which makes the whole logdir unreadable. For the rest
    (local `file://`, `memory://`...) the generic `find` would silently omit
    every folder it cannot list (its `on_error` does not reach sub-folders),
    so the tree is walked here and each failure is kept with its folder.
    """
    from fsspec.spec import AbstractFileSystem

    if type(fs).find is not AbstractFileSystem.find:
        return fs.find(root, withdirs=False, detail=False)
    files: list[str] = []
    stack = [root]
    while stack:
        folder = stack.pop()
        try:
            listing = fs.ls(folder, detail=True)
        except FileNotFoundError:  # vanished since its parent was listed
            continue
        except Exception as exc:  # noqa: BLE001 - every backend raises its own types
            failures.append((folder, exc))
            continue
        for info in listing:
            name = info["name"].rstrip("/")
            if name == folder:
                continue
            (stack if info["type"] == "directory" else files).append(name)
    return files


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
    errors = list(source.errors)
    for split, path in source.files:
        errors.extend(_read_file(collector, split, path))
    hparams = dict(collector.hparams)
    for path in source.hparams_files:
        child = ScalarCollector()
        errors.extend(_read_file(child, None, path))
        for tag, content in child.hparams.items():
            hparams.setdefault(tag, content)  # the run's own HParams data, if it has any, comes first
    for path in source.config_files:
        content, error = read_config(path)
        if content is not None:
            hparams[CONFIG_FILE_KEY + os.path.basename(path)] = content
        if error:
            errors.append(error)
    return RunData(name=source.name, series=collector.to_series(), errors=errors, hparams=hparams)


def read_config(path: str) -> tuple[bytes | None, str | None]:
    """A configuration file's bytes, or a message saying why it was not read."""
    name = _shown(os.path.basename(path))
    try:
        with open(path, "rb") as f:
            content = f.read(CONFIG_FILE_MAX + 1)
    except OSError as exc:
        return None, f"{name}: cannot be read ({_reason(exc)}); hyperparameters not taken from it"
    if len(content) > CONFIG_FILE_MAX:
        return None, f"{name}: larger than {CONFIG_FILE_MAX >> 10} KiB; hyperparameters not taken from it"
    return content, None


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
