"""Words the presenters put around the catalogue's sentences: units, headings, labels, in every language."""

from __future__ import annotations

UNITS: dict[str, dict[str, tuple[str, str]]] = {
    "en": {"step": ("step {n}", "steps {a}–{b}"), "epoch": ("epoch {n}", "epochs {a}–{b}")},
    "zh": {"step": ("第 {n} 步", "第 {a}–{b} 步"), "epoch": ("第 {n} 个 epoch", "第 {a}–{b} 个 epoch")},
}
"""A position and a range on a finding's axis: optimizer (or logging) steps, or epochs when the run counted its
curve by epoch (Keras' ``epoch_*`` summaries are written at the epoch index)."""
STEP_IN_EPOCH: dict[str, str] = {"en": "{step} (epoch {epoch})", "zh": "{step}（第 {epoch} 个 epoch）"}
STEPS_IN_EPOCHS: dict[str, str] = {"en": "{steps} (epochs {a}–{b})", "zh": "{steps}（第 {a}–{b} 个 epoch）"}
"""A step of a run whose epoch length is proven, with the epoch it falls in (numbered as Keras and TensorBoard
number them, from 0), so a callback step can be found on a per-epoch chart."""

TEXT: dict[str, dict[str, str]] = {
    "en": {
        "best": "best",
        "roles": "tags used",
        "errors": "read errors",
        "analysis_errors": "analysis failed (a tb-recipe bug; please report it)",
        "confidence": "confidence",
        "runs": "runs",
        "one_run": "1 run",
        "no_data": "no data",
        "none": "no findings",
        "best_none": "best: no validation curve",
        "why": "why",
        "actions": "try next",
        "more_actions": "{n} more with --all",
        "findings": "findings",
        "see_above": "suggestions shown above",
    },
    "zh": {
        "best": "最佳",
        "roles": "使用的标签",
        "errors": "读取错误",
        "analysis_errors": "分析失败（tb-recipe 的缺陷，请报告）",
        "confidence": "置信度",
        "runs": "个运行",
        "one_run": "1 个运行",
        "no_data": "无数据",
        "none": "没有发现问题",
        "best_none": "最佳：没有验证曲线",
        "why": "原因",
        "actions": "下一步",
        "more_actions": "另有 {n} 条，用 --all 查看",
        "findings": "发现",
        "see_above": "建议见上文",
    },
}
"""The terminal and Markdown presenters' labels."""

MARKDOWN: dict[str, dict[str, str]] = {
    "en": {
        "run": "Run",
        "status": "Status",
        "best": "Best",
        "verdict": "Verdict",
        "findings": "Findings",
        "actions": "Try next",
        "why": "Why",
        "suggestions": "Other suggestions",
        "errors": "Read errors",
        "none": "No findings.",
        "analysis_errors": "Analysis failed (a tb-recipe bug; please report it)",
        "related": "Related",
        "confidence": "confidence",
    },
    "zh": {
        "run": "运行",
        "status": "状态",
        "best": "最佳",
        "verdict": "结论",
        "findings": "发现",
        "actions": "下一步",
        "why": "原因",
        "suggestions": "其他建议",
        "errors": "读取错误",
        "none": "没有发现问题。",
        "analysis_errors": "分析失败（tb-recipe 的缺陷，请报告）",
        "related": "相关",
        "confidence": "置信度",
    },
}
"""The Markdown presenter's headings."""

SEVERITY: dict[str, dict[str, str]] = {
    "en": {"error": "error", "warning": "warning", "info": "info", "ok": "ok", "no_data": "no data"},
    "zh": {"error": "错误", "warning": "警告", "info": "提示", "ok": "正常", "no_data": "无数据"},
}
"""Severity and status words."""

BEST_BASIS: dict[str, dict[str, str]] = {
    "en": {"lowest": "lowest {tag}", "best": "best {tag}", "lowest_before_nonfinite": "lowest {tag} before it became non-finite"},
    "zh": {"lowest": "{tag} 最低", "best": "{tag} 最好", "lowest_before_nonfinite": "{tag} 变为非有限值之前的最低点"},
}
"""Why a step is the one to keep."""

