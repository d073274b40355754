"""The diagnosis in words: one headline per finding code, and the frames a verdict is built from.

A headline is the finding told in one clause, with the numbers that make the
case; a verdict is the primary finding's headline, what it led to, and the
cause the run's logs show (`analysis/diagnosis.py` decides which). Each code
may list several headlines: the first whose evidence keys are all present is
used, so a finding without an optional number still reads as a sentence.
"""

from __future__ import annotations

HEADLINES: dict[str, dict[str, tuple[str, ...]]] = {
    "nonfinite_loss": {
        "en": (
            "the loss became {first_value} at {first_step_at} (last finite value {last_finite} at {last_finite_step_at})",
            "the loss became {first_value} at {first_step_at}",
            "the loss became NaN/Inf in {window_span}",
        ),
        "zh": (
            "损失在{first_step_at}变为 {first_value}（最后一个有限值是{last_finite_step_at}的 {last_finite}）",
            "损失在{first_step_at}变为 {first_value}",
            "损失在{window_span}之间变为 NaN/Inf",
        ),
    },
    "nonfinite_gradients": {
        "en": ("the gradients became NaN/Inf at {first_step_at} in {num_layers_hit} of {num_layers} layers",),
        "zh": ("梯度在{first_step_at}变为 NaN/Inf（{num_layers} 层中有 {num_layers_hit} 层）",),
    },
    "exploding_gradients": {
        "en": ("the gradients exploded: their norm reached {peak} at {peak_step_at}, {ratio}x its early level",),
        "zh": ("梯度爆炸：梯度范数在{peak_step_at}达到 {peak}，是初期水平的 {ratio} 倍",),
    },
    "divergence": {
        "en": (
            "training diverged: {tag} rose from {min_value} at {min_step_at} to {last_value} ({ratio}x its minimum)",
            "training diverged: {tag} rose from {min_value} at {min_step_at} to {last_value}",
        ),
        "zh": (
            "训练发散：{tag} 从{min_step_at}的 {min_value} 升到 {last_value}（最低值的 {ratio} 倍）",
            "训练发散：{tag} 从{min_step_at}的 {min_value} 升到 {last_value}",
        ),
    },
    "no_learning": {
        "en": (
            "nothing is being learned: {metric_tag} stays at chance level the whole run ({metric_median}, a uniform guess over {classes} classes scores {chance})",
            "nothing is being learned: {tag} stays at {typical_value} ≈ ln({classes}), a uniform guess over {classes} classes",
            "nothing is being learned: {tag} improved only {improvement_pct}% over the run",
            "nothing is being learned: {tag} stays at {last_value}",
        ),
        "zh": (
            "模型什么也没学到：{metric_tag} 整个训练都停在随机水平（{metric_median}；对 {classes} 个类别均匀猜测的得分是 {chance}）",
            "模型什么也没学到：{tag} 一直停在 {typical_value} ≈ ln({classes})，即对 {classes} 个类别均匀猜测",
            "模型什么也没学到：{tag} 整个训练只改善了 {improvement_pct}%",
            "模型什么也没学到：{tag} 一直停在 {last_value}",
        ),
    },
    "initial_loss_off": {
        "en": (
            "before the first step the loss ({loss}) is {ratio}x the ln({num_classes}) = {expected} of a fresh model",
            "before the first step the loss ({loss}) is {ratio}x the targets' spread ({target_spread})",
            "before the first step the loss is {loss}",
            "the first loss ({first_loss}) is {ratio}x the ln({num_classes}) = {expected} of a fresh model",
        ),
        "zh": (
            "训练开始前损失（{loss}）是新模型应有的 ln({num_classes}) = {expected} 的 {ratio} 倍",
            "训练开始前损失（{loss}）是目标值离散程度（{target_spread}）的 {ratio} 倍",
            "训练开始前损失就是 {loss}",
            "第一个 batch 的损失（{first_loss}）是新模型应有的 ln({num_classes}) = {expected} 的 {ratio} 倍",
        ),
    },
    "nonfinite_inputs": {
        "en": ("the inputs hold NaN/Inf: {count} value(s) in {rows} of the {seen} rows checked before training",),
        "zh": ("输入中有 NaN/Inf：训练前检查的 {seen} 行中有 {rows} 行共 {count} 个",),
    },
    "nonfinite_labels": {
        "en": ("the labels hold NaN/Inf: {count} value(s) in {rows} of the {seen} rows checked before training",),
        "zh": ("标签中有 NaN/Inf：训练前检查的 {seen} 行中有 {rows} 行共 {count} 个",),
    },
    "labels_out_of_range": {
        "en": (
            "the one-hot labels are {label_width} wide for {num_units} output units",
            "{fraction_pct}% of the targets lie outside [{range_low}, {range_high}], the output activation's range",
            "{fraction_pct}% of the targets lie below {range_low}, the output activation's lowest value",
            "the class labels run from {label_min} to {label_max} but the output has {num_units} units (classes 0 to {max_class})",
            "{count} one-hot label value(s) lie outside [0, 1]",
            "{count} label(s) lie outside what the output can produce",
        ),
        "zh": (
            "one-hot 标签宽度为 {label_width}，而输出层有 {num_units} 个单元",
            "{fraction_pct}% 的目标值不在输出激活的取值范围 [{range_low}, {range_high}] 内",
            "{fraction_pct}% 的目标值低于输出激活的最小值 {range_low}",
            "类别标签从 {label_min} 到 {label_max}，而输出层只有 {num_units} 个单元（类别 0 到 {max_class}）",
            "有 {count} 个 one-hot 标签值不在 [0, 1] 内",
            "有 {count} 个标签超出了输出层能给出的范围",
        ),
    },
    "train_val_overlap": {
        "en": ("{count} of the {seen} validation rows checked ({fraction_pct}%) are also training rows",),
        "zh": ("检查的 {seen} 行验证数据中有 {count} 行（{fraction_pct}%）也在训练数据里",),
    },
    "inputs_ignored": {
        "en": (
            "the model ignores its inputs: after {steps} steps the held-out loss is {loss} on the real inputs and {zero_input_loss} on zeroed ones",
        ),
        "zh": ("模型没有用到输入：训练 {steps} 步后，真实输入的留出损失为 {loss}，全零输入为 {zero_input_loss}",),
    },
    "batch_mixing": {
        "en": ("samples of a batch mix: one sample's gradient reaches the others with {leak}x its own norm",),
        "zh": ("同一 batch 的样本相互影响：一个样本的梯度以其自身范数的 {leak} 倍传到其他样本",),
    },
    "cannot_overfit_batch": {
        "en": (
            "the model cannot overfit one batch of {batch_size}: its loss only went from {start_loss} to {final_loss} in {steps} steps",
        ),
        "zh": ("模型连一个 {batch_size} 行的 batch 都拟合不了：{steps} 步内损失只从 {start_loss} 降到 {final_loss}",),
    },
    "lr_range_test": {
        "en": (
            "the learning-rate range test suggests {suggested_lr}, {factor_below}x the compiled {compiled_lr}",
            "the compiled learning rate {compiled_lr} is {factor_above}x what the learning-rate range test suggests ({suggested_lr})",
            "the learning-rate range test suggests {suggested_lr}; the model is compiled with {compiled_lr}",
        ),
        "zh": (
            "学习率范围测试建议 {suggested_lr}，是编译时学习率 {compiled_lr} 的 {factor_below} 倍",
            "编译时的学习率 {compiled_lr} 是学习率范围测试建议值（{suggested_lr}）的 {factor_above} 倍",
            "学习率范围测试建议 {suggested_lr}，而模型编译时的学习率是 {compiled_lr}",
        ),
    },
    "dying_relu": {
        "en": ("ReLU units died: {fraction_pct}% of {layer}'s units output 0 ({num_layers_hit} of {num_layers} ReLU layers hit: {layers})",),
        "zh": ("ReLU 神经元死亡：{layer} 层有 {fraction_pct}% 的神经元恒为 0（{num_layers} 个 ReLU 层中有 {num_layers_hit} 个：{layers}）",),
    },
    "vanishing_gradients": {
        "en": ("the gradients vanish: {first_layer} gets {ratio}x the gradient norm of {last_layer}",),
        "zh": ("梯度消失：{first_layer} 层的梯度范数只有 {last_layer} 层的 {ratio} 倍",),
    },
    "saturated_activations": {
        "en": ("activations saturate: {fraction_pct}% of {layer}'s outputs sit at the sigmoid/tanh limits",),
        "zh": ("激活饱和：{layer} 层有 {fraction_pct}% 的输出落在 sigmoid/tanh 的饱和区",),
    },
    "data_problem": {
        "en": (
            "validation does not follow training: {val_tag} changed {val_gain_pct}% while {train_tag} improved {train_gain_pct}%",
        ),
        "zh": ("验证集与训练不一致：{val_tag} 变化了 {val_gain_pct}%，而 {train_tag} 改善了 {train_gain_pct}%",),
    },
    "lr_too_high": {
        "en": (
            "the peak learning rate {lr_peak} is too high: {tag} stalls at {loss_at_start}-{loss_at_end} while it lasts and falls to {loss_after} only once the schedule lowers it",
        ),
        "zh": (
            "峰值学习率 {lr_peak} 太高：在峰值期间 {tag} 停在 {loss_at_start}-{loss_at_end}，直到调度降低学习率后才降到 {loss_after}",
        ),
    },
    "update_ratio_high": {
        "en": ("each step changes the weights by {ratio} of their norm (about {healthy} is healthy)",),
        "zh": ("每一步对权重的改变量约为其范数的 {ratio}（健康的比例约为 {healthy}）",),
    },
    "update_ratio_low": {
        "en": ("each step changes the weights by only {ratio} of their norm (about {healthy} is healthy)",),
        "zh": ("每一步对权重的改变量只有其范数的 {ratio}（健康的比例约为 {healthy}）",),
    },
    "loss_spikes": {
        "en": ("{tag} spiked {count} times, up to {max_ratio}x its local level at {max_step_at}",),
        "zh": ("{tag} 出现了 {count} 次尖峰，最大一次在{max_step_at}，是局部水平的 {max_ratio} 倍",),
    },
    "overfitting": {
        "en": (
            "overfitting: {val_tag} was best at {best_step_at} ({val_best}) and rose {rise_pct}% to {val_last} while {train_tag} kept falling",
        ),
        "zh": ("过拟合：{val_tag} 在{best_step_at}最好（{val_best}），之后上升 {rise_pct}% 到 {val_last}，而 {train_tag} 仍在下降",),
    },
    "lr_too_small": {
        "en": ("the learning rate is too small: {tag} falls in a straight line (R² {r2}) from {first_value} to {last_value}",),
        "zh": ("学习率太小：{tag} 几乎直线下降（R² {r2}），从 {first_value} 到 {last_value}",),
    },
    "lr_decay_too_early": {
        "en": (
            "the learning rate decayed too early: to {lr_fraction_pct}% of its peak by {decay_step_at}, after which {tag} changed only {after_change_pct}%",
        ),
        "zh": ("学习率衰减得太早：{decay_step_at}就降到峰值的 {lr_fraction_pct}%，此后 {tag} 只变化了 {after_change_pct}%",),
    },
    "underfitting": {
        "en": (
            "underfitting: {metric_tag} levels off at {train_accuracy} (validation {val_accuracy})",
            "underfitting: {train_tag} levels off at {train_last} after improving only {improvement_pct}%",
        ),
        "zh": (
            "欠拟合：{metric_tag} 停在 {train_accuracy}（验证 {val_accuracy}）",
            "欠拟合：{train_tag} 只改善了 {improvement_pct}% 就停在 {train_last}",
        ),
    },
    "periodic_loss": {
        "en": ("the data order repeats every epoch: {tag} repeats with a period of {period} steps",),
        "zh": ("每个 epoch 的数据顺序都一样：{tag} 以 {period} 步为周期重复",),
    },
    "noisy_loss": {
        "en": ("{tag} is noisy: its step-to-step swing is {noise_ratio}x its overall trend",),
        "zh": ("{tag} 噪声很大：逐点波动是总体趋势的 {noise_ratio} 倍",),
    },
    "val_plateau": {
        "en": ("validation stopped improving: {val_tag} has stayed near {val_best} since {start_step_at} while {train_tag} still falls",),
        "zh": ("验证集不再改善：{val_tag} 从{start_step_at}起一直在 {val_best} 附近，而 {train_tag} 仍在下降",),
    },
    "plateau": {
        "en": ("training has plateaued: {tag} has stayed near {plateau_value} since {start_step_at}",),
        "zh": ("训练进入平台期：{tag} 从{start_step_at}起一直在 {plateau_value} 附近",),
    },
    "still_learning": {
        "en": ("{tag} was still improving at the end ({tail_change_pct}% over the last {tail_fraction_pct}% of the run)",),
        "zh": ("{tag} 到训练结束时仍在改善（最后 {tail_fraction_pct}% 的训练中改善了 {tail_change_pct}%）",),
    },
    "best_checkpoint_mismatch": {
        "en": ("{loss_tag} is best at {loss_step_at} but {metric_tag} at {metric_step_at}",),
        "zh": ("{loss_tag} 在{loss_step_at}最好，而 {metric_tag} 在{metric_step_at}最好",),
    },
    "val_better_than_train": {
        "en": ("{val_tag} stays below {train_tag} ({fraction_pct}% of the evaluations), as dropout or augmentation make it",),
        "zh": ("{val_tag} 一直低于 {train_tag}（{fraction_pct}% 的评估），dropout 或数据增强通常会这样",),
    },
}
"""One clause per finding code, lower-case first (a verdict capitalises it); alternatives most specific first."""

