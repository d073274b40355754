"""The sweep report's words (issue 10): findings, advice and labels, in every language."""

from __future__ import annotations

SWEEP_FINDINGS: dict[str, dict[str, str]] = {
    "failed_range": {
        "en": "{hparam} {relation} {threshold}: {hits} of {of} runs failed (NaN or diverged).",
        "zh": "{hparam} {relation} {threshold} 时，{of} 个运行中有 {hits} 个失败（NaN 或发散）。",
    },
    "still_learning_range": {
        "en": "{hparam} {relation} {threshold}: {hits} of {of} runs were still improving at the end: train longer or raise the learning rate.",
        "zh": "{hparam} {relation} {threshold} 时，{of} 个运行中有 {hits} 个到结束时仍在改善：延长训练或提高学习率。",
    },
    "best_at_edge": {
        "en": "The best run has {hparam} = {value}, the {side_word} of the searched range ({low} … {high}): the optimum may lie beyond it.",
        "zh": "最好的运行取 {hparam} = {value}，正好在搜索范围（{low} … {high}）的{side_word}：最优值可能在范围之外。",
    },
    "ranking_is_noise": {
        "en": "The best configuration leads the next by {lead}, within the {spread} spread between its own {seeds} seeds: the ranking is noise.",
        "zh": "最好的配置只领先下一个 {lead}，小于它自己 {seeds} 个随机种子之间 {spread} 的差异：这个排名是噪声。",
    },
    "no_effect": {
        "en": "{hparam} explains {share_pct}% of the score's variance: no measurable effect in this sweep.",
        "zh": "{hparam} 只解释了得分方差的 {share_pct}%：在这次搜索中没有可测的影响。",
    },
    "too_few_runs": {
        "en": "Too few runs to measure the effect of {hparams}: {runs} ranked runs spread over their values leave "
        "nothing to tell an effect from noise. Repeat the best configurations with other seeds, or add runs.",
        "zh": "运行太少，无法衡量 {hparams} 的影响：{runs} 个参与排名的运行分散在这些取值上，无法区分效果和噪声。"
        "用其他随机种子重复最好的配置，或增加运行。",
    },
}
"""Sweep findings, filled from their evidence (`sweep/analysis.py`)."""

SWEEP_ADVICE: dict[str, dict[str, str]] = {
    "search_range": {
        "en": "Search {hparam} next in {low} … {high} ({scale_word}, around the best {best}).",
        "zh": "下一轮在 {low} … {high} 之间搜索 {hparam}（{scale_word}，围绕最好的 {best}）。",
    },
    "random_search": {
        "en": "With {count} hyperparameters, sample them at random rather than on a grid: a few of them matter, and random search tries more values of those.",
        "zh": "有 {count} 个超参数时，用随机搜索代替网格搜索：通常只有少数几个重要，随机搜索能在这些参数上试到更多取值。",
    },
    "train_longer": {
        "en": "{runs} of {of} runs were still improving at the end: give the next sweep about 2x the epochs.",
        "zh": "{of} 个运行中有 {runs} 个到结束时仍在改善：下一轮把 epoch 数增加到约 2 倍。",
    },
}

SWEEP_WORDS: dict[str, dict[str, str]] = {
    "en": {
        "at_least": ">=",
        "at_most": "<=",
        "low": "low end",
        "high": "high end",
        "log": "log-uniform",
        "linear": "uniform",
        "sweep": "sweep",
        "metric": "metric",
        "runs": "runs",
        "importance": "importance (share of the score's variance)",
        "ranking": "ranking",
        "findings": "findings",
        "advice": "next sweep",
        "none": "No sweep: no folder holds 3 or more runs with hyperparameters (HParams data or names like lr=0.01).",
        "failed": "failed",
        "unranked": "not ranked (no value of the metric)",
        "best": "best",
        "source_name": "inferred from run names",
        "source_plugin": "from HParams data",
        "source_trainer": "from the Trainer's arguments",
        "source_file": "from {files}",
        "hparams": "hyperparameters",
    },
    "zh": {
        "at_least": ">=",
        "at_most": "<=",
        "low": "下端",
        "high": "上端",
        "log": "对数均匀",
        "linear": "均匀",
        "sweep": "超参数搜索",
        "metric": "指标",
        "runs": "个运行",
        "importance": "重要性（解释得分方差的比例）",
        "ranking": "排名",
        "findings": "发现",
        "advice": "下一轮搜索",
        "none": "没有超参数搜索：没有哪个文件夹包含 3 个以上带超参数的运行（HParams 数据或 lr=0.01 这样的名字）。",
        "failed": "失败",
        "unranked": "未排名（没有该指标的值）",
        "best": "最好",
        "source_name": "从运行名推断",
        "source_plugin": "取自 HParams 数据",
        "source_trainer": "取自 Trainer 的参数",
        "source_file": "取自 {files}",
        "hparams": "超参数",
    },
}
