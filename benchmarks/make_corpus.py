"""Generate the labelled accuracy corpus: real Keras runs with injected training faults.

    python benchmarks/make_corpus.py                    # all runs into benchmarks/_data/corpus/
    python benchmarks/make_corpus.py --out DIR          # elsewhere
    python benchmarks/make_corpus.py --only noisy/      # runs whose name contains a substring
    python benchmarks/make_corpus.py --relabel          # re-read curves and rewrite labels.json only
    python benchmarks/make_corpus.py --force            # retrain even the finished runs

Why real runs: synthetic curves in the unit tests have the shapes their author
imagined; a small but real `model.fit` has the quirks the analyzer must cope
with (epoch-mean train loss, dropout lifting train above validation, clipped
cross-entropy, NaN propagation, Keras' own event layout).

Labels describe the curves, not the intent. After a run is trained its event
files are read back with TensorBoard's `EventAccumulator`; `observe()` checks
each pattern with simple, readable criteria a person would apply looking at the
plot, and `label()` turns that into expected / acceptable / forbidden codes. An
injected fault that did not show is relabelled (and the notes say so). These
criteria are independent of the analyzer's rules on purpose: the corpus is the
yardstick, it must not be derived from what is being measured.

Generation is resumable: a run folder holding `.complete.json` with the recipe's
fingerprint is skipped; anything else in it is deleted and retrained.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

HERE = Path(__file__).resolve().parent
if str(HERE.parent) not in sys.path:
    sys.path.insert(0, str(HERE.parent))

from benchmarks.corpus_faults import FAMILY_ACCEPTABLE, FAMILY_CODE, RECIPES, Recipe  # noqa: E402

DEFAULT_OUT = HERE / "_data" / "corpus"
MARKER = ".complete.json"
LABELS = "labels.json"

# Findings a healthy run must never get; severity "error" in the catalogue.
HEALTH_CODES = ("nonfinite_loss", "divergence", "no_learning")

# Codes that are unmistakable on a plot once the criterion below holds
# strongly, so they become `expected` whatever fault was injected.
DEFINITE = (
    "nonfinite_loss",
    "divergence",
    "no_learning",
    "overfitting",
    "val_better_than_train",
    "best_checkpoint_mismatch",
)


# --------------------------------------------------------------------------- training


def _tf_setup() -> None:
    """Quiet, and gentle with the two shared cores."""
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    os.environ.setdefault("KERAS_BACKEND", "tensorflow")
    import tensorflow as tf

    try:
        tf.config.threading.set_intra_op_parallelism_threads(2)
        tf.config.threading.set_inter_op_parallelism_threads(1)
    except RuntimeError:  # already initialised: keep whatever was set
        pass
    tf.get_logger().setLevel("ERROR")


def train(recipe: Recipe, run_dir: Path) -> dict[str, Any]:
    """Fit one recipe with the Keras TensorBoard callback writing into `run_dir`."""
    import keras

    from benchmarks.corpus_faults import build_job

    keras.backend.clear_session()
    job = build_job(recipe)
    tb = keras.callbacks.TensorBoard(
        log_dir=str(run_dir), histogram_freq=0, write_graph=False, update_freq=job.update_freq
    )
    d = job.data
    t0 = time.time()
    job.model.fit(
        d.x_train,
        d.y_train,
        validation_data=(d.x_val, d.y_val),
        epochs=job.epochs,
        batch_size=job.batch_size,
        callbacks=[*job.callbacks, tb],
        verbose=0,
        shuffle=True,
    )
    return {
        "fingerprint": recipe.fingerprint(),
        "seconds": round(time.time() - t0, 2),
        "task": d.task,
        "n_classes": d.n_classes,
        "chance_acc": d.chance_acc,
        "y_var": d.y_var,
        "n_train": int(len(d.x_train)),
        "n_val": int(len(d.x_val)),
        "steps_per_epoch": int(np.ceil(len(d.x_train) / job.batch_size)),
    }


# --------------------------------------------------------------------------- reading


def read_scalars(run_dir: Path) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """{"train/epoch_loss": (steps, values), ...} for a Keras run folder, via EventAccumulator."""
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator
    from tensorboard.util import tensor_util

    out: dict[str, tuple[np.ndarray, np.ndarray]] = {}
    for split in ("train", "validation"):
        path = run_dir / split
        if not path.is_dir():
            continue
        ea = EventAccumulator(str(path), size_guidance={"tensors": 0, "scalars": 0})
        ea.Reload()
        tags = ea.Tags()
        for tag in tags.get("tensors", []):
            evs = ea.Tensors(tag)
            vals = [float(np.asarray(tensor_util.make_ndarray(e.tensor_proto)).reshape(-1)[0]) for e in evs]
            out[f"{split}/{tag}"] = (np.array([e.step for e in evs]), np.array(vals))
        for tag in tags.get("scalars", []):
            evs = ea.Scalars(tag)
            out[f"{split}/{tag}"] = (np.array([e.step for e in evs]), np.array([e.value for e in evs]))
    return out


# --------------------------------------------------------------------------- observing


@dataclass
class Obs:
    """What the curves show: code -> "strong" | "weak", plus the numbers for the notes."""

    patterns: dict[str, str] = field(default_factory=dict)
    facts: list[str] = field(default_factory=list)
    improved: float = 0.0  # fraction of the initial train loss removed at best
    meaningful_metric: bool = False  # validation accuracy got well above chance
    ends_at_chance: bool = False  # last validation accuracy within 5 points of chance

    def mark(self, code: str, strong: bool, weak: bool) -> None:
        if strong:
            self.patterns[code] = "strong"
        elif weak:
            self.patterns[code] = "weak"


def _g(x: float) -> str:
    return f"{x:.4g}"


def _tail(v: np.ndarray, frac: float) -> tuple[float, float]:
    """Fitted change over the last `frac` of the run: (fraction of the total drop, fraction of the level).

    A least-squares line through the tail, not end-point differences, so one
    noisy last evaluation does not decide whether a curve is flat. Positive
    means improving (falling).
    """
    n = v.size
    k = max(3, int(np.ceil(n * frac)))
    k = min(k, n)
    x = np.arange(k, dtype=float)
    fit = np.polyfit(x, v[-k:], 1)
    change = -float(fit[0]) * (k - 1)
    total = float(np.max(v[: max(1, n // 10 + 1)]) - np.min(v))
    level = abs(float(np.polyval(fit, k - 1)))
    return change / max(total, 1e-12), change / max(level, 1e-12)


def _wiggle(v: np.ndarray) -> tuple[float, float, float]:
    """How jagged a curve is: (swing / visible range, swing / level, share of direction flips).

    The swing is the median distance of a point from the midpoint of its
    neighbours (zero on any straight or smoothly bending curve); the visible
    range leaves out the first tenth of the run, where the initial drop would
    make every later wiggle look small.
    """
    d2 = np.abs(v[1:-1] - (v[:-2] + v[2:]) / 2)
    swing = float(np.median(d2))
    body = v[max(1, v.size // 10) :]
    signs = np.sign(np.diff(v))
    signs = signs[signs != 0]
    flips = float(np.mean(signs[1:] != signs[:-1])) if signs.size > 2 else 0.0
    return swing / max(float(np.ptp(body)), 1e-12), swing / max(abs(float(np.median(body))), 1e-12), flips


def observe(sc: dict[str, tuple[np.ndarray, np.ndarray]], meta: dict[str, Any]) -> Obs:
    """Check each pattern with the criteria a person would apply to the TensorBoard plot."""
    o = Obs()
    empty = (np.array([]), np.array([]))
    tl = sc.get("train/epoch_loss", empty)[1]
    vl = sc.get("validation/epoch_loss", empty)[1]
    acc_tag = next((k for k in sc if k.startswith("validation/epoch_") and "accuracy" in k), None)
    tacc_tag = acc_tag.replace("validation/", "train/") if acc_tag else None
    va = sc[acc_tag][1] if acc_tag else None
    ta = sc[tacc_tag][1] if tacc_tag and tacc_tag in sc else None
    lr = sc.get("train/epoch_learning_rate", empty)[1]
    n = tl.size
    o.facts.append(f"{n} epochs")

    # --- non-finite: any NaN/Inf in a loss curve
    bad_t = ~np.isfinite(tl)
    bad_v = ~np.isfinite(vl)
    if bad_t.any() or bad_v.any():
        first = int(np.argmax(bad_t)) if bad_t.any() else int(np.argmax(bad_v))
        o.facts.append(
            f"train loss non-finite on {int(bad_t.sum())}/{n} epochs, val on {int(bad_v.sum())}/{vl.size}, "
            f"first at epoch {first} ({tl[first] if bad_t.any() else vl[first]})"
        )
        o.mark("nonfinite_loss", True, True)
        fin = tl[: first if bad_t.any() else n]
        if fin.size >= 3:
            m = int(np.argmin(fin))
            o.facts.append(f"finite train loss {_g(fin[0])} -> min {_g(fin[m])}@{m} -> {_g(fin[-1])} before")
            if fin[-1] > 1.3 * fin[m] and m < fin.size - 1:
                o.mark("divergence", False, True)
        return o
    if n < 3:
        return o

    t0, tmin, tlast = float(tl[0]), float(tl.min()), float(tl[-1])
    it = int(np.argmin(tl))
    o.improved = (t0 - tmin) / max(abs(t0), 1e-12)
    o.facts.append(f"train loss {_g(t0)} -> {_g(tlast)} (min {_g(tmin)}@{it})")
    has_val = vl.size >= 3
    v0 = vmin = vlast = 0.0
    iv = 0
    if has_val:
        v0, vmin, vlast = float(vl[0]), float(vl.min()), float(vl[-1])
        iv = int(np.argmin(vl))
        o.facts.append(f"val loss {_g(v0)} -> {_g(vlast)} (min {_g(vmin)}@{iv})")
    if va is not None and va.size:
        txt = f"val acc {va[0]:.3f} -> {va[-1]:.3f} (best {va.max():.3f}@{int(np.argmax(va))})"
        o.facts.append(txt + (f", train acc -> {ta[-1]:.3f}" if ta is not None else ""))
    y_var = meta.get("y_var") if meta.get("task") == "regression" else None
    if y_var:
        o.facts.append(f"train R2 {1 - tlast / y_var:.3f}" + (f", val R2 {1 - vlast / y_var:.3f}" if has_val else ""))
    chance = meta.get("chance_acc")
    o.meaningful_metric = va is not None and chance is not None and float(va.max()) >= chance + 0.2
    o.ends_at_chance = va is not None and chance is not None and float(va[-1]) <= chance + 0.05

    # --- divergence: fell, then rose well above the minimum and stayed there
    if it < n - 2:
        rise = (tlast - tmin) / max(abs(tmin), 1e-12)
        tail_high = float(np.min(tl[-max(2, n // 5) :])) > tmin * 1.4
        drop = max(t0 - tmin, 0.0)
        o.mark(
            "divergence",
            rise >= 0.5 and tail_high and (tlast - tmin) > 0.5 * drop,
            rise >= 0.3 and (tlast - tmin) > 0.2 * drop,
        )
        if rise >= 0.3:
            o.facts.append(f"train loss rose {100 * rise:.0f}% above its minimum at epoch {it}")

    # --- no learning: train loss did not move; or barely moved with accuracy at chance
    at_chance = va is not None and chance is not None and float(va.max()) <= chance + 0.05
    o.mark(
        "no_learning",
        o.improved < 0.01 or (o.improved < 0.05 and at_chance),
        o.improved < 0.03 or (o.improved < 0.1 and at_chance),
    )
    if "no_learning" in o.patterns:
        o.facts.append(
            f"train loss improved only {100 * o.improved:.1f}%" + (" (val acc at chance)" if at_chance else "")
        )

    if has_val:
        # --- overfitting: validation U-shape (fell, then rose and stayed up) while training keeps falling
        vrise = (vlast - vmin) / max(abs(vmin), 1e-12)
        vfell = (v0 - vmin) / max(abs(v0), 1e-12)
        sustained = float(np.median(vl[-max(2, n // 5) :])) > vmin * 1.08
        train_fell = tl[-1] < tl[min(iv, n - 1)] * 0.9
        o.mark(
            "overfitting",
            vrise >= 0.15 and sustained and 1 <= iv <= 0.75 * (n - 1) and vfell >= 0.03 and train_fell,
            vrise >= 0.05 and iv < n - 2,
        )
        if vrise >= 0.05:
            o.facts.append(f"val loss rose {100 * vrise:.0f}% above its minimum (epoch {iv})")

        # --- val plateau: train still falling over the second half, val flat there
        h = n // 2
        tail_v = vl[h:]
        spread = float(tail_v.max() - tail_v.min()) / max(abs(vmin), 1e-12)
        t_fall = (tl[h] - tlast) / max(abs(tl[h]), 1e-12)
        v_gain = (vl[h] - vlast) / max(abs(vl[h]), 1e-12)
        o.mark(
            "val_plateau",
            t_fall >= 0.2 and spread <= 0.06 and v_gain < 0.03 and n >= 10,
            t_fall >= 0.1 and spread <= 0.12 and v_gain < 0.05 and n >= 8,
        )
        o.facts.append(
            f"2nd half: train {-100 * t_fall:+.0f}%, val {-100 * v_gain:+.1f}% (spread {100 * spread:.1f}% of its min)"
        )

        # --- val better than train (only meaningful once something is learned)
        below = vl < tl * 0.95
        clearly = vl < tl * 0.9
        frac_below = float(below.mean())
        o.mark(
            "val_better_than_train",
            float(clearly.mean()) >= 0.9 and bool(clearly[-max(1, n // 5) :].all()) and o.improved >= 0.2,
            frac_below >= 0.5,
        )
        if frac_below >= 0.5:
            o.facts.append(f"val loss < 0.95 x train loss on {100 * frac_below:.0f}% of epochs")

        # --- data problem: train improves a lot, validation never clearly better than at first
        v_improved = (v0 - vmin) / max(abs(v0), 1e-12)
        acc_stuck = (
            va is not None
            and chance is not None
            and ta is not None
            and float(va.max()) <= chance + 0.1
            and float(ta[-1]) >= chance + 0.3
        )
        o.mark(
            "data_problem",
            o.improved >= 0.3 and (v_improved < 0.05 or acc_stuck),
            o.improved >= 0.2 and v_improved < 0.15,
        )
        if "data_problem" in o.patterns:
            o.facts.append(f"val loss improved only {100 * v_improved:.1f}%, train {100 * o.improved:.0f}%")

        # --- best checkpoint mismatch (loss-best vs metric-best epoch)
        if va is not None and va.size == vl.size:
            ia = int(np.argmax(va))
            loss_best_acc = float(va[iv])
            gap = abs(ia - iv)
            o.mark(
                "best_checkpoint_mismatch",
                gap >= max(5, 0.25 * n) and float(va.max()) - loss_best_acc >= 0.02,
                gap >= max(2, 0.1 * n) and float(va.max()) - loss_best_acc >= 0.005,
            )
            if gap >= 2:
                o.facts.append(f"val loss best @{iv} (acc {loss_best_acc:.3f}) vs val acc best @{ia}")

    # --- plateau: early improvement, then the last 40% flat for train and val
    tg, _ = _tail(tl, 0.4)
    flat_v = True
    if has_val:
        vg, vg_level = _tail(vl, 0.4)
        flat_v = abs(vg) <= 0.05 or abs(vg_level) <= 0.02
    o.mark(
        "plateau",
        abs(tg) <= 0.02 and flat_v and o.improved >= 0.2 and n >= 10,
        abs(tg) <= 0.05 and o.improved >= 0.1 and n >= 8,
    )
    o.facts.append(f"last 40%: train changed {100 * tg:.1f}% of its drop")

    # --- still learning: both curves still clearly falling at the end, val at its best
    k4 = max(3, int(np.ceil(n * 0.25)))
    avg_rate = max(t0 - tmin, 1e-12) / (n - 1)
    t_rate = (tl[-k4] - tl[-1]) / (k4 - 1)
    _, t_rel = _tail(tl, 0.25)
    # Relative change alone would call a loss creeping from 4e-4 to 3e-4 "still learning": on the
    # linear plot that is flat, so a relative change must come with a visible rate too.
    t_ratio = t_rate / avg_rate
    t_still = t_ratio >= 0.3 or (t_rel >= 0.15 and t_ratio >= 0.1)
    t_weak = t_ratio >= 0.15 or (t_rel >= 0.07 and t_ratio >= 0.05)
    v_still = True
    if has_val:
        v_rate = (vl[-k4] - vl[-1]) / (k4 - 1)
        _, v_rel = _tail(vl, 0.25)
        v_avg = max(v0 - vmin, 1e-12) / (n - 1)
        v_still = iv >= n - 2 and (v_rate / v_avg >= 0.3 or v_rel >= 0.1)
    o.mark("still_learning", t_still and v_still and o.improved >= 0.1, t_weak and o.improved >= 0.05)
    if t_weak:
        o.facts.append(f"last 25%: train falling at {t_rate / avg_rate:.2f}x its average rate ({100 * t_rel:.0f}%)")

    # --- LR too small: an almost straight, unsaturated decrease
    if n >= 6 and t0 > tlast:
        x = np.arange(n, dtype=float)
        p = np.polyfit(x, tl, 1)
        r2 = 1 - float(np.sum((tl - np.polyval(p, x)) ** 2)) / max(float(np.sum((tl - tl.mean()) ** 2)), 1e-30)
        h = n // 2
        s1 = (tl[0] - tl[h]) / h
        s2 = (tl[h] - tl[-1]) / (n - 1 - h)
        ratio = s2 / s1 if s1 > 0 else 0.0
        total = (t0 - tlast) / max(abs(t0), 1e-12)
        o.mark(
            "lr_too_small",
            r2 >= 0.98 and ratio >= 0.6 and total >= 0.05,
            r2 >= 0.95 and ratio >= 0.4,
        )
        o.facts.append(f"straight-line fit R2 {r2:.3f}, 2nd/1st half slope {ratio:.2f}, total drop {100 * total:.1f}%")

    # --- noisy: point-to-point swings that are large against the visible range and the level
    for tag in ("train/epoch_loss", "validation/epoch_loss", "train/batch_loss"):
        if tag not in sc or sc[tag][1].size < 8 or not np.all(np.isfinite(sc[tag][1])):
            continue
        w_range, w_level, flips = _wiggle(sc[tag][1])
        o.facts.append(
            f"{tag} swing {100 * w_range:.0f}% of range, {100 * w_level:.1f}% of level, flips {100 * flips:.0f}%"
        )
        o.mark(
            "noisy_loss",
            w_range >= 0.12 and w_level >= 0.05 and flips >= 0.45,
            w_range >= 0.06 and w_level >= 0.02 and flips >= 0.35,
        )

    # --- LR decayed too early: LR under 10% of its peak within the first third while the loss was improving
    if lr.size == n and lr.max() > 0:
        ip = int(np.argmax(lr))
        peak = float(lr[ip])
        low = np.nonzero(lr[ip:] < 0.1 * peak)[0]
        if low.size:
            d = ip + int(low[0])
            o.facts.append(f"LR {lr[0]:.3g} -> {lr[-1]:.3g}, below 10% of its peak from epoch {d}")
            if d >= 2:
                before = (tl[d - 2] - tl[d - 1]) / max(abs(tl[d - 1]), 1e-12)
                after = (tl[d] - tlast) / max(abs(tl[d]), 1e-12)
                o.facts.append(f"train loss fell {100 * before:.1f}% in the epoch before, {100 * after:.1f}% after")
                o.mark(
                    "lr_decay_too_early",
                    d <= 0.35 * n and before >= 0.05 and after < 0.05,
                    d <= 0.5 * n and before >= 0.02 and after < 0.15,
                )

    # --- underfitting: train levelled off at a poor level, no train/val gap, something was learned
    if has_val and n >= 8:
        gap = abs(vlast - tlast) / max(abs(tlast), 1e-12)
        levelled = abs(_tail(tl, 0.3)[0]) <= 0.1
        if y_var:
            r2_train = 1 - tlast / y_var
            poor, very_poor = r2_train < 0.85, r2_train < 0.8
        elif ta is not None and chance is not None:
            skill = (float(ta[-1]) - chance) / (1 - chance)  # 0 at chance, 1 perfect
            poor, very_poor = skill < 0.85, skill < 0.8
        else:
            poor = very_poor = False
        learned = o.improved >= 0.1
        o.mark(
            "underfitting",
            very_poor and levelled and gap <= 0.15 and learned,
            poor and gap <= 0.25 and learned and abs(_tail(tl, 0.3)[0]) <= 0.2,
        )
        o.facts.append(f"final train/val gap {100 * gap:.0f}%")
    return o


# --------------------------------------------------------------------------- labelling


def label(recipe: Recipe, obs: Obs) -> dict[str, Any]:
    """Expected only for what is unmistakable; anything merely visible is acceptable."""
    primary = FAMILY_CODE[recipe.family]
    expected: set[str] = set()
    acceptable: set[str] = set(FAMILY_ACCEPTABLE[recipe.family]) | set(recipe.acceptable)
    relabel: list[str] = []
    if primary is not None:
        level = obs.patterns.get(primary)
        if level == "strong":
            expected.add(primary)
        elif level == "weak":
            acceptable.add(primary)
            relabel.append(f"{primary} only weakly visible: acceptable, not expected")
        else:
            relabel.append(f"injected {primary} not visible in the curves: not labelled")
    jittery = obs.patterns.get("noisy_loss") == "strong"
    for code in DEFINITE:
        if code == "best_checkpoint_mismatch" and (not obs.meaningful_metric or "noisy_loss" in obs.patterns):
            continue  # peaks of a chance-level or jittery accuracy are noise, not a checkpoint choice
        if jittery and code not in HEALTH_CODES and code != primary:
            continue  # on a very noisy curve a U-shape or a gap is a reading, not a certainty
        if obs.patterns.get(code) == "strong" and code not in expected:
            if recipe.family == "healthy" and code not in HEALTH_CODES:
                relabel.append(f"{code} is visible: no longer healthy")
            expected.add(code)
    if "divergence" in expected and obs.ends_at_chance:
        acceptable.add("no_learning")  # after the blow-up the model sits at chance: nothing is learned any more
    if "nonfinite_loss" in expected:
        # A NaN run's other curve shapes are not worth scoring.
        acceptable |= {"divergence", "loss_spikes", "noisy_loss"}
    # The observed but not unmistakable patterns: acceptable.
    for code in obs.patterns:
        if code not in expected:
            acceptable.add(code)
    forbidden: set[str] = set()
    if "nonfinite_loss" not in obs.patterns:
        forbidden.add("nonfinite_loss")
    if "divergence" not in obs.patterns and "nonfinite_loss" not in obs.patterns:
        forbidden.add("divergence")
    if "no_learning" not in obs.patterns and obs.improved >= 0.2:
        forbidden.add("no_learning")
    if recipe.family == "healthy" and "overfitting" not in obs.patterns:
        forbidden.add("overfitting")
    if "no_learning" in expected:
        forbidden |= {"overfitting", "still_learning", "lr_too_small"} - acceptable
    acceptable -= expected
    forbidden -= expected | acceptable
    notes = f"{recipe.family}: {recipe.injected}. Observed: " + "; ".join(obs.facts)
    if relabel:
        notes += ". Relabelled: " + "; ".join(relabel)
    return {
        "run": recipe.name,
        "family": recipe.family,
        "expected": sorted(expected),
        "acceptable": sorted(acceptable),
        "forbidden": sorted(forbidden),
        "notes": notes,
    }


# --------------------------------------------------------------------------- driver


def is_complete(run_dir: Path, recipe: Recipe) -> dict[str, Any] | None:
    marker = run_dir / MARKER
    if not marker.is_file():
        return None
    try:
        meta = json.loads(marker.read_text())
    except (OSError, json.JSONDecodeError):
        return None
    return meta if meta.get("fingerprint") == recipe.fingerprint() else None


def generate(
    out: Path = DEFAULT_OUT, only: list[str] | None = None, force: bool = False, relabel_only: bool = False
) -> list[dict[str, Any]]:
    """Train what is missing, then (re)write labels.json for every finished run. Returns the labels."""
    out.mkdir(parents=True, exist_ok=True)
    recipes = [r for r in RECIPES if not only or any(s in r.name for s in only)]
    todo = [r for r in recipes if force or is_complete(out / r.name, r) is None]
    if relabel_only:
        todo = []
    if not only:  # drop runs of recipes that no longer exist, so the corpus is exactly RECIPES
        names = {r.name for r in RECIPES}
        for marker in sorted(out.glob(f"*/*/{MARKER}")):
            run_dir = marker.parent
            if run_dir.relative_to(out).as_posix() not in names:
                print(f"removing stale run {run_dir.relative_to(out).as_posix()}")
                shutil.rmtree(run_dir)
    t_start = time.time()
    if todo:
        _tf_setup()
    for i, r in enumerate(todo, 1):
        run_dir = out / r.name
        if run_dir.exists():
            shutil.rmtree(run_dir)
        run_dir.mkdir(parents=True)
        print(f"[{i}/{len(todo)}] training {r.name} ({r.fit['epochs']} epochs) ...", end="", flush=True)
        meta = train(r, run_dir)
        (run_dir / MARKER).write_text(json.dumps(meta, indent=1))
        print(f" {meta['seconds']:.1f}s (total {time.time() - t_start:.0f}s)", flush=True)
    if todo:
        print(f"trained {len(todo)} run(s) in {time.time() - t_start:.0f}s")

    labels: list[dict[str, Any]] = []
    for r in RECIPES:  # labels.json always covers every finished run, not only the --only ones
        meta = is_complete(out / r.name, r)
        if meta is None:
            continue
        obs = observe(read_scalars(out / r.name), meta)
        labels.append(label(r, obs))
    (out / LABELS).write_text(json.dumps(labels, indent=1) + "\n")
    print(f"wrote {out / LABELS} ({len(labels)} runs)")
    return labels


def summarize(labels: list[dict[str, Any]]) -> str:
    """Runs per family and expected-code counts: the shape of the corpus at a glance."""
    fam: dict[str, int] = {}
    exp: dict[str, int] = {}
    for e in labels:
        fam[e["family"]] = fam.get(e["family"], 0) + 1
        for c in e["expected"] or ["(none: healthy)"]:
            exp[c] = exp.get(c, 0) + 1
    lines = ["runs per injected fault family:"]
    lines += [f"  {k:24s} {v}" for k, v in sorted(fam.items())]
    lines.append("runs per expected code:")
    lines += [f"  {k:24s} {v}" for k, v in sorted(exp.items())]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", type=Path, default=DEFAULT_OUT, help="corpus folder (default: %(default)s)")
    ap.add_argument("--only", nargs="*", help="train only runs whose name contains one of these substrings")
    ap.add_argument("--force", action="store_true", help="retrain runs even if complete")
    ap.add_argument("--relabel", action="store_true", help="train nothing; re-read curves and rewrite labels.json")
    ap.add_argument("--show", action="store_true", help="print every run's labels and notes")
    args = ap.parse_args(argv)
    labels = generate(args.out, args.only, args.force, args.relabel)
    if args.show:
        for e in labels:
            print(
                f"\n{e['run']}\n  expected={e['expected']} acceptable={e['acceptable']}\n"
                f"  forbidden={e['forbidden']}\n  {e['notes']}"
            )
    print(summarize(labels))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
