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
        "before_training": "before training",
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
        "before_training": "训练前",
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
        "check": "Check",
        "result": "Result",
        "measured": "Measured",
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
        "check": "检查",
        "result": "结果",
        "measured": "测得",
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
        "preflight": "Pre-flight checks",
        "preflightStatus": {"passed": "passed", "failed": "failed", "not_applicable": "n/a"},
        "beforeTraining": "before training",
        "lrRange": "Learning-rate range test",
        "lrRangeAxis": "learning rate",
        "lrRangeLoss": "loss",
        "lrSuggested": "suggested {value}",
        "lrCompiled": "compiled {value}",
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
        "preflight": "训练前检查",
        "preflightStatus": {"passed": "通过", "failed": "未通过", "not_applicable": "不适用"},
        "beforeTraining": "训练前",
        "lrRange": "学习率范围测试",
        "lrRangeAxis": "学习率",
        "lrRangeLoss": "损失",
        "lrSuggested": "建议 {value}",
        "lrCompiled": "编译时 {value}",
    },
}
"""The Diagnosis tab's words, served to it by the ``/strings`` route (with `UNITS`), so the tab has no catalogue
of its own."""

PREFLIGHT: dict[str, dict[str, object]] = {
    "en": {
        "summary": "Pre-flight: {parts}",
        "with_cost": "{summary} ({cost})",
        "passed": "{n} passed",
        "failed": "{n} failed ({codes})",
        "not_applicable": "{n} not applicable",
        "sep": ", ",
        "cost": "{seconds} s, about {steps} training steps",
        "cost_seconds": "{seconds} s",
        "status": {"passed": "passed", "failed": "FAILED", "not_applicable": "n/a"},
        "checks": {
            "initial_loss_off": (
                "Initial loss",
                (
                    "loss {loss} vs ln({num_classes}) = {expected_loss} ({ratio}x)",
                    "loss {loss} vs the targets' spread {expected_loss} ({ratio}x)",
                    "loss {loss}",
                ),
            ),
            "inputs_ignored": (
                "Inputs used",
                (
                    "held-out loss {loss} vs {zero_input_loss} on zeroed inputs after {steps} steps (gain {gain_pct}%)",
                    "held-out loss {loss} vs {zero_input_loss} on zeroed inputs after {steps} steps",
                ),
            ),
            "batch_mixing": (
                "Samples independent in a batch",
                ("gradient leak to the other samples {leak} (batch of {batch_size})",),
            ),
            "cannot_overfit_batch": (
                "Overfit one batch",
                ("loss of one batch of {batch_size}: {start_loss} → {final_loss} in {steps} steps ({kept_pct}% of the start)",),
            ),
            "nonfinite_inputs": ("Finite inputs", ("{rows} of {seen} rows hold NaN/Inf ({count} values)",)),
            "nonfinite_labels": ("Finite labels", ("{rows} of {seen} rows hold NaN/Inf ({count} values)",)),
            "labels_out_of_range": (
                "Labels in the output's range",
                (
                    "one-hot width {label_width}, {num_units} output units",
                    "{count} targets outside [{range_low}, {range_high}] ({fraction_pct}%)",
                    "{count} targets below {range_low} ({fraction_pct}%)",
                    "labels {label_min} to {label_max} for {num_units} output units ({count} out of range)",
                    "targets {label_min} to {label_max}",
                ),
            ),
            "train_val_overlap": (
                "No validation rows in training",
                (
                    "{count} of {seen} validation rows found among {train_seen} training rows ({fraction_pct}%)",
                    "{count} of {seen} validation rows found among the training rows",
                ),
            ),
            "lr_range_test": (
                "Learning-rate range test",
                (
                    "suggested {suggested_lr}, compiled {compiled_lr} (lowest loss at {min_loss_lr})",
                    "suggested {suggested_lr} (lowest loss at {min_loss_lr})",
                    "compiled {compiled_lr}; the loss never fell, no rate to suggest",
                ),
            ),
        },
    },
    "zh": {
        "summary": "训练前检查：{parts}",
        "with_cost": "{summary}（{cost}）",
        "passed": "{n} 项通过",
        "failed": "{n} 项未通过（{codes}）",
        "not_applicable": "{n} 项不适用",
        "sep": "，",
        "cost": "用时 {seconds} 秒，约合 {steps} 个训练步",
        "cost_seconds": "用时 {seconds} 秒",
        "status": {"passed": "通过", "failed": "未通过", "not_applicable": "不适用"},
        "checks": {
            "initial_loss_off": (
                "初始损失",
                (
                    "损失 {loss}，对比 ln({num_classes}) = {expected_loss}（{ratio} 倍）",
                    "损失 {loss}，对比目标值离散程度 {expected_loss}（{ratio} 倍）",
                    "损失 {loss}",
                ),
            ),
            "inputs_ignored": (
                "是否用到输入",
                (
                    "训练 {steps} 步后留出损失 {loss}，全零输入为 {zero_input_loss}（提升 {gain_pct}%）",
                    "训练 {steps} 步后留出损失 {loss}，全零输入为 {zero_input_loss}",
                ),
            ),
            "batch_mixing": (
                "batch 内样本相互独立",
                ("梯度泄漏到其他样本的比例 {leak}（batch 大小 {batch_size}）",),
            ),
            "cannot_overfit_batch": (
                "拟合单个 batch",
                ("{batch_size} 行的 batch：{steps} 步内损失 {start_loss} → {final_loss}（为起始值的 {kept_pct}%）",),
            ),
            "nonfinite_inputs": ("输入无 NaN/Inf", ("{seen} 行中有 {rows} 行含 NaN/Inf（共 {count} 个值）",)),
            "nonfinite_labels": ("标签无 NaN/Inf", ("{seen} 行中有 {rows} 行含 NaN/Inf（共 {count} 个值）",)),
            "labels_out_of_range": (
                "标签在输出范围内",
                (
                    "one-hot 宽度 {label_width}，输出单元 {num_units} 个",
                    "{count} 个目标值不在 [{range_low}, {range_high}] 内（{fraction_pct}%）",
                    "{count} 个目标值低于 {range_low}（{fraction_pct}%）",
                    "标签 {label_min} 到 {label_max}，输出单元 {num_units} 个（越界 {count} 个）",
                    "目标值 {label_min} 到 {label_max}",
                ),
            ),
            "train_val_overlap": (
                "验证数据不在训练数据中",
                (
                    "{seen} 行验证数据中有 {count} 行出现在 {train_seen} 行训练数据里（{fraction_pct}%）",
                    "{seen} 行验证数据中有 {count} 行出现在训练数据里",
                ),
            ),
            "lr_range_test": (
                "学习率范围测试",
                (
                    "建议 {suggested_lr}，编译时 {compiled_lr}（损失最低处 {min_loss_lr}）",
                    "建议 {suggested_lr}（损失最低处 {min_loss_lr}）",
                    "编译时 {compiled_lr}；损失从未下降，无法给出建议",
                ),
            ),
        },
    },
}
"""The pre-flight checklist's words: the one-line summary, each check's name and how its numbers read (the first
wording whose every number the check wrote is used; a check that wrote none of them shows no numbers)."""
