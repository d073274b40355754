"""Label stretches of a curve as falling / flat / rising / noisy for the charts.

Segments are judged relative to the curve's own range, so the labels mean the
same on a loss of 1e-4 and on one of 1e4.
"""

from __future__ import annotations

import numpy as np

from tb_recipe_plugin.analysis.curves import Curve
from tb_recipe_plugin.analysis.report import Phase

MAX_SEGMENTS = 20
FLAT_CHANGE = 0.03
"""A segment that moves less than 3% of the curve's range is flat..."""
NOISY_SPREAD = 0.15
"""...or noisy, when its points scatter by more than 15% of the range around the trend."""


def phases(c: Curve) -> list[Phase]:
    n = c.n
    if n < 2:
        return [Phase(int(c.steps[0]), int(c.steps[-1]), "flat")] if n else []
    k = int(np.clip(n // 4, 1, MAX_SEGMENTS))
    edges = np.linspace(0, n - 1, k + 1).round().astype(int)
    rng = float(np.ptp(c.smooth))
    out: list[Phase] = []
    for a, b in zip(edges[:-1], edges[1:], strict=True):
        if b <= a:
            continue
        change = float(c.smooth[b] - c.smooth[a])
        spread = float(np.std(c.bvalues[a : b + 1] - c.smooth[a : b + 1]))
        if rng == 0 or abs(change) < FLAT_CHANGE * rng:
            label = "noisy" if rng and spread > NOISY_SPREAD * rng else "flat"
        else:
            label = "falling" if change < 0 else "rising"
        start, end = int(c.bsteps[a]), int(c.bsteps[b])
        if out and out[-1].label == label:
            out[-1].end_step = end
        else:
            out.append(Phase(start, end, label))
    out[0].start_step = int(c.steps[0])
    out[-1].end_step = int(c.steps[-1])
    return out