NOUNS: dict[str, dict[str, str]] = {
    "nonfinite_loss": {"en": "a NaN/Inf loss", "zh": "损失变为 NaN/Inf"},
    "nonfinite_gradients": {"en": "NaN/Inf gradients", "zh": "梯度变为 NaN/Inf"},
    "exploding_gradients": {"en": "exploding gradients", "zh": "梯度爆炸"},
    "divergence": {"en": "a diverging loss", "zh": "训练发散"},
    "no_learning": {"en": "no learning at all", "zh": "模型什么也没学到"},
    "initial_loss_off": {"en": "an initial loss far from what a fresh model gives", "zh": "初始损失偏离新模型应有的值"},
    "nonfinite_inputs": {"en": "NaN/Inf in the inputs", "zh": "输入中有 NaN/Inf"},
    "nonfinite_labels": {"en": "NaN/Inf in the labels", "zh": "标签中有 NaN/Inf"},
    "labels_out_of_range": {"en": "labels the output cannot produce", "zh": "标签超出输出层的范围"},
    "train_val_overlap": {"en": "validation rows that are also training rows", "zh": "验证数据与训练数据重复"},
    "inputs_ignored": {"en": "a model that ignores its inputs", "zh": "模型没有用到输入"},
    "batch_mixing": {"en": "samples that mix across the batch", "zh": "同一 batch 的样本相互影响"},
    "cannot_overfit_batch": {"en": "a model that cannot overfit one batch", "zh": "模型连一个 batch 都拟合不了"},
    "lr_range_test": {
        "en": "a learning rate far from the range test's suggestion",
        "zh": "学习率与范围测试的建议相差很远",
    },
    "dying_relu": {"en": "dead ReLU units", "zh": "ReLU 神经元死亡"},
    "vanishing_gradients": {"en": "vanishing gradients", "zh": "梯度消失"},
    "saturated_activations": {"en": "saturated activations", "zh": "激活饱和"},
    "data_problem": {"en": "validation data that does not match training", "zh": "验证数据与训练数据不一致"},
    "lr_too_high": {"en": "a learning rate that is too high", "zh": "学习率过高"},
    "update_ratio_high": {"en": "updates too large for the weights", "zh": "参数更新幅度过大"},
    "update_ratio_low": {"en": "updates too small to matter", "zh": "参数更新幅度过小"},
    "loss_spikes": {"en": "loss spikes", "zh": "损失尖峰"},
    "overfitting": {"en": "overfitting", "zh": "过拟合"},
    "lr_too_small": {"en": "a learning rate that is too small", "zh": "学习率过小"},
    "lr_decay_too_early": {"en": "a learning rate that decayed too early", "zh": "学习率衰减过早"},
    "underfitting": {"en": "underfitting", "zh": "欠拟合"},
    "periodic_loss": {"en": "a loss that repeats every epoch", "zh": "损失按 epoch 周期重复"},
    "noisy_loss": {"en": "a noisy loss", "zh": "损失噪声大"},
    "val_plateau": {"en": "a validation plateau", "zh": "验证集停滞"},
    "plateau": {"en": "a plateau", "zh": "训练停滞"},
    "still_learning": {"en": "a run stopped while still improving", "zh": "训练在仍有改善时就结束了"},
    "best_checkpoint_mismatch": {"en": "a loss-best and a metric-best step that differ", "zh": "损失最优与指标最优不在同一步"},
    "val_better_than_train": {"en": "a validation loss below the training loss", "zh": "验证损失低于训练损失"},
}
"""Each finding as a noun phrase, for "this led to ..." and "a consequence of ..."."""

