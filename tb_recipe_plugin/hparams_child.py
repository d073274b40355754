"""Which run folder only records another run's hyperparameters: one rule for the CLI's loader and the tab.

PyTorch's and tensorboardX's `add_hparams` write the hyperparameters, and one
value per metric, into a child folder of the run named by a timestamp
(``<run>/<timestamp>/``). TensorBoard lists that child as a run of its own;
users expect the hyperparameters on the run they trained, and a sweep of N runs
must not show 2N. The CLI's loader (which reads event files) and the tab's
service (which asks TensorBoard's data provider) both fold such a child into
its parent, and decide it here so the two cannot drift apart. Each adds only
its own cost guards: the loader opens no child over 1 MiB and no remote one at
discovery, while the tab's data is already in TensorBoard's memory.

Pure: no I/O, and nothing imported at module level but a tag name, so the
loader can use it without an import cycle.
"""

from __future__ import annotations

from collections.abc import Collection, Container

from tb_recipe_plugin.io.event_reader import HPARAMS_EXPERIMENT_TAG, HPARAMS_SESSION_START_TAG


def hparams_parent(name: str, runs: Container[str], hparams_tags: Collection[str], longest_curve: int) -> str | None:
    """The run that the run folder `name` only records hyperparameters for, or None when it is a run of its own.

    `runs`: the run names found (the parent must be one); `hparams_tags`: the HParams plugin tags of `name`'s own
    event files; `longest_curve`: the most points (distinct steps) any scalar series of `name` has. A child is
    folded when it holds HParams session data (``_hparams_/session_start_info``) and no curve of more than one
    point (the metric values `add_hparams` writes once), and is not a Keras-style split folder (``train/``...),
    which is part of its parent's run in its own right.
    """
    from tb_recipe_plugin.io.loader import SPLIT_FOLDERS  # the loader may import this module

    parent, _, child = name.rpartition("/")
    if not parent or parent not in runs or child in SPLIT_FOLDERS:
        return None
    if HPARAMS_SESSION_START_TAG not in hparams_tags or longest_curve > 1:
        return None
    return parent


def experiment_record(hparams_tags: Collection[str], longest_curve: int) -> bool:
    """Whether a run folder with runs below it only declares an HParams experiment for them: TensorFlow's HParams
    API writes `hp.hparams_config` (``_hparams_/experiment``) into the sweep's root folder, beside no curve and no
    session of its own. Such a folder is no run (a "run" with no data would be listed in every report).
    TensorBoard does not list it among its scalar runs, so only the CLI's loader needs this rule."""
    return (
        HPARAMS_EXPERIMENT_TAG in hparams_tags
        and HPARAMS_SESSION_START_TAG not in hparams_tags
        and longest_curve <= 1
    )
