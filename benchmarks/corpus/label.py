"""Label a trained run from its curves, the way a practitioner reads them in TensorBoard.

`label_run(run_dir, spec, facts)` is called by `generate.py` right after a run
is trained, before any analyzer has seen it. It reads the event files with
TensorBoard's own reader (`scalars.read_run`), takes the meaning of each tag
from the program (``facts.tags`` / ``facts.steps``, never from tag names) and
puts every finding code in exactly one of ``expected`` (clearly visible),
``forbidden`` (clearly absent, or impossible to see in this run) and
``acceptable`` (the deciding quantity falls in the grey zone between the two
levels below). The intent and the injected fault only appear in the notes: an
injected fault that does not show is labelled by what does show.

Nothing here imports ``tb_recipe_plugin``. Every level below was chosen from
practitioner reasoning for this file without reading the rules' code; where
the README's catalogue summary names a level for the same quantity, a
different level (and mostly a different statistic) is used here.

How the curves are read
-----------------------
Steps become epochs (``step / steps_per_epoch`` for step-axis roles), so train
and validation can be compared at the same moment. A training curve is
*batch-level* when it has 2+ points per epoch (a validation curve never is:
each of its points averages a whole evaluation). Curves are cut at their first
NaN/Inf (what follows is meaningless). "Smoothed" means a centred rolling
median whose width follows the length of the curve (no smoothing under 24
points, ~n/12 above: TensorBoard's smoothing slider moved further right for
denser curves). Point noise is the robust standard deviation of second
differences (1.4826 MAD / sqrt 6), which a smooth trend does not inflate. A
curve's visible movement runs from its start (or its trend's top) to the
lowest point of a heavy rolling median (a fifth of the curve wide). The start
of a curve is the median of its first min(5, n/20) points. The *tail* is the
last third of a curve's epochs (at least 3 points); its change is the
Theil-Sen slope (scipy) times the tail's length, as a ratio (log scale) for a
positive curve and relative to the tail's median level otherwise, with a
standard error SE = sigma sqrt(12/m) (relative) from the larger of the
residual and point noise of its m points. "Flat" means
|change| <= max(2.5%, 2 SE) (grey when SE > 10%: too noisy to call flat);
"falls"/"rises" means beyond max(5%, 3 SE).

Keras' ``batch_*`` series are running means within each epoch: p_k m_k is the
sum of the epoch's losses so far, so the inverted window means
x_k = (p_k m_k - p_{k-1} m_{k-1}) / (p_k - p_{k-1}) of a true running mean are
all positive, while a raw loss inverted that way turns negative whenever it
drops by more than 1/position between two late points (a third of the time for
ordinary batch noise). A positive batch-level loss whose inversion is positive
at >= 99.5% of 15+ such points (step counter 1- or 0-based, whichever fits) is
inverted exactly before anything is judged on it; otherwise it is taken as is.
The test has no power on a loss that barely moves (a raw loss at lr 1e-6 never
drops by 1/position either), so only a tag in Keras' ``batch_`` convention is
inverted: the writer's convention decides what the numbers cannot, as it does
for a reader (a raw per-step loss inverted as a running mean turns 1% noise
into 30% swings).

Criteria, one paragraph per code (yes / no levels; grey in between)
-------------------------------------------------------------------
nonfinite_loss: any NaN/Inf in a loss or metric curve, or a non-zero count of
non-finite loss steps from the callback. Yes/no, no grey zone: a NaN is there
or not. Once a loss has turned non-finite, the codes that describe how a run
ends (overfitting, val_plateau, underfitting, plateau, still_learning,
lr_too_small, lr_decay_too_early, lr_too_high, best_checkpoint_mismatch) are
judged on the finite part and a yes there becomes grey: the run does not end
that way.

divergence: the smoothed training loss is followed from its minimum to the
end level (median of the last 10%, at least 2 points). Yes when the end is
>= 3x the minimum *and* gives back >= half of what was learned (start - min)
(for a loss that can reach 0 or below: gives back all of it). No when the end is < 1.5x the
minimum or gives back < 20% of the drop. Why: a trained loss that triples and
surrenders half its progress is unmistakable on any axis; a 1.5x wobble is what
restarts and noisy phases look like. A rise from a near-zero minimum that is a
sliver of the drop is invisible on TensorBoard's linear axis.

no_learning: learning evidence is L, the best relative improvement of any loss
curve from its start to its smoothed minimum, and M, the best smoothed metric
advance beyond chance as a fraction of the distance from chance to perfect
(1 for bounded max-metrics, 100 for percentages: chance >= 1 and no value
above 100; 0 for min-metrics), over train and validation
metrics. Yes when L < 4% and M < 10% (or no metric), when the metric never
leaves chance (M < 5%) while L < 25% (a loss falling to the class prior is not
learning), or when the run *ends* stuck: every metric within 5% of chance and
the training loss within 5% of ln(C) (a network that learned for an epoch and
then died reads the same). No when training plainly learns (its loss
improves >= 30% or its metric gets >= 25% of the way), when L >= 15% with M
unknown or >= 15%, or when M >= 25%. Why: 4% of the start is inside ordinary epoch-to-epoch noise; a quarter of the way
from chance to perfect is learning anyone would notice; ln(C) is the loss of a
uniform guess.

overfitting: the validation loss's best (3-point rolling median minimum, raw
under 7 points) is compared with its end (median of the last 3). Yes when
the end is >= 15% above the best and >= 2.5 point-noise sigmas, at least 2
evaluations follow the best, validation had improved >= 5% before its best,
and the smoothed training loss at the end is >= 2% below its value at the best
epoch (still falling). No when the rise is < 5% or < 1.5 sigmas, or the best
is among the last 2 evaluations. A validation metric that gave back >= 20% of
its gain (>= 2.5 sigmas) lifts a grey loss verdict to yes; with no validation
loss the metric alone decides (yes >= 15% of the gain, no < 5%), and only once it
had clearly improved (a gain of >= 2.5 sigmas; below, grey at most). Why: +15% on
the best loss while training still improves is the textbook turn; under 5% is
the wobble of any converged validation curve; a validation curve that never
improved is a data question, not overfitting (grey at most).

val_plateau: tail changes of the validation loss (dV; without one, of the
validation metric read as an error: 1 - accuracy, 100 - top-1, or a
lower-is-better metric itself) and the training loss
(dT), and how much validation improved before the tail. Yes when validation
is flat while training falls by >= 5%, after validation improved >= 10%. No
when validation still falls, training changes by less than -2%, validation
rises by more than 15% (that is overfitting, not a plateau), or validation
never improved (< 3%: a data or learning problem, not a plateau). Why: "flat" is judged
against the curve's own noise, so a jagged 10-50 point validation curve can be
flat, and one whose noise is too large to tell is grey.

underfitting: grey when no_learning is a yes (learning nothing is its
extreme). With an accuracy-like metric (max direction, chance known, values in
[0, 1]) the headroom h = (1 - m) / (1 - chance), where m is the better of the
training and validation metric at the end (dropout and augmentation hold the
training number down), is read where the train metric has levelled off (tail
change < 2 points). Yes when 0.30 <= h <= 0.85 and validation is within 4
points of training (or above it). No when h < 0.15, the train metric still
climbs >= 5 points in the tail, or training is >= 12 points above validation
(capacity is enough: that gap is overfitting). h > 0.85 (at chance) is
no_learning's ground: grey. With an error metric (min direction, the constant
predictor's error as chance) the share of that error left, h, can only make it
grey: no when h < 0.30, the train metric still falls in the tail, or
validation is >= 12% of chance worse than training; grey otherwise (a hard
regression levels off where a too-small model does). With neither, the loss
decides: fitted fraction f = (start - end) / start of training; yes when the
loss is level (|dT| <= 2%), f is in [5%, 25%) and validation is within 8% of
training; no when f >= 60%, training still falls, or validation is > 25%
above training. Why: a model that levels off a third of the way short of
perfect with no generalisation gap is too weak or too regularised; the
achievable level of a regression task is unknown, hence the wider grey zone.

plateau: tail changes of training and (if any) validation loss, and the
progress made before the tail. Yes when both are flat after >= 20% improvement
and the run does not end stuck at chance. No when either still falls, training
rises, validation rises > 10%, or the curve improved < 5% before the tail
(that is no_learning). Why: the same flatness test as val_plateau, on both.

still_learning: the validation loss's tail change (the validation metric read
as an error, as for val_plateau, when there is no validation loss; the training
loss when there is no validation curve at all). Yes when it falls (<= -max(5%, 3 SE)) and training changes
by -2% or less. No when it changes by more than -2%. When the LR ends below 5% of
its peak, a yes becomes grey: a curve that falls while the schedule anneals to
zero says little about training longer. Why: 5% in a third of the run is
progress a user would pay for; 2% is noise-level.

lr_too_small: the training loss's start and the medians of its four quarters,
each at its own median epoch; the pace of the fall (per epoch) between
consecutive ones and their evenness e = slowest / fastest (an
exponential-looking healthy curve has e < 0.1, and so has a fast first drop
followed by a slow creep; a straight line has e ~ 1). Yes when e >= 1/3, the
tail still falls clearly (change <= -max(0.5%, 3 SE): a crawl is the point,
so a small but clean slope counts) and the last quarter's median is still
>= 30% of the start. No when e < 0.1, the loss fell < 2% overall, or the tail is not falling (change > -max(0.2%,
1 SE)). Why: a curve that keeps falling at an even pace and is far from
converged is the "nearly linear curve = LR too small" of the tuning recipes; a
stall or a bend in any quarter is something else.

noisy_loss: for each loss curve (training, validation, per-batch), sigma =
point noise over its second half, NSR = sigma / visible movement, and
sigma / level. Yes when some curve has NSR >= 0.25 and sigma >= 5% of its
level (batch-level: 30%). No when every curve has NSR < 0.10 or sigma < 2% of
its level (batch-level: 12%). Why: the test is "does the noise hide the
trend", so a jagged epoch-level validation curve with a clear descent is not
noisy, while a curve whose band is a quarter of its whole movement is. A
per-batch loss carries its own batch's sampling noise (+-10-20% is ordinary at
batch sizes 32-128), so only swings of 30% and more make it hard to read; an
epoch mean or a whole validation pass averages hundreds of samples, so 5%
jitter there already means an unstable evaluation or optimisation.

periodic_loss: a per-step loss with >= 4 points per epoch over >= 3 epochs, in
log space, detrended by a rolling median one epoch wide; its residuals after
the first epoch grouped by position within the epoch (<= 50 groups).
eta^2 = between-group share of the residual variance, with an F-test. Yes when
eta^2 >= 0.35, p < 0.001 and eta^2 >= 4x the share expected by chance
((groups-1)/(points-1)). No when eta^2 < 0.10 or p > 0.05. Why: when the same
batches come at the same place every epoch (unshuffled or identically ordered
data), the pattern explains over a third of the batch-to-batch variation
and is plain to see.

loss_spikes: every loss curve, in log space, against a local rolling median
(5 points for epoch-level curves, n/50 clipped to 5..51 for batch-level), with
the robust spread of the residuals over >= 15 neighbouring points as sigma
(floored at half the whole curve's; the first 3% skipped: the initial drop),
so a spike must stick out of its own neighbourhood's band. A spike
starts from the local level (one of the 3 points before is within 30% of it),
returns within 30% of it within max(3, 2 epochs of points), and lasts at most
about an epoch (2 points at epoch level). Yes when some spike is >= 2.5x the
local level and >= 7 sigma (batch-level: >= 4x), is visible on a linear axis
(the jump is >= 5% of the curve's whole movement), with at most max(4, 2% of
points) jumps. No when no point reaches 1.6x and 4 sigma (batch-level 2.5x).
More jumps than that budget is heavy-tailed noise: grey. Why: batch losses
routinely double on a hard batch; a 4x jump 7 sigmas out that comes straight
back is an event (a bad batch, an LR kick).

lr_decay_too_early: needs an LR curve. The first point after the peak where the
LR is at or below 1/8 of the peak (three halvings), the share of the run left
after it, the training loss change over the fifth of the run before it, and
the change from shortly after it (5% of the run) to the end, and the pace of
that change (per share of the run) against the pace before. Yes when >= 40%
of the run is left, the loss was still falling >= 5% before, and then changes
<= 3% or at <= 1/10 of the pace. No when < 30% is left (a cosine to zero
crosses 1/8 with 23% to go), the LR never gets that low, the loss had already
flattened (< 1.5% before), or it keeps improving >= 10% at >= 0.3x the pace. Why: the recipes' warning that decay
defaults can cut the LR to zero too early is visible as progress stopping
exactly when the LR collapses with much of the run to go.

val_better_than_train: validation loss against the smoothed training loss
interpolated at each evaluation. Yes when validation is lower at >= 85% of
evaluations with a median margin >= 3% of the training loss. No when it is lower
at <= 50% or the median margin is < 1% (indistinguishable). Why: dropout,
augmentation and an epoch-averaged training loss make it systematic; a handful
of crossings are not. It is an observation, not a fault: it is labelled
whenever the charts show it.

data_problem: gv = validation loss improvement from start to best, gt =
training's, Mt/Mv = train/validation metric advance beyond chance (as for
no_learning). Yes when the validation metric stays at chance (Mv < 5%) while
training learns (Mt >= 40%, or without a train metric gt >= 30%), or training is flat (gt < 3%) while validation
improves >= 20%. Grey when validation never improves (gv < 3%) while training
does (gt >= 30%) but no metric shows which (immediate overfitting reads the
same). No when validation improves >= 10% (and its metric, if known, leaves
chance by >= 15%) while training learns, when both move together (each gain
at least half the other's, the validation metric at least half the training
metric's advance), when neither side learns (that is no_learning), or when
there is no validation curve. Why: the recipes' "train
flat, val falls: the data set has a problem" and "val never moves while train
learns"; a validation accuracy at chance is the proof.

best_checkpoint_mismatch: positions of the lowest validation loss and the best
validation metric (raw values, as checkpoint callbacks pick them), their
distance d as a share of the run, and what each choice costs the other curve
(as a share of that curve's gain). Yes when d >= 20%, the larger cost is
>= 15% and the smaller >= 5%. No when d < 10%, both costs are < 5%, or either
curve moved less than 3 point-noise sigmas (nothing to choose between). Why:
on a noisy plateau the two best points wander apart without consequence; the
mismatch matters when picking by loss loses metric (and the other way round).

lr_too_high: needs an LR curve with a schedule (max/min >= 3). The high-LR phase
is where the LR is above half its peak. On the smoothed training loss (log
scale) the fall rate per epoch during that phase and after it; acceleration
a = rate after / rate during, and how far the loss was above its final value
when the phase ended. Yes when the phase spans >= 20% of the run, the loss
was >= 1.3x its final value when it ended, and either a >= 2.5, or a > 1.2
and the loss oscillates in the second half of the phase (relative point noise
>= 10% of its level and >= 3x that after the phase). No when there is no schedule, less than 10% of the run
follows the phase, the loss was within 1.1x of its final value, or a <= 1.2
without the loss jittering >= 1.5x (and >= 3%) more at high LR. Why: training
normally decelerates (a < 1); a loss that stalls or bounces high while the LR
is high and settles only once the schedule lowers it is the signature of a
peak LR that is too high. Taking the whole phase for the rates (including the
fast fall that follows a warm-up) keeps a healthy step-decay staircase out; one
whose high-LR plateau jitters is grey (it reads both ways).

Callback codes (only with the DiagnosisCallback's ``tb_recipe/*`` series;
forbidden without them, since they cannot be seen):
nonfinite_gradients: any NaN/Inf gradient norm, non-finite gradient steps in a
window (beyond loss-scaler skips), or a recorded first non-finite gradient step.
exploding_gradients: growth of the smoothed gradient norm over its early level
(median of the first 10%), and the largest window maximum over it. Yes at
>= 100x (window max >= 1000x); no under 10x (window max under 40x). Two orders
of magnitude is what "the gradient chart explodes" looks like; healthy
cross-entropy training often grows the norm a few-fold as it gets confident.
vanishing_gradients: median over the second half of the reads of the
input-side / output-side layer gradient norm. Yes <= 3e-4, no >= 1e-2; a yes
becomes grey when some ReLU layer is dead (dead units pass no gradient: two
readings of one chart).
dying_relu: largest dead fraction of any ReLU layer (median of the last reads).
Yes >= 0.6, no < 0.3. saturated_activations: same for sigmoid/tanh hidden
layers. Yes >= 0.45, no < 0.2.
update_ratio_high / update_ratio_low: median over layers of the median
update/weight ratio (first read skipped). High: yes >= 5e-2 (weights replaced
within ~20 steps), no < 2e-2 (Adam at its default LR sits around 1e-2 on small
layers, and that is healthy). Low: yes <= 3e-6, no >= 1e-4.
initial_loss_off: first per-batch loss / ln(C) as written by the callback for a
C-class cross-entropy. Yes outside [1/3, 3], no inside [2/3, 1.5].
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np
from scipy import ndimage, stats

from benchmarks.corpus.scalars import Curves, read_run
from benchmarks.corpus.spec import Facts, RunSpec

CURVE_CODES = (
    "nonfinite_loss",
    "divergence",
    "no_learning",
    "overfitting",
    "val_plateau",
    "underfitting",
    "plateau",
    "still_learning",
    "lr_too_small",
    "noisy_loss",
    "periodic_loss",
    "loss_spikes",
    "lr_decay_too_early",
    "val_better_than_train",
    "data_problem",
    "best_checkpoint_mismatch",
    "lr_too_high",
)
CALLBACK_CODES = (
    "nonfinite_gradients",
    "exploding_gradients",
    "vanishing_gradients",
    "dying_relu",
    "saturated_activations",
    "update_ratio_high",
    "update_ratio_low",
    "initial_loss_off",
)
PREFLIGHT_CODES = (
    "nonfinite_inputs",
    "nonfinite_labels",
    "labels_out_of_range",
    "train_val_overlap",
    "inputs_ignored",
    "batch_mixing",
    "cannot_overfit_batch",
    "lr_range_test",
)
"""Findings of failed pre-flight checks (issue 11): the corpus' runs wrote no pre-flight results, so an analyzer that
reports one on them invented it."""
CODES = CURVE_CODES + CALLBACK_CODES + PREFLIGHT_CODES
"""Every code a label judges: the analyzer's catalogue plus ``lr_too_high`` (kept here, not imported)."""

