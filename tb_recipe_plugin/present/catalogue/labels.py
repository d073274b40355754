"""Words the presenters put around the catalogue's sentences: units, headings, labels, in every language."""

from __future__ import annotations

UNITS: dict[str, dict[str, tuple[str, str]]] = {
    "en": {"step": ("step {n}", "steps {a}–{b}"), "epoch": ("epoch {n}", "epochs {a}–{b}")},
    "zh": {"step": ("第 {n} 步", "第 {a}–{b} 步"), "epoch": ("第 {n} 个 epoch", "第 {a}–{b} 个 epoch")},
}
"""A position and a range on a finding's axis: optimizer (or logging) steps, or epochs when the run counted its
curve by epoch (Keras' ``epoch_*`` summaries are written at the epoch index)."""

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