CALLBACK: dict[str, dict[str, str]] = {
    "en": {
        "nonfinite_grads": "non-finite gradients from step {step} (layers: {layers})",
        "nonfinite_loss": "a non-finite loss on {count} step(s)",
        "and": " and ",
        "nonfinite": "tb-recipe: {what}. Try next: {actions}",
        "stopped": " Training stopped (terminate_on_nonfinite=True).",
        "unsupported": "tb-recipe: {reason}. No gradient, weight or activation statistics are recorded and the model is not touched; training is unaffected and the end-of-fit diagnosis uses the loss and metric curves only.",
        "peer": "tb-recipe: another DiagnosisCallback (log dir {log_dir}) already records this fit; this one records nothing.",
        "install": "tb-recipe: could not attach to this model ({error}); no statistics recorded, the end-of-fit diagnosis uses the curves only.",
        "restore": "tb-recipe: {name} was replaced by someone else; ours is left inert.",
        "trace": "tb-recipe: gradient statistics disabled ({error}).",
        "write": "tb-recipe: cannot write summaries to {log_dir} ({error}); training continues.",
        "failed": "tb-recipe: {what} failed ({error}); training continues.",
        "preflight": "tb-recipe pre-flight checks: {passed} passed, {failed} failed{names}; {seconds} s, about "
        "{steps} training steps of this model.",
        "preflight_replicas": "tb-recipe: pre-flight checks run on one replica only; this fit has {replicas}, so "
        "they are skipped (run tb_recipe_plugin.preflight.run_preflight before the fit instead).",
    },
    "zh": {
        "nonfinite_grads": "从第 {step} 步起梯度出现非有限值（层：{layers}）",
        "nonfinite_loss": "{count} 步的损失为非有限值",
        "and": "，以及",
        "nonfinite": "tb-recipe：{what}。下一步：{actions}",
        "stopped": " 训练已停止（terminate_on_nonfinite=True）。",
        "unsupported": "tb-recipe：{reason}。不记录梯度、权重和激活统计，也不改动模型；训练不受影响，训练结束时的诊断只用损失和指标曲线。",
        "peer": "tb-recipe：另一个 DiagnosisCallback（日志目录 {log_dir}）已在记录这次训练；这个回调不记录任何内容。",
        "install": "tb-recipe：无法挂接到这个模型（{error}）；不记录统计量，训练结束时的诊断只用曲线。",
        "restore": "tb-recipe：{name} 已被其他代码替换；我们的版本保持不生效。",
        "trace": "tb-recipe：梯度统计已关闭（{error}）。",
        "write": "tb-recipe：无法把摘要写入 {log_dir}（{error}）；训练继续。",
        "failed": "tb-recipe：{what} 失败（{error}）；训练继续。",
        "preflight": "tb-recipe 训练前检查：{passed} 项通过，{failed} 项未通过{names}；用时 {seconds} 秒，约合本模型 "
        "{steps} 个训练步。",
        "preflight_replicas": "tb-recipe：训练前检查只在单个副本上运行；本次训练有 {replicas} 个副本，因此跳过"
        "（可在训练前调用 tb_recipe_plugin.preflight.run_preflight）。",
    },
}
"""The Keras callback's messages during fit (its end-of-fit print is the CLI's text report)."""