END_OF_RUN_CODES = (
    "overfitting",
    "val_plateau",
    "underfitting",
    "plateau",
    "still_learning",
    "lr_too_small",
    "lr_decay_too_early",
    "lr_too_high",
    "best_checkpoint_mismatch",
)
"""Statements about how a run ends: after a loss turns NaN/Inf they describe only the part before it."""

YES, NO, GREY = "yes", "no", "grey"
TAIL = 1 / 3
CALLBACK_PREFIX = "tb_recipe/"
INTENT_CODE = {"nonfinite": "nonfinite_loss", "noisy": "noisy_loss", "unshuffled": "periodic_loss"}

Number = float | int | None


# --------------------------------------------------------------------------- curve helpers


@dataclass
class Curve:
    """One role's curve: finite prefix, on an epoch axis."""

    tag: str
    steps: np.ndarray
    x: np.ndarray  # epochs
    y: np.ndarray
    density: float  # points per epoch
    nonfinite: int = 0
    first_nonfinite_x: float | None = None
    evaluation: bool = False  # a validation curve: each point averages a whole evaluation, never batch-level

    @property
    def n(self) -> int:
        return int(self.y.size)

    @property
    def batch_level(self) -> bool:
        return self.density >= 2 and not self.evaluation

    @property
    def positive(self) -> bool:
        return bool(self.n and np.all(self.y > 0))


def _odd(k: float) -> int:
    k = max(1, int(k))
    return k if k % 2 else k + 1