FRAMES: dict[str, dict[str, str]] = {
    "problem": {"en": "{headline}{led_to}{cause}.", "zh": "{headline}{led_to}{cause}。"},
    "healthy": {"en": "Healthy: no problem found{best}.", "zh": "健康：没有发现问题{best}。"},
    "healthy_still_learning": {
        "en": "Healthy, and {headline}: train about 2x longer{longer}.",
        "zh": "健康，且 {headline}：训练时间可以延长约 1 倍{longer}。",
    },
    "healthy_note": {"en": "Healthy: {headline}.", "zh": "健康：{headline}。"},
    "no_data": {"en": "Nothing to diagnose: {error}.", "zh": "无法诊断：{error}。"},
    "failed": {
        "en": "The analysis failed (a tb-recipe bug; please report it).",
        "zh": "分析失败（tb-recipe 的缺陷，请报告）。",
    },
}
"""Verdict sentences by kind; `{headline}` is the primary finding's, the rest are the clauses below."""

CLAUSES: dict[str, dict[str, str]] = {
    "led_to": {"en": "; this led to {items}", "zh": "；并由此导致{items}"},
    "lr_rise": {
        "en": "; the learning rate had risen {lr_rise}x ({lr_first} → {lr_reached}) by then",
        "zh": "；此时学习率已经升高了 {lr_rise} 倍（{lr_first} → {lr_reached}）",
    },
    "best": {"en": "; keep {best_step_at} ({best_basis})", "zh": "；保留{best_step_at}（{best_basis}）"},
    "longer": {"en": " ({epochs} → {epochs_target} epochs)", "zh": "（{epochs} → {epochs_target} 个 epoch）"},
    "list_sep": {"en": ", ", "zh": "、"},
}

RELATIONS: dict[str, dict[str, str]] = {
    "consequence": {"en": "a consequence of {of}", "zh": "由{of}导致"},
    "consequence_primary": {"en": "a consequence of the primary problem", "zh": "由主要问题导致"},
    "separate": {"en": "a separate problem", "zh": "另一个独立的问题"},
    "context": {"en": "context, not a problem by itself", "zh": "背景信息，本身不是问题"},
}
"""Why a finding is listed beside the primary one."""

CAUSE_TITLES: dict[str, dict[str, str]] = {
    "lr_schedule": {
        "en": "Learning rate rose {lr_rise}x ({lr_first} → {lr_reached})",
        "zh": "学习率升高了 {lr_rise} 倍（{lr_first} → {lr_reached}）",
    },
}
"""Names of the causes outside the findings, as an action's source or the first link of the evidence chain."""
