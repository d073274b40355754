"""Tag names of the training-side signals, shared by the Keras callback and the analyzer.

The callback writes them (under the ``train/`` split folder, like Keras' own
TensorBoard callback); the analyzer finds them again in any `RunData`. Keeping
both sides on these names is the whole contract, so this module imports
nothing heavy: the analyzer and the TensorBoard plugin must work without
TensorFlow.

Layout, all under ``PREFIX``:

- ``batch_loss``, ``grad_norm``: one point per training step (raw per-batch
  loss, global gradient norm before clipping, unscaled under mixed precision).
- ``learning_rate``: at every logging window.
- ``window/<name>``: aggregates over each logging window (``grad_norm_max``,
  ``loss_max``, ``nonfinite_loss_steps``, ``nonfinite_grad_steps``,
  ``skipped_steps``, ``steps``), so that TensorBoard's sampling of ~1000 points
  per series cannot hide a spike or a NaN.
- ``layer/<stat>/<layer>``: per-layer values at each window (``grad_norm``
  mean over the window, ``nonfinite_grad_steps``, ``weight_norm``,
  ``update_ratio``, and probe-batch activation statistics ``act_mean``,
  ``act_std``, ``dead_fraction``, ``saturated_fraction``, ``act_nonfinite``).
- ``meta/<name>``: written once at step 0 (``num_classes``,
  ``expected_initial_loss``, ``batch_size``, ``num_params``,
  ``loss_scaled`` = 1 under a loss-scale optimizer, ``layer_index/<layer>``
  = position of the layer in the model, input side first).
- ``config``: a text summary of the set-up (optimizer, loss, batch size,
  dtype policy, XLA, replicas), for the Text tab.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from tb_recipe_plugin.analysis.series import Series

PREFIX = "tb_recipe"

BATCH_LOSS = f"{PREFIX}/batch_loss"
GRAD_NORM = f"{PREFIX}/grad_norm"
LEARNING_RATE = f"{PREFIX}/learning_rate"
CONFIG = f"{PREFIX}/config"  # a text summary: optimizer, loss, dtype policy... for people, not rules

WINDOW_STATS = ("steps", "grad_norm_max", "loss_max", "nonfinite_loss_steps", "nonfinite_grad_steps", "skipped_steps")
LAYER_STATS = (
    "grad_norm",
    "nonfinite_grad_steps",
    "weight_norm",
    "update_ratio",
    "act_mean",
    "act_std",
    "dead_fraction",
    "saturated_fraction",
    "act_nonfinite",
)
META = ("num_classes", "expected_initial_loss", "batch_size", "num_params", "loss_scaled")


def window_tag(name: str) -> str:
    return f"{PREFIX}/window/{name}"


def layer_tag(stat: str, layer: str) -> str:
    return f"{PREFIX}/layer/{stat}/{layer}"


def meta_tag(name: str) -> str:
    return f"{PREFIX}/meta/{name}"


def internal_part(tag: str) -> str | None:
    """``tb_recipe/...`` part of a display tag (which may carry a split prefix), else None."""
    parts = tag.split("/")
    try:
        i = parts.index(PREFIX)
    except ValueError:
        return None
    return "/".join(parts[i:])


@dataclass
class Internals:
    """The callback's series of one run, by meaning rather than by tag.

    ``layers`` is the model's layer order (input side first), recovered from
    the ``meta/layer_index/<layer>`` values the callback writes; rules compare
    the input-side and output-side layers.
    """

    batch_loss: Series | None = None
    grad_norm: Series | None = None
    learning_rate: Series | None = None
    window: dict[str, Series] = field(default_factory=dict)
    layer: dict[str, dict[str, Series]] = field(default_factory=dict)  # stat -> layer -> series
    meta: dict[str, float] = field(default_factory=dict)
    layers: list[str] = field(default_factory=list)

    def __bool__(self) -> bool:
        return bool(self.batch_loss or self.grad_norm or self.window or self.layer or self.meta)

    def per_layer(self, stat: str) -> dict[str, Series]:
        found = self.layer.get(stat, {})
        ordered = [name for name in self.layers if name in found]
        return {name: found[name] for name in ordered + sorted(set(found) - set(ordered))}


def find_internals(series: Mapping[str, Series]) -> Internals:
    """Collect the callback's series from a run's display tags."""
    out = Internals()
    for tag, s in series.items():
        part = internal_part(tag)
        if part is None:
            continue
        rest = part[len(PREFIX) + 1 :]
        if rest == "batch_loss":
            out.batch_loss = s
        elif rest == "grad_norm":
            out.grad_norm = s
        elif rest == "learning_rate":
            out.learning_rate = s
        elif rest.startswith("window/"):
            out.window[rest[len("window/") :]] = s
        elif rest.startswith("meta/"):
            if len(s) and s.values.size:
                out.meta[rest[len("meta/") :]] = float(s.values[0])
        elif rest.startswith("layer/"):
            stat, _, layer = rest[len("layer/") :].partition("/")
            if layer:
                out.layer.setdefault(stat, {})[layer] = s
    out.layers = _layer_order(out)
    return out


def _layer_order(found: Internals) -> list[str]:
    """Layers input side first, from the ``meta/layer_index/<layer>`` values the callback writes."""
    index = {k[len("layer_index/") :]: v for k, v in found.meta.items() if k.startswith("layer_index/")}
    names = set().union(*(d.keys() for d in found.layer.values())) if found.layer else set()
    return sorted(names, key=lambda n: (index.get(n, float("inf")), n))