def trend_width(n: int) -> int:
    return 2 * (n // 24) + 1


def rolling_median(y: np.ndarray, w: int) -> np.ndarray:
    """Centred median of width w; the window shrinks (stays centred) at the edges instead of padding."""
    n = y.size
    w = min(_odd(w), n if n % 2 else max(1, n - 1))
    if w <= 1 or n == 0:
        return y.astype(float).copy()
    out = ndimage.median_filter(y.astype(float), size=w, mode="nearest")
    h = w // 2
    for i in range(min(h, n)):
        out[i] = np.median(y[: 2 * i + 1])
        j = n - 1 - i
        out[j] = np.median(y[j - i :])
    return out


def movement(y: np.ndarray) -> float:
    """How far the curve visibly moves: from its start (or its trend's highest point) to its trend's lowest, the
    trend being a heavy rolling median (a fifth of the curve, edges mirrored) so that noise does not count."""
    if y.size < 3:
        return float(np.ptp(y)) if y.size else 0.0
    w = _odd(max(3, y.size // 5))
    trend = ndimage.median_filter(y.astype(float), size=min(w, _odd(y.size - 2)), mode="reflect")
    return float(max(start_level(y), trend.max()) - trend.min())


def smooth(y: np.ndarray) -> np.ndarray:
    return rolling_median(y, trend_width(y.size))


def robust_sigma(r: np.ndarray) -> float:
    r = r[np.isfinite(r)]
    if r.size < 2:
        return 0.0
    return float(1.4826 * np.median(np.abs(r - np.median(r))))


def point_noise(y: np.ndarray) -> float:
    """Noise of single points, from second differences (a smooth trend does not inflate it)."""
    if y.size < 5:
        return 0.0
    return robust_sigma(np.diff(y, 2)) / math.sqrt(6)


def start_level(y: np.ndarray) -> float:
    k = max(1, min(5, math.ceil(y.size / 20)))
    return float(np.median(y[:k]))


def end_level(y: np.ndarray, frac: float = 0.1, at_least: int = 2) -> float:
    k = min(y.size, max(at_least, math.ceil(frac * y.size)))
    return float(np.median(y[-k:]))


def _binned(x: np.ndarray, y: np.ndarray, max_points: int = 300) -> tuple[np.ndarray, np.ndarray]:
    if x.size <= max_points:
        return x, y
    edges = np.linspace(0, x.size, max_points + 1).astype(int)
    xs = np.array([np.median(x[a:b]) for a, b in zip(edges[:-1], edges[1:], strict=True) if b > a])
    ys = np.array([np.median(y[a:b]) for a, b in zip(edges[:-1], edges[1:], strict=True) if b > a])
    return xs, ys


@dataclass
class Tail:
    change: float  # projected relative change over the tail (negative = falling)
    se: float  # its standard error from the residual noise
    m: int
    level: float

    def flat(self, level: float = 0.025, max_se: float = 0.10) -> str:
        if abs(self.change) <= max(level, 2 * self.se):
            return YES if self.se <= max_se else GREY
        return NO

    def falls(self, level: float = 0.05) -> bool:
        return self.change <= -max(level, 3 * self.se)

    def rises(self, level: float = 0.05) -> bool:
        return self.change >= max(level, 3 * self.se)


def tail(c: Curve | None, frac: float = TAIL) -> Tail | None:
    """Theil-Sen change over the last `frac` of a curve's epochs, relative to the tail's level."""
    if c is None or c.n < 5:
        return None
    lo = c.x[-1] - frac * (c.x[-1] - c.x[0])
    sel = c.x >= lo
    if sel.sum() < 3:  # short runs (5-8 evaluations): the last three points
        sel = np.zeros(c.n, bool)
        sel[-3:] = True
    x, y = _binned(c.x[sel], c.y[sel])
    if np.ptp(x) <= 0:
        return None
    level = abs(float(np.median(y))) or 1e-12
    span = float(x[-1] - x[0])
    if np.all(y > 0):  # a positive curve is read on a log scale: changes are ratios, and never below -100%
        ly = np.log(y)
        slope, intercept, _, _ = stats.theilslopes(ly, x)
        sigma = max(robust_sigma(ly - (intercept + slope * x)), point_noise(ly))
        return Tail(float(math.expm1(slope * span)), float(sigma * math.sqrt(12 / x.size)), int(x.size), level)
    slope, intercept, _, _ = stats.theilslopes(y, x)
    sigma = max(robust_sigma(y - (intercept + slope * x)), point_noise(y))
    return Tail(float(slope * span / level), float(sigma * math.sqrt(12 / x.size) / level), int(x.size), level)


def interp(c: Curve, x: float) -> float:
    return float(np.interp(x, c.x, smooth(c.y)))


def gain(y: np.ndarray) -> float:
    """Best relative improvement of a loss from its start to its smoothed minimum."""
    if y.size < 2:
        return 0.0
    s = start_level(y)
    return float((s - np.min(smooth(y))) / (abs(s) or 1e-12))


# --------------------------------------------------------------------------- the run as read


@dataclass
class Run:
    facts: Facts
    curves: dict[str, Curve]
    callback: dict[str, tuple[np.ndarray, np.ndarray]]
    missing_tags: list[str] = field(default_factory=list)
    running_mean: bool = False

    def get(self, role: str) -> Curve | None:
        return self.curves.get(role)

    @property
    def train(self) -> Curve | None:
        """The training loss as a practitioner would read it: the train_loss role, else the per-batch loss."""
        return self.curves.get("train_loss") or self.curves.get("batch") or self.curves.get("cb_batch")

    @property
    def batch(self) -> Curve | None:
        """A per-step loss: batch_loss (running mean inverted), else a step-level train loss, else the callback's."""
        for key in ("batch", "train_loss", "cb_batch"):
            c = self.curves.get(key)
            if c is not None and c.batch_level:
                return c
        return None

    def loss_curves(self) -> list[Curve]:
        """Every loss curve a practitioner would look at (the callback's per-step loss when there is no other)."""
        keys = ("train_loss", "val_loss", "batch") if "batch" in self.curves else ("train_loss", "val_loss", "cb_batch")
        return [c for k in keys if (c := self.curves.get(k)) is not None]

    @property
    def lr(self) -> Curve | None:
        return self.curves.get("lr") or self.curves.get("cb_lr")

    @property
    def has_callback(self) -> bool:
        return any(k.startswith(("grad_norm", "batch_loss", "layer/", "window/")) for k in self.callback)


def _to_x(steps: np.ndarray, axis: str, spe: int) -> np.ndarray:
    return steps.astype(float) / spe if axis == "step" and spe > 0 else steps.astype(float)


def _density(x: np.ndarray) -> float:
    if x.size < 2 or np.ptp(x) <= 0:
        return 1.0
    return float((x.size - 1) / np.ptp(x))


def _curve(tag: str, steps: np.ndarray, values: np.ndarray, axis: str, spe: int) -> Curve:
    x = _to_x(steps, axis, spe)
    bad = ~np.isfinite(values)
    cut = int(np.argmax(bad)) if bad.any() else values.size
    c = Curve(tag, steps[:cut], x[:cut], values[:cut].astype(float), _density(x))
    c.nonfinite = int(bad.sum())
    c.first_nonfinite_x = float(x[cut]) if bad.any() else None
    return c


def _running_mean_positions(steps: np.ndarray, spe: int, offset: int) -> tuple[np.ndarray, np.ndarray]:
    epoch = (steps - offset) // spe
    pos = (steps - offset) % spe + 1
    return epoch, pos


def _inverted(c: Curve, spe: int, offset: int) -> tuple[np.ndarray, np.ndarray]:
    """Per-window means under the running-mean hypothesis, and which points test it: those following another point
    of the same epoch at 3/4 of their position or later (there a raw loss need only drop by a quarter or less
    for its inverted value to turn negative)."""
    epoch, pos = _running_mean_positions(c.steps, spe, offset)
    prev_pos = np.concatenate([[0], pos[:-1]])
    prev_val = np.concatenate([[0.0], c.y[:-1]])
    new_epoch = np.concatenate([[True], epoch[1:] != epoch[:-1]]) | (pos <= prev_pos)
    pp = np.where(new_epoch, 0, prev_pos)
    pv = np.where(new_epoch, 0.0, prev_val)
    return (pos * c.y - pp * pv) / np.maximum(pos - pp, 1), ~new_epoch & (pp >= 0.75 * pos)


def running_mean_offset(c: Curve, spe: int) -> tuple[int | None, float]:
    """The step offset (1 for Keras' 1-based batch counter, or 0) under which a positive loss is a running mean.

    p_k * m_k is the sum of the epoch's losses so far, so under the right offset every inverted window mean is
    positive. Raw values fail that often: a raw loss drops by more than 1/position from one step to the next at
    a good share of late positions. Fewer than 15 testing points (say, 2 logs per epoch)
    decide nothing. Returns (offset or None, share of positive inverted values at the best offset).
    """
    if spe < 6 or c.n < 18 or not c.positive:
        return None, math.nan
    best: tuple[int | None, float] = (None, -1.0)
    for offset in (1, 0):
        x, inside = _inverted(c, spe, offset)
        if inside.sum() < 15:
            continue
        share = float(np.mean(x[inside] > 0))
        if share > best[1]:
            best = (offset, share)
    return (best[0] if best[1] >= 0.995 else None), best[1]


def invert_running_mean(c: Curve, spe: int, offset: int) -> Curve:
    """The per-window means behind a within-epoch running mean (exact: x_k = (p_k m_k - p_{k-1} m_{k-1}) / gap)."""
    x, _ = _inverted(c, spe, offset)
    return Curve(c.tag + " (running mean inverted)", c.steps, c.x, x, c.density, c.nonfinite, c.first_nonfinite_x)


def _keras_batch_tag(tag: str) -> bool:
    """Keras' TensorBoard callback names its per-batch series ``batch_<metric>``: the writer whose running means
    this module inverts."""
    return tag.rsplit("/", 1)[-1].startswith("batch_")


def build_run(curves: Curves, facts: Facts) -> Run:
    spe = int(facts.steps_per_epoch or 0)
    run = Run(facts, {}, {})
    for role, tag in facts.tags.items():
        if tag not in curves:
            run.missing_tags.append(tag)
            continue
        steps, values = curves[tag]
        if steps.size == 0:
            run.missing_tags.append(tag)
            continue
        key = "batch" if role == "batch_loss" else role
        run.curves[key] = _curve(tag, steps, values, facts.steps.get(role, "epoch"), spe)
        run.curves[key].evaluation = role.startswith("val_")
    for tag, (steps, values) in curves.items():
        i = tag.find(CALLBACK_PREFIX)
        if i >= 0:
            run.callback[tag[i + len(CALLBACK_PREFIX) :]] = (steps, values)
    if "batch_loss" in run.callback:
        s, v = run.callback["batch_loss"]
        run.curves["cb_batch"] = _curve("tb_recipe/batch_loss", s, v, "step", spe)
    if "learning_rate" in run.callback and "lr" not in run.curves:
        s, v = run.callback["learning_rate"]
        run.curves["cb_lr"] = _curve("tb_recipe/learning_rate", s, v, "step", spe)
    b = run.curves.get("batch")
    if b is not None and b.batch_level and spe and _keras_batch_tag(b.tag):
        offset, _ = running_mean_offset(b, spe)
        if offset is not None:
            run.curves["batch"] = invert_running_mean(b, spe, offset)
            run.running_mean = True
    return run


# --------------------------------------------------------------------------- verdicts


@dataclass
class Verdict:
    verdict: str
    observed: dict[str, Any] = field(default_factory=dict)
    why: str = ""


def _grade(value: float, yes: Callable[[float], bool], no: Callable[[float], bool]) -> str:
    return YES if yes(value) else NO if no(value) else GREY


def _r(v: Any) -> Any:
    if isinstance(v, float | np.floating):
        v = float(v)
        return float(f"{v:.4g}") if math.isfinite(v) else None
    if isinstance(v, np.integer):
        return int(v)
    if isinstance(v, list | tuple):
        return [_r(x) for x in v]
    return v


def nonfinite_loss(run: Run) -> Verdict:
    hits = {c.tag: c.nonfinite for c in run.curves.values() if c.nonfinite and not c.tag.endswith("learning_rate")}
    win = run.callback.get("window/nonfinite_loss_steps")
    cb = float(np.nansum(win[1])) if win is not None else 0.0
    if cb > 0:
        hits["tb_recipe/window/nonfinite_loss_steps"] = int(cb)
    if not hits:
        return Verdict(NO, {"nonfinite_points": 0})
    tag, count = next(iter(hits.items()))
    first = next((c.first_nonfinite_x for c in run.curves.values() if c.tag == tag), None)
    where = f" from epoch {first:.3g}" if first is not None else ""
    return Verdict(YES, {"nonfinite_points": sum(hits.values()), "first_epoch": first}, f"{tag} non-finite{where}")


def divergence(run: Run) -> Verdict:
    c = run.train
    if c is None or c.n < 4:
        return Verdict(NO, {"points": 0 if c is None else c.n})
    s = smooth(c.y)
    start, lo, end = start_level(c.y), float(np.min(s)), end_level(c.y)
    drop = start - lo
    given_back = (end - lo) / drop if drop > 0 else math.inf
    ratio = end / lo if lo > 0 else math.nan
    obs = {"start": start, "min": lo, "end": end, "end_over_min": ratio, "given_back": given_back}
    if (lo > 0 and ratio >= 3 and given_back >= 0.5) or (lo <= 0 and given_back >= 1.0):
        return Verdict(YES, obs, f"training loss fell to {lo:.4g} then rose to {end:.4g}")
    if (lo > 0 and ratio < 1.5) or given_back < 0.2:
        return Verdict(NO, obs)
    return Verdict(GREY, obs, f"training loss ends {ratio:.2g}x its minimum")


def metric_perfect(c: Curve, facts: Facts) -> float | None:
    """The perfect value of a bounded higher-is-better metric: 1 for a fraction, 100 for a percentage (MMEngine's
    top-1, Detectron2's AP), told apart by its chance level and its values; None when unknown."""
    chance, top = facts.chance_metric, float(np.nanmax(c.y)) if c.n else math.nan
    if chance is None or not math.isfinite(top):
        return None
    if chance < 1 and top <= 1.0001:
        return 1.0
    if 1 <= chance < 100 and top <= 100.0001:
        return 100.0
    return None


def metric_advance(c: Curve | None, facts: Facts) -> float | None:
    """Best smoothed metric as a fraction of the way from chance to perfect."""
    if c is None or c.n == 0 or facts.chance_metric is None or facts.metric_direction is None:
        return None
    chance = float(facts.chance_metric)
    s = rolling_median(c.y, 3) if c.n >= 7 else c.y
    if facts.metric_direction == "max":
        perfect = metric_perfect(c, facts)
        if perfect is None:
            return None
        return float((np.max(s) - chance) / (perfect - chance))
    if chance <= 0:
        return None
    return float((chance - np.min(s)) / chance)


def _train_gain(run: Run) -> float:
    losses = [c for c in (run.get("train_loss"), run.get("batch"), run.get("cb_batch")) if c is not None]
    return max((gain(c.y) for c in losses if c.n >= 2), default=0.0)


def _learning(run: Run) -> tuple[float, float | None, float | None, float | None]:
    losses = [c for c in (run.get("train_loss"), run.get("batch"), run.get("cb_batch"), run.get("val_loss")) if c]
    big_l = max((gain(c.y) for c in losses if c.n >= 2), default=0.0)
    mt = metric_advance(run.get("train_metric"), run.facts)
    mv = metric_advance(run.get("val_metric"), run.facts)
    ms = [m for m in (mt, mv) if m is not None]
    return big_l, (max(ms) if ms else None), mt, mv


def _end_advance(c: Curve | None, facts: Facts) -> float | None:
    """The metric where the run ends, as a fraction of the way from chance to perfect."""
    if c is None or c.n == 0:
        return None
    tmp = Curve(c.tag, c.steps[-3:], c.x[-3:], np.array([end_level(c.y)]), c.density)
    return metric_advance(tmp, facts)


def ends_stuck(run: Run) -> bool:
    """The run ends with every metric at chance (< 5% of the way to perfect) and, for a C-class loss, the training
    loss within 5% of ln(C): the "stuck at the uniform guess" reading, whatever happened on the way."""
    ends = [a for a in (_end_advance(run.get(r), run.facts) for r in ("train_metric", "val_metric")) if a is not None]
    c, t = run.facts.num_classes, run.train
    at_prior = bool(c and c > 1 and t is not None and t.n and abs(end_level(t.y) / math.log(c) - 1) <= 0.05)
    return bool(ends) and max(ends) < 0.05 and at_prior


def no_learning(run: Run) -> Verdict:
    if not run.loss_curves() and run.get("train_metric") is None and run.get("val_metric") is None:
        return Verdict(NO, {"curves": 0})
    big_l, m, _, _ = _learning(run)
    obs = {"loss_gain": big_l, "metric_advance": m}
    ln_c = math.log(run.facts.num_classes) if run.facts.num_classes and run.facts.num_classes > 1 else None
    at = ""
    if ln_c and run.train is not None and run.train.n:
        obs["end_over_lnC"] = end_level(run.train.y) / ln_c
        at = f", at {obs['end_over_lnC']:.2f} ln(C)"
    why = f"loss improved {big_l:.1%} at best{at}" + (
        f", metric {m:.0%} of the way from chance" if m is not None else ""
    )
    obs["ends_stuck_at_chance"] = stuck = ends_stuck(run)
    if (big_l < 0.04 and (m is None or m < 0.10)) or (m is not None and m < 0.05 and big_l < 0.25):
        return Verdict(YES, obs, why)
    if stuck:
        return Verdict(YES, obs, f"ends at {obs['end_over_lnC']:.2f} ln(C) with every metric at chance")
    obs["train_loss_gain"] = train_gain = _train_gain(run)
    _, _, mt, _ = _learning(run)
    if train_gain >= 0.30 or (mt is not None and mt >= 0.25):  # training plainly learns (val may not: data_problem)
        return Verdict(NO, obs)
    if (big_l >= 0.15 and (m is None or m >= 0.15)) or (m is not None and m >= 0.25):
        return Verdict(NO, obs)
    return Verdict(GREY, obs, why)


def _best_index(y: np.ndarray, direction: str) -> tuple[int, np.ndarray]:
    s = rolling_median(y, 3) if y.size >= 7 else y
    return (int(np.argmin(s)) if direction == "min" else int(np.argmax(s))), s


def _metric_regression(c: Curve | None, direction: str | None) -> dict[str, float] | None:
    """Share of its gain a validation metric gave back by the end, and in noise sigmas."""
    if c is None or c.n < 4 or direction is None:
        return None
    i, s = _best_index(c.y, direction)
    sign = 1 if direction == "max" else -1
    start, best, end = start_level(c.y), float(s[i]), float(np.median(c.y[-3:]))
    g = sign * (best - start)
    sigma = point_noise(c.y) or 1e-12
    lost = sign * (best - end)
    return {
        "metric_best": best,
        "metric_end": end,
        "metric_gain_sigmas": g / sigma,
        "metric_lost_share": lost / g if g > 0 else 0.0,
        "metric_lost_sigmas": lost / sigma,
        "metric_after_best": c.n - 1 - i,
    }


def overfitting(run: Run) -> Verdict:
    v, t = run.get("val_loss"), run.train
    mreg = _metric_regression(run.get("val_metric"), run.facts.metric_direction)
    metric_yes = bool(mreg and mreg["metric_lost_share"] >= 0.20 and mreg["metric_lost_sigmas"] >= 2.5)
    if v is None or v.n < 4:
        if not mreg or mreg["metric_after_best"] < 2:
            return Verdict(NO, mreg or {})
        share, sig = mreg["metric_lost_share"], mreg["metric_lost_sigmas"]
        if mreg["metric_gain_sigmas"] < 2.5:
            # a metric that never clearly improved has nothing to give back: a data question, not overfitting
            return Verdict(NO if share < 0.05 or sig < 1.5 else GREY, mreg)
        if share >= 0.15 and sig >= 2.5:
            return Verdict(YES, mreg, f"validation metric gave back {share:.0%} of its gain")
        return Verdict(NO if share < 0.05 or sig < 1.5 else GREY, mreg)
    i, s = _best_index(v.y, "min")
    best, end, start = float(s[i]), float(np.median(v.y[-3:])), start_level(v.y)
    rise = (end - best) / (abs(best) or 1e-12)
    sigma = point_noise(v.y) or 1e-12
    after = v.n - 1 - i
    improved = (start - best) / (abs(start) or 1e-12)
    obs: dict[str, Any] = {"val_best": best, "best_epoch": float(v.x[i]), "val_end": end, "rise": rise}
    obs |= {"rise_sigmas": (end - best) / sigma, "evals_after_best": after, "val_improved": improved}
    train_falls = None
    if t is not None and t.n >= 2:
        t_best, t_end = interp(t, float(v.x[i])), end_level(t.y, 0.05, 1)
        obs["train_change_after_best"] = (t_end - t_best) / (abs(t_best) or 1e-12)
        train_falls = obs["train_change_after_best"] <= -0.02
    if mreg:
        obs |= mreg
    why = f"val loss best {best:.4g} at epoch {v.x[i]:.3g}, ends {end:.4g} ({rise:+.0%})"
    if after < 2 or rise < 0.05 or (end - best) < 1.5 * sigma:
        return Verdict(GREY if metric_yes and after >= 2 else NO, obs, why)
    loss_yes = rise >= 0.15 and (end - best) >= 2.5 * sigma and improved >= 0.05 and train_falls is True
    if loss_yes or (metric_yes and improved >= 0.05 and train_falls is not False):
        return Verdict(YES, obs, why + " while training still falls")
    return Verdict(GREY, obs, why)


def validation_as_loss(run: Run) -> Curve | None:
    """The validation loss; without one, the validation metric read as an error (lower is better): the metric
    itself for a lower-is-better one, the distance to perfect (1 - accuracy, 100 - top-1) for a bounded
    higher-is-better one. A reader judges a validation that stopped improving on whichever curve there is."""
    v = run.get("val_loss")
    if v is not None and v.n >= 5:
        return v
    m, direction = run.get("val_metric"), run.facts.metric_direction
    if m is None or direction is None:
        return None
    if direction == "min":
        return m
    perfect = metric_perfect(m, run.facts)
    return None if perfect is None else replace(m, y=perfect - m.y)


def _validation_name(run: Run, v: Curve) -> str:
    """How the notes name the curve `validation_as_loss` gave."""
    return "val loss" if v is run.get("val_loss") else f"validation error ({v.tag})"


def val_plateau(run: Run) -> Verdict:
    v = validation_as_loss(run)
    tt, tv = tail(run.train), tail(v)
    if v is None or tt is None or tv is None:
        return Verdict(NO, {"tail_points": 0})
    prior = _progress_before_tail(v)
    obs = {"val_tail_change": tv.change, "val_tail_se": tv.se, "train_tail_change": tt.change, "val_prior": prior}
    what = _validation_name(run, v)
    why = f"{what} changes {tv.change:+.1%} over the last third while training changes {tt.change:+.1%}"
    if tv.falls() or tt.change > -0.02 or tv.change > 0.15 or prior < 0.03:
        return Verdict(NO, obs)
    flat = tv.flat()
    if flat == YES and tt.change <= -0.05 and prior >= 0.10:
        return Verdict(YES, obs, why)
    return Verdict(GREY, obs, why)


def _progress_before_tail(c: Curve) -> float:
    """How much a loss improved from its start to its best before the tail, relative to the start."""
    lo = c.x[-1] - TAIL * (c.x[-1] - c.x[0])
    before = c.y[c.x <= lo]
    start = start_level(c.y)
    return float((start - np.min(smooth(before))) / (abs(start) or 1e-12)) if before.size else 0.0


def underfitting(run: Run) -> Verdict:
    nl = no_learning(run)
    if nl.verdict == YES:  # learning nothing is underfitting's extreme: both readings hold
        return Verdict(GREY, nl.observed, "nothing learned: the extreme of underfitting")
    f = run.facts
    tm, vm = run.get("train_metric"), run.get("val_metric")
    bounded = (
        f.metric_direction == "max"
        and f.chance_metric is not None
        and f.chance_metric < 1
        and tm is not None
        and tm.n >= 4
        and float(np.max(tm.y)) <= 1.0001
    )
    if bounded:
        assert tm is not None
        end = end_level(tm.y)
        v_end = end_level(vm.y) if vm is not None and vm.n else None
        # dropout/augmentation hold the training number down: the better of the two shows what the model can do
        best_end = max(end, v_end) if v_end is not None else end
        h = (1 - best_end) / (1 - float(f.chance_metric))
        tt = tail(tm)
        climb = tt.change * tt.level if tt else 0.0  # absolute points
        gap = end - v_end if v_end is not None else 0.0
        obs = {"train_metric_end": end, "headroom": h, "train_metric_tail_climb": climb, "train_minus_val": gap}
        why = f"train {f.metric} levels at {end:.3g} ({h:.0%} of the way to perfect left), val within {gap:+.2f}"
        if h < 0.15 or climb >= 0.05 or gap >= 0.12:
            return Verdict(NO, obs)
        if 0.30 <= h <= 0.85 and abs(climb) < 0.02 and gap <= 0.04:
            return Verdict(YES, obs, why)
        return Verdict(GREY, obs, why)
    if f.metric_direction == "min" and f.chance_metric and f.chance_metric > 0 and tm is not None and tm.n >= 5:
        return _underfitting_error_metric(tm, vm, float(f.chance_metric))
    t, v = run.train, run.get("val_loss")
    if t is None or t.n < 4:
        return Verdict(NO, {"points": 0})
    start, end = start_level(t.y), end_level(t.y)
    fitted = (start - end) / (abs(start) or 1e-12)
    tt = tail(t)
    v_gap = (end_level(v.y) - end) / (abs(end) or 1e-12) if v is not None and v.n else 0.0
    obs = {"fitted": fitted, "train_tail_change": tt.change if tt else None, "val_over_train": v_gap}
    why = f"training loss only {fitted:.0%} below its start and flat, val within {v_gap:+.0%}"
    if fitted >= 0.60 or (tt is not None and tt.falls()) or v_gap > 0.25:
        return Verdict(NO, obs)
    if tt is not None and abs(tt.change) <= 0.02 and 0.05 <= fitted < 0.25 and abs(v_gap) <= 0.08:
        return Verdict(YES, obs, why)
    return Verdict(GREY, obs, why)


def _underfitting_error_metric(tm: Curve, vm: Curve | None, chance: float) -> Verdict:
    """An error metric (MAE...) against a constant predictor's: never a clear yes, since what a task allows is
    unknown (a hard regression levels off where a too-small model does)."""
    end = end_level(tm.y)
    v_end = end_level(vm.y) if vm is not None and vm.n else None
    h = (min(end, v_end) if v_end is not None else end) / chance
    tt = tail(tm)
    gap = (v_end - end) / chance if v_end is not None else 0.0
    obs = {"error_left": h, "train_metric_tail_change": tt.change if tt else None, "val_minus_train": gap}
    if h < 0.30 or (tt is not None and tt.falls()) or gap >= 0.12:
        return Verdict(NO, obs)
    return Verdict(GREY, obs, f"error levels at {h:.0%} of a constant predictor's with train and val together")


def plateau(run: Run) -> Verdict:
    t, v = run.train, run.get("val_loss")
    tt, tv = tail(t), tail(v)
    if tt is None or t is None:
        return Verdict(NO, {"tail_points": 0})
    prior = _progress_before_tail(t)
    obs = {"train_tail_change": tt.change, "train_tail_se": tt.se, "progress_before_tail": prior}
    if tv is not None:
        obs |= {"val_tail_change": tv.change, "val_tail_se": tv.se}
    why = f"training changes {tt.change:+.1%}" + (f" and val {tv.change:+.1%}" if tv else "") + " over the last third"
    if tt.falls() or tt.rises() or (tv is not None and (tv.falls() or tv.change > 0.10)) or prior < 0.05:
        return Verdict(NO, obs)
    flats = [tt.flat()] + ([tv.flat()] if tv is not None else [])
    if all(f == YES for f in flats) and prior >= 0.20 and not ends_stuck(run):
        return Verdict(YES, obs, why + f", after {prior:.0%} progress")
    return Verdict(GREY, obs, why)


def _lr_end_share(run: Run) -> float | None:
    lr = run.lr
    if lr is None or lr.n < 2 or np.max(lr.y) <= 0:
        return None
    return float(lr.y[-1] / np.max(lr.y))


def still_learning(run: Run) -> Verdict:
    v = validation_as_loss(run)
    tt, tv = tail(run.train), tail(v)
    main = tv or tt
    if main is None:
        return Verdict(NO, {"tail_points": 0})
    obs = {"tail_change": main.change, "tail_se": main.se, "train_tail_change": tt.change if tt else None}
    share = _lr_end_share(run)
    obs["lr_end_share"] = share
    which = "training loss" if v is None or tv is None else _validation_name(run, v)
    why = f"{which} still falls {main.change:+.1%} over the last third"
    if main.change > -0.02:
        return Verdict(NO, obs)
    if main.falls() and (tt is None or tt.change <= -0.02):
        if share is not None and share < 0.05:
            return Verdict(GREY, obs, why + " while the LR anneals to zero")
        return Verdict(YES, obs, why)
    return Verdict(GREY, obs, why)


def lr_too_small(run: Run) -> Verdict:
    t = run.train
    if t is None or t.n < 8:
        return Verdict(NO, {"points": 0 if t is None else t.n})
    edges = np.linspace(t.x[0], t.x[-1], 5)
    quarters = [(t.x >= a) & (t.x <= b) for a, b in zip(edges[:-1], edges[1:], strict=True)]
    k = max(1, min(5, math.ceil(t.n / 20)))
    # the start, then each quarter's median, each at its own median epoch: the pace between consecutive ones
    ys = np.array([start_level(t.y), *(np.median(t.y[q]) for q in quarters)])
    xs = np.array([np.median(t.x[:k]), *(np.median(t.x[q]) for q in quarters)])
    paces = -np.diff(ys) / np.maximum(np.diff(xs), 1e-12)
    evenness = float(paces.min() / paces.max()) if paces.max() > 0 else -math.inf
    drops = paces * np.diff(xs)
    overall = (ys[0] - ys[-1]) / (abs(ys[0]) or 1e-12)
    remaining = ys[-1] / ys[0] if ys[0] > 0 else math.nan
    tt = tail(t)
    obs = {"drops": [float(d) for d in drops], "evenness": evenness, "overall_drop": overall}
    obs |= {"end_over_start": remaining, "train_tail_change": tt.change if tt else None}
    why = (
        f"training loss falls at an even pace (slowest stretch {evenness:.0%} of the fastest), "
        f"its last quarter at {remaining:.0%} of its start"
    )
    # A crawl is the point here: any clean downward trend counts, however small against the level.
    if evenness < 0.1 or overall < 0.02 or tt is None or tt.change > -max(0.002, tt.se):
        return Verdict(NO, obs)
    if evenness >= 1 / 3 and tt.change <= -max(0.005, 3 * tt.se) and remaining >= 0.30:
        return Verdict(YES, obs, why)
    return Verdict(GREY, obs, why)


def _noise(c: Curve) -> dict[str, float] | None:
    if c.n < 8:
        return None
    half = c.n // 2
    sigma = point_noise(c.y[max(0, half - 2) :])
    rng = movement(c.y) or 1e-12
    level = abs(float(np.median(c.y[half:]))) or 1e-12
    yes_rel, no_rel = (0.30, 0.12) if c.batch_level else (0.05, 0.02)
    return {"nsr": sigma / rng, "rel_noise": sigma / level, "yes_rel": yes_rel, "no_rel": no_rel}


def noisy_loss(run: Run) -> Verdict:
    found = {c.tag: n for c in run.loss_curves() if (n := _noise(c)) is not None}
    if not found:
        return Verdict(NO, {})
    obs = {f"{tag}.{k}": v for tag, n in found.items() for k, v in n.items() if k in ("nsr", "rel_noise")}
    yes = [t for t, n in found.items() if n["nsr"] >= 0.25 and n["rel_noise"] >= n["yes_rel"]]
    if yes:
        n = found[yes[0]]
        return Verdict(
            YES, obs, f"{yes[0]} noise is {n['nsr']:.0%} of its whole movement ({n['rel_noise']:.0%} of level)"
        )
    if all(n["nsr"] < 0.10 or n["rel_noise"] < n["no_rel"] for n in found.values()):
        return Verdict(NO, obs)
    worst = max(found, key=lambda t: found[t]["nsr"])
    return Verdict(GREY, obs, f"{worst} noise is {found[worst]['nsr']:.0%} of its movement")


def periodic_loss(run: Run) -> Verdict:
    c, spe = run.batch, int(run.facts.steps_per_epoch or 0)
    if c is None or spe <= 0 or c.density < 4 or c.n < 12:
        return Verdict(NO, {"per_epoch": c.density if c else 0})
    epochs = float(np.ptp(c.x))
    if epochs < 3:
        return Verdict(NO, {"epochs": epochs})
    v = np.log(c.y) if c.positive else c.y
    per_epoch = max(3, int(round(c.density)))
    r = v - rolling_median(v, per_epoch)
    keep = c.x >= c.x[0] + 1  # the first epoch's fast drop is not a pattern
    r, steps = r[keep], c.steps[keep]
    pos = (steps % spe).astype(float)
    groups = min(50, np.unique(pos).size)
    g = np.floor(pos / spe * groups).astype(int)
    labels = np.unique(g)
    if labels.size < 3 or r.size <= labels.size + 2:
        return Verdict(NO, {"groups": int(labels.size)})
    total = float(np.sum((r - r.mean()) ** 2)) or 1e-300
    between = float(sum((g == k).sum() * (r[g == k].mean() - r.mean()) ** 2 for k in labels))
    eta2 = between / total
    k, n = labels.size, r.size
    f_stat = (eta2 / (k - 1)) / max((1 - eta2) / (n - k), 1e-300)
    p = float(stats.f.sf(f_stat, k - 1, n - k))
    base = (k - 1) / (n - 1)
    obs = {"eta2": eta2, "p": p, "chance_eta2": base, "groups": k, "points": n}
    why = f"position in the epoch explains {eta2:.0%} of the batch-loss variation (chance {base:.0%})"
    if eta2 < 0.10 or p > 0.05:
        return Verdict(NO, obs)
    if eta2 >= 0.35 and p < 1e-3 and eta2 >= 4 * base:
        return Verdict(YES, obs, why)
    return Verdict(GREY, obs, why)


def _spike_events(c: Curve) -> dict[str, Any] | None:
    if c.n < 8:
        return None
    logspace = c.positive
    v = np.log(c.y) if logspace else c.y
    w = _odd(min(51, max(5, c.n // 50))) if c.batch_level else 5
    local = rolling_median(v, w)
    r = v - local
    skip = max(2, math.ceil(0.03 * c.n))
    floor = max(0.5 * robust_sigma(r[skip:]), 1e-3 if logspace else 1e-12)
    # the band around each point: robust spread of the residuals over >= 15 neighbours (a spike sticks out of its
    # own neighbourhood, not only out of the calm late part of the run)
    w_sigma = min(_odd(max(15, 3 * w)), _odd(c.n - 2))
    sigma = np.maximum(1.4826 * ndimage.median_filter(np.abs(r), size=w_sigma, mode="reflect"), floor)
    back = math.log(1.3) if logspace else 3 * floor
    recover = min(max(3, math.ceil(2 * c.density)), max(3, c.n // 10))
    max_len = max(3, math.ceil(c.density)) if c.batch_level else 2
    grey_ratio, yes_ratio = (2.5, 4.0) if c.batch_level else (1.6, 2.5)
    z = r / sigma
    cand = z >= 4 if not logspace else (z >= 4) & (r >= math.log(grey_ratio))
    cand[:skip] = False
    cand[-1] = False
    events: list[tuple[int, int]] = []
    i = 0
    while i < c.n:
        if not cand[i]:
            i += 1
            continue
        j = i
        while j + 1 < c.n and cand[j + 1]:
            j += 1
        before = v[max(0, i - 3) : i] - local[i]
        after = v[j + 1 : j + 1 + recover] - local[i]
        if j - i + 1 <= max_len and before.size and after.size and before.min() <= back and after.min() <= back:
            events.append((i, j))
        i = j + 1
    peaks = [(int(a + np.argmax(r[a : b + 1]))) for a, b in events]
    ratios = [float(math.exp(r[k])) if logspace else math.nan for k in peaks]
    zs = [float(z[k]) for k in peaks]
    # visible on TensorBoard's linear axis too: the jump is >= 5% of the curve's whole movement
    base = np.exp(local) if logspace else local
    visible = [float((c.y[k] - base[k]) / (movement(c.y) or 1e-12)) >= 0.05 for k in peaks]
    if logspace:
        strong = [
            k for k, q, zz, vis in zip(peaks, ratios, zs, visible, strict=True) if q >= yes_ratio and zz >= 7 and vis
        ]
    else:
        strong = [k for k, zz, vis in zip(peaks, zs, visible, strict=True) if zz >= 10 and vis]
    return {
        "events": len(events),
        "strong": len(strong),
        "budget": max(4, math.ceil(0.02 * c.n)),
        "max_ratio": max(ratios) if ratios else None,
        "max_z": max(zs) if zs else None,
        "first_epoch": float(c.x[strong[0]]) if strong else None,
    }


def loss_spikes(run: Run) -> Verdict:
    found = {c.tag: e for c in run.loss_curves() if (e := _spike_events(c)) is not None}
    obs = {f"{tag}.{k}": v for tag, e in found.items() for k, v in e.items() if k != "budget"}
    if not any(e["events"] for e in found.values()):
        return Verdict(NO, obs)
    for tag, e in found.items():
        if e["strong"] and e["events"] <= e["budget"]:
            ratio = f"{e['max_ratio']:.3g}x the local level, " if e["max_ratio"] else ""
            return Verdict(YES, obs, f"{e['strong']} spike(s) in {tag} ({ratio}first at epoch {e['first_epoch']:.3g})")
    tag = max(found, key=lambda t: found[t]["events"])
    return Verdict(
        GREY, obs, f"{found[tag]['events']} jump(s) in {tag}, none clearly a spike or too many to be isolated"
    )


def lr_decay_too_early(run: Run) -> Verdict:
    lr, t = run.lr, run.train
    if lr is None or lr.n < 3 or t is None or t.n < 6 or np.max(lr.y) <= 0:
        return Verdict(NO, {"lr_points": 0 if lr is None else lr.n})
    peak_i = int(np.argmax(lr.y))
    peak = float(lr.y[peak_i])
    low = np.nonzero(lr.y[peak_i:] <= peak / 8)[0]
    x0, x1 = float(min(t.x[0], lr.x[0])), float(max(t.x[-1], lr.x[-1]))
    span = (x1 - x0) or 1e-12
    if low.size == 0:
        return Verdict(NO, {"lr_min_share": float(np.min(lr.y[peak_i:]) / peak)})
    x_low = float(lr.x[peak_i + low[0]])
    left = (x1 - x_low) / span
    level = interp(t, x_low) or 1e-12
    b0, a0 = max(x0, x_low - 0.2 * span), min(x1, x_low + 0.05 * span)
    before = (interp(t, b0) - level) / abs(level)
    after_start = interp(t, a0)
    after = (after_start - end_level(t.y, 0.05, 1)) / (abs(after_start) or 1e-12)
    # progress per share of the run, after the cut against just before it
    pace = (after / max(x1 - a0, 1e-12)) / (before / max(x_low - b0, 1e-12)) if before > 0 else math.inf
    obs = {"lr_low_epoch": x_low, "run_left": left, "drop_before": before, "drop_after": after, "pace_after": pace}
    why = (
        f"LR at 1/8 of its peak by epoch {x_low:.3g} with {left:.0%} of the run left; the loss fell {before:.1%} "
        f"just before and {after:.1%} in all the rest ({pace:.2g}x the pace)"
    )
    if left < 0.30 or before < 0.015 or (after >= 0.10 and pace >= 0.3):
        return Verdict(NO, obs)
    if left >= 0.4 and before >= 0.05 and (abs(after) <= 0.03 or pace <= 0.1):
        return Verdict(YES, obs, why)
    return Verdict(GREY, obs, why)


def val_better_than_train(run: Run) -> Verdict:
    t, v = run.train, run.get("val_loss")
    if t is None or v is None or t.n < 2 or v.n < 3:
        return Verdict(NO, {})
    sel = (v.x >= t.x[0]) & (v.x <= t.x[-1] + 1)
    if sel.sum() < 3:
        return Verdict(NO, {"overlap": int(sel.sum())})
    tv = np.array([interp(t, float(x)) for x in v.x[sel]])
    margin = (tv - v.y[sel]) / np.maximum(np.abs(tv), 1e-12)
    frac, med = float(np.mean(margin > 0)), float(np.median(margin))
    obs = {"share_below": frac, "median_margin": med}
    why = f"val loss below training at {frac:.0%} of evaluations (median margin {med:.0%})"
    if frac <= 0.5 or med < 0.01:
        return Verdict(NO, obs)
    return Verdict(YES if frac >= 0.85 and med >= 0.03 else GREY, obs, why)


def data_problem(run: Run) -> Verdict:
    t, v = run.train, run.get("val_loss")
    _, _, mt, mv = _learning(run)
    gt = gain(t.y) if t is not None else None
    gv = gain(v.y) if v is not None else None
    obs = {"train_gain": gt, "val_gain": gv, "train_metric_advance": mt, "val_metric_advance": mv}
    if v is None and run.get("val_metric") is None:
        return Verdict(NO, obs)
    train_learns = (mt is not None and mt >= 0.40) or (mt is None and gt is not None and gt >= 0.30)
    if mv is not None and mv < 0.05 and train_learns:
        what = f"train metric {mt:.0%} of the way" if mt is not None else f"training loss {gt:.0%} down"
        return Verdict(YES, obs, f"val metric never leaves chance ({mv:.0%}) while training learns ({what})")
    if gt is not None and gv is not None and gt < 0.03 and gv >= 0.20:
        return Verdict(YES, obs, f"val loss improves {gv:.0%} while training is flat ({gt:.1%})")
    learns = (gt is not None and gt >= 0.10) or (mt is not None and mt >= 0.15)
    if (
        (gt is None or gt < 0.03)
        and (mt is None or mt < 0.05)
        and (gv is None or gv < 0.03)
        and (mv is None or mv < 0.05)
    ):
        return Verdict(NO, obs)  # neither side learns: nothing to contrast (that is no_learning)
    if gv is not None and gv < 0.03 and gt is not None and gt >= 0.30:
        return Verdict(GREY, obs, f"val loss never improves ({gv:.1%}) while training does ({gt:.0%})")
    val_ok = (gv is None or gv >= 0.10) and (mv is None or mv >= 0.15)
    together = (
        gt is not None
        and gv is not None
        and min(gt, gv) > 0
        and min(gt, gv) >= 0.5 * max(gt, gv)
        and (mt is None or mv is None or mv >= 0.5 * mt)
    )  # validation follows training (however slowly): no contrast to explain
    if (learns and val_ok) or (gt is not None and gt >= 0.03 and (gv is None or gv >= 0.10) and val_ok) or together:
        return Verdict(NO, obs)
    return Verdict(
        GREY,
        obs,
        f"val gain {gv if gv is not None else float('nan'):.1%}, train gain "
        f"{gt if gt is not None else float('nan'):.1%}",
    )


def best_checkpoint_mismatch(run: Run) -> Verdict:
    v, m, d = run.get("val_loss"), run.get("val_metric"), run.facts.metric_direction
    if v is None or m is None or d is None or v.n < 3 or m.n < 3:
        return Verdict(NO, {})
    i_l = int(np.argmin(v.y))
    i_m = int(np.argmax(m.y) if d == "max" else np.argmin(m.y))
    x_l, x_m = float(v.x[i_l]), float(m.x[i_m])
    span = float(max(v.x[-1], m.x[-1]) - min(v.x[0], m.x[0])) or 1e-12
    dist = abs(x_l - x_m) / span
    sign = 1 if d == "max" else -1
    m_gain = sign * (float(m.y[i_m]) - start_level(m.y))
    l_gain = start_level(v.y) - float(v.y[i_l])
    m_at_l = float(np.interp(x_l, m.x, m.y))
    l_at_m = float(np.interp(x_m, v.x, v.y))
    m_cost = sign * (float(m.y[i_m]) - m_at_l) / m_gain if m_gain > 0 else 0.0
    l_cost = (l_at_m - float(v.y[i_l])) / l_gain if l_gain > 0 else 0.0
    obs = {
        "loss_best_epoch": x_l,
        "metric_best_epoch": x_m,
        "distance": dist,
        "metric_cost": m_cost,
        "loss_cost": l_cost,
    }
    why = (
        f"best val loss at epoch {x_l:.3g}, best val metric at {x_m:.3g}; choosing by loss gives up "
        f"{m_cost:.0%} of the metric's gain"
    )
    moved = m_gain >= 3 * point_noise(m.y) and l_gain >= 3 * point_noise(v.y) and m_gain > 0 and l_gain > 0
    obs["curves_moved"] = moved
    if not moved or dist < 0.10 or max(m_cost, l_cost) < 0.05:
        return Verdict(NO, obs)
    if dist >= 0.20 and max(m_cost, l_cost) >= 0.15 and min(m_cost, l_cost) >= 0.05:
        return Verdict(YES, obs, why)
    return Verdict(GREY, obs, why)


def lr_too_high(run: Run) -> Verdict:
    lr, t = run.lr, run.train
    if lr is None or t is None or lr.n < 3 or t.n < 6:
        return Verdict(NO, {"lr_points": 0 if lr is None else lr.n})
    peak = float(np.max(lr.y))
    lo_lr = float(np.min(lr.y[lr.y > 0])) if np.any(lr.y > 0) else 0.0
    if peak <= 0 or lo_lr <= 0 or peak / lo_lr < 3:
        return Verdict(NO, {"lr_max_over_min": peak / lo_lr if lo_lr > 0 else None})
    high = lr.y > 0.5 * peak * (1 + 1e-6)
    first = int(np.argmax(high))
    last = first
    while last + 1 < lr.n and high[last + 1]:
        last += 1
    h0, h1 = float(lr.x[first]), float(lr.x[last])
    x0, x1 = float(t.x[0]), float(t.x[-1])
    span = (x1 - x0) or 1e-12
    phase, post = (min(h1, x1) - max(h0, x0)) / span, (x1 - h1) / span
    s = smooth(t.y)
    f = np.log(s) if t.positive else s / (float(np.ptp(s)) or 1e-12)
    at_h0, at_h1 = float(np.interp(h0, t.x, f)), float(np.interp(h1, t.x, f))
    at_end = float(np.median(f[-max(1, min(5, math.ceil(t.n / 20))) :]))
    rate_high = (at_h0 - at_h1) / max(h1 - h0, 1e-12)
    rate_after = (at_h1 - at_end) / max(x1 - h1, 1e-12)
    accel = rate_after / rate_high if rate_high > 0 else math.inf
    above = at_h1 - at_end  # log of (loss when the LR leaves its high phase / final loss), for positive losses
    late_high, after = t.y[(t.x >= (h0 + h1) / 2) & (t.x <= h1)], t.y[t.x > h1]
    jitter_high = _relative_noise(late_high)
    jitter_ratio = jitter_high / max(_relative_noise(after), 1e-12) if after.size >= 5 else math.nan
    obs = {"lr_peak": peak, "high_phase": phase, "after_phase": post, "acceleration": accel, "stall_above_end": above}
    obs |= {"jitter_high": jitter_high, "jitter_high_over_after": jitter_ratio}
    times = f"{math.exp(above):.3g}x" if t.positive else f"{above:.3g} ranges above"
    faster = f"{accel:.3g}x faster" if math.isfinite(accel) else "only"
    why = (
        f"the loss falls {faster} once the LR (peak {peak:.3g}) is below half its peak and jittered "
        f"{jitter_ratio:.3g}x as much before; it was {times} its final value when the LR came down"
    )
    high_stall = phase >= 0.20 and above >= math.log(1.3)
    oscillates = jitter_ratio >= 3 and jitter_high >= 0.10
    if high_stall and (accel >= 2.5 or (oscillates and accel > 1.2)):
        return Verdict(YES, obs, why)
    jitters = jitter_ratio >= 1.5 and jitter_high >= 0.03
    if post < 0.10 or phase < 0.05 or above < math.log(1.1) or (accel <= 1.2 and not jitters):
        return Verdict(NO, obs)
    return Verdict(GREY, obs, why)


def _relative_noise(y: np.ndarray) -> float:
    """Point noise over the median level: how much a stretch of curve jitters, scale-free (NaN under 5 points)."""
    if y.size < 5:
        return math.nan
    return point_noise(y) / (abs(float(np.median(y))) or 1e-12)


# --------------------------------------------------------------------------- callback codes


def _cb(run: Run, key: str) -> np.ndarray | None:
    s = run.callback.get(key)
    return None if s is None else s[1]


def _layers(run: Run, stat: str) -> dict[str, np.ndarray]:
    prefix = f"layer/{stat}/"
    return {k[len(prefix) :]: v for k, (_, v) in run.callback.items() if k.startswith(prefix)}


def nonfinite_gradients(run: Run) -> Verdict:
    gn = _cb(run, "grad_norm")
    bad_norms = int(np.sum(~np.isfinite(gn))) if gn is not None else 0
    win = _cb(run, "window/nonfinite_grad_steps")
    skipped = _cb(run, "window/skipped_steps")
    scaled = (_cb(run, "meta/loss_scaled") is not None) and float(_cb(run, "meta/loss_scaled")[0]) == 1.0
    steps = float(np.nansum(win)) if win is not None else 0.0
    if scaled and skipped is not None:
        steps = max(0.0, steps - float(np.nansum(skipped)))
    first = _cb(run, "meta/first_nonfinite_grad_step")
    obs = {
        "nonfinite_norms": bad_norms,
        "nonfinite_steps": steps,
        "first_step": float(first[0]) if first is not None else None,
    }
    if bad_norms or steps > 0 or (first is not None and not scaled):
        return Verdict(YES, obs, f"{max(bad_norms, int(steps))} step(s) with non-finite gradients")
    return Verdict(NO, obs)


def exploding_gradients(run: Run) -> Verdict:
    gn = _cb(run, "grad_norm")
    if gn is None:
        return Verdict(NO, {})
    g = gn[np.isfinite(gn)]
    if g.size < 10:
        return Verdict(NO, {"points": int(g.size)})
    k = max(5, g.size // 10)
    early = float(np.median(g[:k]))
    if early <= 0:
        return Verdict(NO, {"early": early})
    growth = float(np.max(rolling_median(g, _odd(max(5, g.size // 50)))[k:], initial=early)) / early
    wmax = _cb(run, "window/grad_norm_max")
    wgrowth = float(np.nanmax(wmax[np.isfinite(wmax)], initial=0)) / early if wmax is not None else 0.0
    obs = {"early_grad_norm": early, "growth": growth, "window_max_growth": wgrowth}
    if growth >= 100 or wgrowth >= 1000:
        return Verdict(YES, obs, f"gradient norm grows {max(growth, wgrowth):.3g}x its early level")
    if growth < 10 and wgrowth < 40:
        return Verdict(NO, obs)
    return Verdict(GREY, obs, f"gradient norm grows {growth:.3g}x")


def vanishing_gradients(run: Run) -> Verdict:
    grads = {k: v for k, v in _layers(run, "grad_norm").items() if np.any(np.isfinite(v) & (v > 0))}
    index = {
        k: float(v[0])
        for k, v in (
            (k[len("meta/layer_index/") :], v)
            for k, (_, v) in run.callback.items()
            if k.startswith("meta/layer_index/")
        )
        if v.size
    }
    if len(grads) < 2:
        return Verdict(NO, {"layers": len(grads)})
    order = sorted(grads, key=lambda n: (index.get(n, math.inf), n))
    first, last = grads[order[0]], grads[order[-1]]
    n = min(first.size, last.size)
    a, b = first[:n][n // 2 :], last[:n][n // 2 :]
    ok = np.isfinite(a) & np.isfinite(b) & (b > 0)
    if not ok.any():
        return Verdict(NO, {"reads": 0})
    ratio = float(np.median(a[ok] / b[ok]))
    obs = {"input_layer": order[0], "output_layer": order[-1], "input_over_output": ratio}
    why = f"{order[0]} gradient is {ratio:.2g} of {order[-1]}'s"
    verdict = _grade(ratio, lambda r: r <= 3e-4, lambda r: r >= 1e-2)
    if verdict == YES and dying_relu(run).verdict == YES:
        return Verdict(GREY, obs, why + ", but its units are dead")  # dead ReLUs pass no gradient: two readings
    return Verdict(verdict, obs, why)


def _last_reads(v: np.ndarray) -> float:
    v = v[np.isfinite(v)]
    k = max(1, min(5, math.ceil(0.2 * v.size)))
    return float(np.median(v[-k:])) if v.size else math.nan


def _fraction_code(run: Run, stat: str, yes: float, no: float, what: str) -> Verdict:
    per = {k: _last_reads(v) for k, v in _layers(run, stat).items()}
    per = {k: v for k, v in per.items() if math.isfinite(v)}
    if not per:
        return Verdict(NO, {})
    worst = max(per, key=per.get)  # type: ignore[arg-type]
    obs = {"worst_layer": worst, "worst_fraction": per[worst]}
    return Verdict(
        _grade(per[worst], lambda f: f >= yes, lambda f: f < no), obs, f"{per[worst]:.0%} of {worst}'s units {what}"
    )


def dying_relu(run: Run) -> Verdict:
    return _fraction_code(run, "dead_fraction", 0.6, 0.3, "dead")


def saturated_activations(run: Run) -> Verdict:
    return _fraction_code(run, "saturated_fraction", 0.45, 0.2, "saturated")


def _update_ratio(run: Run) -> float | None:
    meds = []
    for v in _layers(run, "update_ratio").values():
        v = v[1:] if v.size > 1 else v
        v = v[np.isfinite(v) & (v > 0)]
        if v.size:
            meds.append(float(np.median(v)))
    return float(np.median(meds)) if meds else None


def update_ratio_high(run: Run) -> Verdict:
    r = _update_ratio(run)
    if r is None:
        return Verdict(NO, {})
    return Verdict(
        _grade(r, lambda x: x >= 5e-2, lambda x: x < 2e-2),
        {"update_ratio": r},
        f"weights change {r:.2%} of their norm per step",
    )


def update_ratio_low(run: Run) -> Verdict:
    r = _update_ratio(run)
    if r is None:
        return Verdict(NO, {})
    return Verdict(
        _grade(r, lambda x: x <= 3e-6, lambda x: x >= 1e-4),
        {"update_ratio": r},
        f"weights change {r:.1e} of their norm per step",
    )


def initial_loss_off(run: Run) -> Verdict:
    expected = _cb(run, "meta/expected_initial_loss")
    bl = run.callback.get("batch_loss")
    if expected is None or not expected.size or bl is None or not np.isfinite(bl[1]).any() or expected[0] <= 0:
        return Verdict(NO, {})
    first = float(bl[1][np.isfinite(bl[1])][0])
    ratio = first / float(expected[0])
    obs = {"first_batch_loss": first, "ln_c": float(expected[0]), "ratio": ratio}
    return Verdict(
        _grade(ratio, lambda r: r >= 3 or r <= 1 / 3, lambda r: 2 / 3 <= r <= 1.5),
        obs,
        f"first batch loss {first:.4g} is {ratio:.2g}x ln(C)",
    )


def no_preflight(run: Run) -> Verdict:
    """A failed pre-flight check cannot be seen in curves: the corpus' runs wrote no pre-flight results."""
    del run
    return Verdict(NO, {"preflight": False})


JUDGES: dict[str, Callable[[Run], Verdict]] = {
    "nonfinite_loss": nonfinite_loss,
    "divergence": divergence,
    "no_learning": no_learning,
    "overfitting": overfitting,
    "val_plateau": val_plateau,
    "underfitting": underfitting,
    "plateau": plateau,
    "still_learning": still_learning,
    "lr_too_small": lr_too_small,
    "noisy_loss": noisy_loss,
    "periodic_loss": periodic_loss,
    "loss_spikes": loss_spikes,
    "lr_decay_too_early": lr_decay_too_early,
    "val_better_than_train": val_better_than_train,
    "data_problem": data_problem,
    "best_checkpoint_mismatch": best_checkpoint_mismatch,
    "lr_too_high": lr_too_high,
    "nonfinite_gradients": nonfinite_gradients,
    "exploding_gradients": exploding_gradients,
    "vanishing_gradients": vanishing_gradients,
    "dying_relu": dying_relu,
    "saturated_activations": saturated_activations,
    "update_ratio_high": update_ratio_high,
    "update_ratio_low": update_ratio_low,
    "initial_loss_off": initial_loss_off,
    **dict.fromkeys(PREFLIGHT_CODES, no_preflight),
}


# --------------------------------------------------------------------------- the label


def _summary(run: Run) -> str:
    parts = []
    for role, name in (("train", "train loss"), ("val_loss", "val loss"), ("val_metric", "val metric")):
        c = run.train if role == "train" else run.get(role)
        if c is not None and c.n:
            parts.append(f"{name} {c.y[0]:.4g} -> {c.y[-1]:.4g}")
    return ", ".join(parts) or "no curve of any role"


def _jsonable(d: dict[str, Any]) -> dict[str, Any]:
    return {k: _r(v) for k, v in d.items()}


def label_curves(curves: Curves, spec: RunSpec, facts: Facts) -> dict[str, Any]:
    """The label of a run from curves already read (`label_run` reads them from the run's folder)."""
    run = build_run(curves, facts)
    verdicts = {code: JUDGES[code](run) for code in CURVE_CODES}
    cut = [c.tag for k, c in run.curves.items() if k in ("train_loss", "val_loss", "batch") and c.nonfinite]
    for code in END_OF_RUN_CODES:
        v = verdicts[code]
        if cut and v.verdict == YES:  # seen before the NaN, but the run does not end that way
            verdicts[code] = Verdict(GREY, v.observed, v.why + f" (before {cut[0]} turned non-finite)")
    for code in CALLBACK_CODES:
        verdicts[code] = JUDGES[code](run) if run.has_callback else Verdict(NO, {"callback": False})
    for code in PREFLIGHT_CODES:
        verdicts[code] = JUDGES[code](run)
    expected = [c for c in CODES if verdicts[c].verdict == YES]
    forbidden = [c for c in CODES if verdicts[c].verdict == NO]
    acceptable = [c for c in CODES if verdicts[c].verdict == GREY]
    found = "; ".join(verdicts[c].why for c in expected if verdicts[c].why)
    notes = f"{_summary(run)}. " + (f"Visible: {found}." if expected else "Healthy: nothing clearly wrong.")
    intent_code = INTENT_CODE.get(spec.intent, spec.intent)
    if spec.intent != "healthy" and intent_code not in expected:
        notes += f" Intent {spec.intent} ({facts.injected or 'no details'}) does not clearly show."
    if run.missing_tags:
        notes += f" Tags named in facts but absent: {', '.join(run.missing_tags)}."
    observed: dict[str, Any] = {c: _jsonable(v.observed) for c, v in verdicts.items() if v.observed}
    observed["_run"] = {
        "running_mean_inverted": run.running_mean,
        "callback": run.has_callback,
        "roles": sorted(run.curves),
    }
    return {
        "expected": expected,
        "forbidden": forbidden,
        "acceptable": acceptable,
        "notes": notes,
        "observed": observed,
    }


def label_run(run_dir: Path, spec: RunSpec, facts: Facts) -> dict[str, Any]:
    """Label one trained run (see the module docstring for the criteria)."""
    try:
        curves = read_run(Path(run_dir))
    except (OSError, ValueError) as e:  # an unreadable run is labelled as showing nothing, with the reason
        curves = {}
        reason = f"event files unreadable: {e}"
    else:
        reason = ""
    label = label_curves(curves, spec, facts)
    if reason:
        label["notes"] = reason + ". " + label["notes"]
    return label