TAB: dict[str, dict[str, object]] = {
    "en": {
        "title": "Diagnosis",
        "filter": "Filter runs",
        "noRuns": "No scalar data yet.",
        "emptyHelp": (
            'Log training curves, e.g. model.fit(..., callbacks=[keras.callbacks.TensorBoard(log_dir="logs/run1")]), '
            "then reload.\nFor gradients, updates and activations too, add tb-recipe's callback:\n"
            "  from tb_recipe_plugin.keras import DiagnosisCallback\n"
            '  model.fit(..., callbacks=[keras.callbacks.TensorBoard("logs/run1"), DiagnosisCallback("logs/run1")])'
        ),
        "best": "Recommended checkpoint:",
        "noBest": "No validation curve, so no recommended checkpoint.",
        "confidence": "confidence",
        "suggestions": "Suggestions",
        "actions": "Try next",
        "moreActions": "{n} more suggestions in the findings below",
        "why": "Why",
        "findings": "Findings",
        "errors": "Problems reading this run",
        "analysisErrors": "Analysis failed (a tb-recipe bug; please report it)",
        "analysisFailed": "analysis failed",
        "losses": "Loss",
        "batch": "Per-batch loss",
        "metrics": "Metrics",
        "lr": "Learning rate",
        "lrConstant": "Learning rate constant at {value} ({tag}): no chart.",
        "signal": "Gradients and activations (tb-recipe callback)",
        "nothing": "No problems found in this run.",
        "pick": "Select a run.",
        "nonfinite": "non-finite",
        "failed": "Could not load",
        "tags": "Tags used",
        "status": SEVERITY["en"],
        "sweeps": "Sweeps",
        "sweepTitle": "Sweep {name}",
        "sweepFailed": "{n} failed",
        "sweepHint": "Click a run to open its diagnosis; click a column to sort.",
        "sweepNothing": "No findings across this sweep.",
        "sweepAdvice": "Next sweep",
        "backToSweep": "← Sweep {name}",
        "lowerBetter": "lower is better",
        "higherBetter": "higher is better",
        "varianceShare": "{pct}% of the score's variance",
        "allHparams": "Every hyperparameter and the score",
        "colRun": "Run",
        "colBest": "Best {metric}",
        "colStep": "Best step",
        "colStatus": "Status",
        "colVerdict": "Diagnosis",
    },
    "zh": {
        "title": "诊断",
        "filter": "筛选运行",
        "noRuns": "还没有标量数据。",
        "emptyHelp": (
            '先记录训练曲线，例如 model.fit(..., callbacks=[keras.callbacks.TensorBoard(log_dir="logs/run1")])，然后刷新。\n'
            "想同时看到梯度、参数更新和激活统计，再加上 tb-recipe 的回调：\n"
            "  from tb_recipe_plugin.keras import DiagnosisCallback\n"
            '  model.fit(..., callbacks=[keras.callbacks.TensorBoard("logs/run1"), DiagnosisCallback("logs/run1")])'
        ),
        "best": "推荐的检查点：",
        "noBest": "没有验证曲线，无法推荐检查点。",
        "confidence": "置信度",
        "suggestions": "建议",
        "actions": "下一步",
        "moreActions": "另有 {n} 条建议，见下方各项发现",
        "why": "原因",
        "findings": "发现",
        "errors": "读取此运行时的问题",
        "analysisErrors": "分析失败（tb-recipe 的缺陷，请报告）",
        "analysisFailed": "分析失败",
        "losses": "损失",
        "batch": "每个 batch 的损失",
        "metrics": "指标",
        "lr": "学习率",
        "lrConstant": "学习率恒为 {value}（{tag}），不画图。",
        "signal": "梯度与激活（tb-recipe 回调）",
        "nothing": "此运行没有发现问题。",
        "pick": "请选择一个运行。",
        "nonfinite": "非有限值",
        "failed": "无法加载",
        "tags": "使用的标签",
        "status": SEVERITY["zh"],
        "sweeps": "超参数搜索",
        "sweepTitle": "超参数搜索 {name}",
        "sweepFailed": "{n} 个失败",
        "sweepHint": "点击一个运行查看它的诊断；点击列标题排序。",
        "sweepNothing": "这次搜索没有发现问题。",
        "sweepAdvice": "下一轮搜索",
        "backToSweep": "← 超参数搜索 {name}",
        "lowerBetter": "越低越好",
        "higherBetter": "越高越好",
        "varianceShare": "解释得分方差的 {pct}%",
        "allHparams": "全部超参数与得分",
        "colRun": "运行",
        "colBest": "最好的 {metric}",
        "colStep": "最好的步",
        "colStatus": "状态",
        "colVerdict": "诊断",
    },
}
"""The Diagnosis tab's words, served to it by the ``/strings`` route (with `UNITS`), so the tab has no catalogue
of its own."""
