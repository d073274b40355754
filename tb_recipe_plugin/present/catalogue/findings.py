"""Per finding code: title, message, the one-line headline a verdict uses, and its suggestions, in every language.

Templates are filled from the finding's evidence (`render.py`). Suggestions are
listed most effective first: the diagnosis ranks actions by that order.
"""

from __future__ import annotations

from dataclasses import dataclass

LANGS = ("en", "zh")


@dataclass(frozen=True)
class FindingSpec:
    title: dict[str, str]
    message: dict[str, str]
    suggestions: tuple[str, ...]
    # Optional sentence parts: (name, evidence key that must be present, {lang: template}); when several
    # fragments fill one name, the first whose key is present wins, and the name is empty when none is.
    fragments: tuple[tuple[str, str, dict[str, str]], ...] = ()


FINDINGS: dict[str, FindingSpec] = {
    "nonfinite_loss": FindingSpec(
        {"en": "Non-finite loss (NaN/Inf)", "zh": "损失出现 NaN/Inf"},
        {
            "en": "{tag} became {first_value} {where} ({count} non-finite points{last_finite_text}).",
            "zh": "{tag} {where}变为 {first_value}（共 {count} 个非有限值{last_finite_text}）。",
        },
        (
            "check_inputs_nan",
            "lower_lr",
            "clip_gradients",
            "safe_loss_ops",
            "add_batchnorm",
            "weight_decay",
            "residual_connections",
        ),
        (
            (
                "where",
                "first_step",
                {"en": "at {first_step_at}", "zh": "在{first_step_at}"},
            ),
            (
                "where",
                "window_start",
                {
                    "en": "in {window_span} (counted by the callback on every step)",
                    "zh": "在{window_span}之间（回调逐步计数）",
                },
            ),
            (
                "last_finite_text",
                "last_finite",
                {
                    "en": "; last finite value {last_finite} at {last_finite_step_at}",
                    "zh": "；最后一个有限值为{last_finite_step_at}的 {last_finite}",
                },
            ),
        ),
    ),
    "divergence": FindingSpec(
        {"en": "Training diverges", "zh": "训练发散"},
        {
            "en": "{tag} fell to {min_value} at {min_step_at} and then rose to {last_value} by {end_step_at}{ratio_text} without recovering.",
            "zh": "{tag} 在{min_step_at}降到 {min_value} 后回升，到{end_step_at}为 {last_value}{ratio_text}，且没有恢复。",
        },
        ("lower_lr", "clip_gradients", "lr_warmup", "check_pipeline", "add_batchnorm"),
        (("ratio_text", "ratio", {"en": " ({ratio}x its minimum)", "zh": "（最低值的 {ratio} 倍）"}),),
    ),
    "no_learning": FindingSpec(
        {"en": "Nothing is being learned", "zh": "模型没有学到东西"},
        {
            "en": "{summary}{chance_note}.",
            "zh": "{summary}{chance_note}。",
        },
        (
            "check_gradients_nonfinite",
            "overfit_one_batch",
            "lr_sweep",
            "lower_init_scale",
            "check_labels",
            "check_last_layer",
        ),
        (
            (
                "summary",
                "collapsed_step",
                {
                    "en": "{tag} had reached {best_value} but has stayed at {last_value} since {collapsed_step_at}: the model fell back to a constant prediction",
                    "zh": "{tag} 曾经降到 {best_value}，但从{collapsed_step_at}起一直停在 {last_value}：模型退化成了常数预测",
                },
            ),
            (
                "summary",
                "improvement_pct",
                {
                    "en": "{tag} went from {first_value} to {last_value} (best {best_value}), a {improvement_pct}% improvement over the run",
                    "zh": "{tag} 从 {first_value} 变为 {last_value}（最好 {best_value}），整个训练只改善了 {improvement_pct}%",
                },
            ),
            (
                "chance_note",
                "ln_classes",
                {
                    "en": "; {typical_value} ≈ ln({classes}) = {ln_classes}, the loss of a uniform guess over {classes} classes",
                    "zh": "；{typical_value} ≈ ln({classes}) = {ln_classes}，正是对 {classes} 个类别均匀猜测时的损失",
                },
            ),
            (
                "chance_note",
                "metric_median",
                {
                    "en": "; {metric_tag} stayed at chance the whole run (median {metric_median}, never above {metric_max}, where a uniform guess over {classes} classes scores {chance})",
                    "zh": "；{metric_tag} 整个训练都停在随机水平（中位数 {metric_median}，最高不超过 {metric_max}，而对 {classes} 个类别均匀猜测的得分是 {chance}）",
                },
            ),
        ),
    ),
    "overfitting": FindingSpec(
        {"en": "Overfitting", "zh": "过拟合"},
        {
            "en": "{val_tag} bottomed at {val_best} at {best_step_at} and moved to {val_last} by {end_step_at} while {train_tag} fell from {train_at_best} to {train_last}.",
            "zh": "{val_tag} 在{best_step_at}达到最好值 {val_best}，到{end_step_at}变为 {val_last}，而 {train_tag} 从 {train_at_best} 继续降到 {train_last}。",
        },
        ("early_stopping", "dropout", "weight_decay", "augmentation", "more_data", "smaller_model"),
    ),
    "val_plateau": FindingSpec(
        {"en": "Validation stopped improving", "zh": "验证集不再提升"},
        {
            "en": "{val_tag} has stayed within {val_spread_pct}% of its best ({val_best} at {best_step_at}) since {start_step_at}, while {train_tag} kept falling from {train_start} to {train_last}.",
            "zh": "从{start_step_at}起 {val_tag} 一直在最好值（{best_step_at}的 {val_best}）的 {val_spread_pct}% 以内，而 {train_tag} 仍从 {train_start} 降到 {train_last}。",
        },
        ("early_stopping", "reduce_lr_on_plateau", "dropout", "weight_decay", "augmentation"),
    ),
    "underfitting": FindingSpec(
        {"en": "Underfitting", "zh": "欠拟合"},
        {
            "en": "{train_tag} levelled off at {train_last}{loss_text}{accuracy_text}: the model is not fitting even the training data.",
            "zh": "{train_tag} 停在 {train_last}{loss_text}{accuracy_text}：模型连训练集都没拟合好。",
        },
        ("bigger_model", "less_regularization", "lr_sweep"),
        (
            (
                "loss_text",
                "gap_pct",
                {
                    "en": " (only {improvement_pct}% below its start) with a train/validation gap of {gap_pct}%",
                    "zh": "（只比开始时低 {improvement_pct}%），训练/验证差距仅 {gap_pct}%",
                },
            ),
            (
                "accuracy_text",
                "train_accuracy",
                {
                    "en": ", and {metric_tag} is stuck at {train_accuracy} with validation accuracy level with it ({val_accuracy})",
                    "zh": "，{metric_tag} 停在 {train_accuracy}，验证准确率与之持平（{val_accuracy}）",
                },
            ),
        ),
    ),
    "plateau": FindingSpec(
        {"en": "Training has plateaued", "zh": "训练进入平台期"},
        {
            "en": "{tag} improved by less than {tail_change_pct}% over the last {tail_fraction_pct}% of the run ({span}) after improving {early_improvement_pct}% before.",
            "zh": "{tag} 在最后 {tail_fraction_pct}% 的训练（{span}）中改善不到 {tail_change_pct}%，而此前改善了 {early_improvement_pct}%。",
        },
        ("reduce_lr_on_plateau", "lower_lr", "smaller_batch", "stop_earlier"),
    ),
    "still_learning": FindingSpec(
        {"en": "Still improving at the end", "zh": "训练结束时仍在提升"},
        {
            "en": "{tag} was still improving at the last step ({tail_change_pct}% over the last {tail_fraction_pct}% of the run, ending at {last_value}){val_note}: the run is probably stopped too early.",
            "zh": "{tag} 到最后一步仍在改善（最后 {tail_fraction_pct}% 的训练中改善了 {tail_change_pct}%，最终为 {last_value}）{val_note}：训练可能停得太早。",
        },
        ("train_longer", "keep_schedule"),
        (
            (
                "val_note",
                "also_improving",
                {"en": "; {also_improving} is improving too", "zh": "；{also_improving} 也在改善"},
            ),
        ),
    ),
    "lr_too_small": FindingSpec(
        {"en": "Learning rate probably too small", "zh": "学习率可能太小"},
        {
            "en": "{tag} decreases almost linearly (straight-line fit R² = {r2}, second half {second_half_ratio}x as steep as the first) from {first_value} to {last_value}, with no sign of saturation.",
            "zh": "{tag} 几乎呈直线下降（直线拟合 R² = {r2}，后半段斜率是前半段的 {second_half_ratio} 倍），从 {first_value} 降到 {last_value}，看不到饱和的迹象。",
        },
        ("raise_lr", "lr_range_test"),
    ),
    "lr_too_high": FindingSpec(
        {"en": "Learning rate probably too high", "zh": "学习率可能太大"},
        {
            "en": "{tag} barely improved while {lr_tag} was at or above half its peak of {lr_peak} ({high_span}: {loss_at_start} → {loss_at_end}) and fell to {loss_after} only once the schedule lowered it: the peak is too high for this model. Try a peak of {suggested_low}–{suggested_high} (3-10x lower).",
            "zh": "{lr_tag} 处于峰值 {lr_peak} 的一半以上时（{high_span}），{tag} 几乎没有改善（{loss_at_start} → {loss_at_end}），直到学习率被调度降低后才降到 {loss_after}：对这个模型来说峰值太高。可以把峰值设为 {suggested_low}–{suggested_high}（降低 3-10 倍）。",
        },
        ("lower_lr", "lr_warmup", "lr_range_test"),
    ),
    "noisy_loss": FindingSpec(
        {"en": "Noisy curve", "zh": "曲线震荡"},
        {
            "en": "{tag} fluctuates by {noise_ratio}x its overall trend (typical step-to-step swing {noise} against a total change of {trend}).",
            "zh": "{tag} 的波动是整体趋势的 {noise_ratio} 倍（相邻点典型变化 {noise}，而总体变化只有 {trend}）。",
        },
        ("larger_batch", "lower_lr", "shuffle_data", "larger_val_set", "more_capacity"),
    ),
    "periodic_loss": FindingSpec(
        {"en": "Loss repeats every epoch", "zh": "损失按 epoch 周期性重复"},
        {
            "en": "{tag} repeats with a period of {period} steps (autocorrelation {autocorr}); the epoch is {epoch_steps} steps long: batches come in the same order every epoch.",
            "zh": "{tag} 以 {period} 步为周期重复（自相关 {autocorr}），而一个 epoch 有 {epoch_steps} 步：每个 epoch 的批次顺序都一样。",
        },
        ("shuffle_data", "check_sampler"),
    ),
    "loss_spikes": FindingSpec(
        {"en": "Loss spikes", "zh": "损失尖峰"},
        {
            "en": "{tag} has {count} isolated spike(s) above {threshold}x its local level; the largest is {max_value} at {max_step_at} ({max_ratio}x).",
            "zh": "{tag} 出现 {count} 次孤立尖峰（超过局部水平的 {threshold} 倍），最大一次是{max_step_at}的 {max_value}（{max_ratio} 倍）。",
        },
        ("clip_gradients", "lower_lr", "lr_warmup", "check_bad_batches"),
    ),
    "lr_decay_too_early": FindingSpec(
        {"en": "Learning rate decayed too early", "zh": "学习率衰减过早"},
        {
            "en": "{lr_tag} fell to {lr_fraction_pct}% of its peak by {decay_step_at} while {tag} was still improving; afterwards {tag} changed only {after_change_pct}%.",
            "zh": "{lr_tag} 在{decay_step_at}已降到峰值的 {lr_fraction_pct}%，而 {tag} 当时仍在改善；此后 {tag} 只变化了 {after_change_pct}%。",
        },
        ("delay_decay", "reduce_lr_on_plateau", "disable_decay"),
    ),
    "val_better_than_train": FindingSpec(
        {"en": "Validation loss below training loss", "zh": "验证损失低于训练损失"},
        {
            "en": "{val_tag} stayed below {train_tag} on {fraction_pct}% of the evaluations (last: {val_last} vs {train_last}).",
            "zh": "{fraction_pct}% 的评估中 {val_tag} 低于 {train_tag}（最后：{val_last} 对 {train_last}）。",
        },
        ("explain_regularization_gap", "larger_val_set", "check_leakage"),
    ),
    "data_problem": FindingSpec(
        {"en": "Validation does not follow training", "zh": "验证集与训练不一致"},
        {"en": "{train_flat_text}{val_stuck_text}", "zh": "{train_flat_text}{val_stuck_text}"},
        ("check_split_distribution", "check_leakage", "check_labels", "check_val_preprocessing"),
        (
            (
                "train_flat_text",
                "train_flat",
                {
                    "en": "{val_tag} improved {val_gain_pct}% while {train_tag} changed only {train_gain_pct}%: validation does not follow training.",
                    "zh": "{val_tag} 改善了 {val_gain_pct}%，而 {train_tag} 只变化了 {train_gain_pct}%：验证集的表现与训练不一致。",
                },
            ),
            (
                "val_stuck_text",
                "val_stuck",
                {
                    "en": "{train_tag} improved {train_gain_pct}% but {val_tag} never got clearly better than its first evaluations (best {val_best} at {best_step_at}, last {val_last}): validation data may not match training data.",
                    "zh": "{train_tag} 改善了 {train_gain_pct}%，但 {val_tag} 始终没有明显好于最初的评估（最好 {val_best}，{best_step_at}；最后 {val_last}）：验证数据可能与训练数据不一致。",
                },
            ),
        ),
    ),
    "best_checkpoint_mismatch": FindingSpec(
        {"en": "Best loss and best metric at different steps", "zh": "最优损失与最优指标不在同一步"},
        {
            "en": "{loss_tag} is best at {loss_step_at} ({loss_best}) but {metric_tag} is best at {metric_step_at} ({metric_best}; {metric_at_loss_step} at the loss-best step).",
            "zh": "{loss_tag} 在{loss_step_at}最好（{loss_best}），而 {metric_tag} 在{metric_step_at}最好（{metric_best}；在损失最优步为 {metric_at_loss_step}）。",
        },
        ("checkpoint_by_metric",),
    ),
    "nonfinite_gradients": FindingSpec(
        {"en": "Non-finite gradients (NaN/Inf)", "zh": "梯度出现 NaN/Inf"},
        {
            "en": "Gradients became NaN/Inf at {first_step_at}{layer_text}; {steps} step(s) had non-finite gradients.",
            "zh": "梯度在{first_step_at}变成 NaN/Inf{layer_text}；共 {steps} 步的梯度非有限。",
        },
        ("check_inputs_nan", "safe_loss_ops", "lower_lr", "clip_gradients", "lr_warmup"),
        (
            (
                "layer_text",
                "layers",
                {
                    "en": ", in {num_layers_hit} of {num_layers} layers ({layers})",
                    "zh": "，{num_layers} 层中有 {num_layers_hit} 层受影响（{layers}）",
                },
            ),
        ),
    ),
    "exploding_gradients": FindingSpec(
        {"en": "Exploding gradients", "zh": "梯度爆炸"},
        {
            "en": "Gradients explode{growth_text}{layer_text}.",
            "zh": "梯度爆炸{growth_text}{layer_text}。",
        },
        ("clip_gradients", "lower_lr", "lr_warmup", "add_batchnorm", "lower_init_scale", "residual_connections"),
        (
            (
                "growth_text",
                "peak",
                {
                    "en": ": the gradient norm reached {peak} at {peak_step_at}, {ratio}x its early level of {early}",
                    "zh": "：梯度范数在{peak_step_at}达到 {peak}，是初期水平 {early} 的 {ratio} 倍",
                },
            ),
            (
                "layer_text",
                "layer_ratio",
                {
                    "en": ": the input-side layer {first_layer} gets {layer_ratio}x the gradient norm of the output-side layer {last_layer}",
                    "zh": "：靠近输入的 {first_layer} 层的梯度范数是靠近输出的 {last_layer} 层的 {layer_ratio} 倍",
                },
            ),
        ),
    ),
    "vanishing_gradients": FindingSpec(
        {"en": "Vanishing gradients", "zh": "梯度消失"},
        {
            "en": "The input-side layer {first_layer} gets {ratio}x the gradient norm of the output-side layer {last_layer} ({first_norm} vs {last_norm}, median over the second half of the run, {num_layers} layers): the early layers barely learn.",
            "zh": "靠近输入的 {first_layer} 层的梯度范数只有靠近输出的 {last_layer} 层的 {ratio} 倍（后半程中位数 {first_norm} 对 {last_norm}，共 {num_layers} 层）：前面的层几乎学不到东西。",
        },
        ("use_relu", "add_batchnorm", "residual_connections", "lower_init_scale"),
    ),
    "dying_relu": FindingSpec(
        {"en": "Dying ReLUs", "zh": "ReLU 神经元死亡"},
        {
            "en": "{fraction_pct}% of the units of {layer} output 0 for every probe sample; {num_layers_hit} of {num_layers} ReLU layers are 70% dead or more ({layers}). Dead units get no gradient and do not recover.",
            "zh": "{layer} 层有 {fraction_pct}% 的神经元对所有探测样本都输出 0；{num_layers} 个 ReLU 层中有 {num_layers_hit} 个死亡比例达到 70% 以上（{layers}）。死亡的神经元得不到梯度，也不会再恢复。",
        },
        ("lower_lr", "leaky_relu", "check_bias_init", "lower_init_scale", "add_batchnorm"),
    ),
    "saturated_activations": FindingSpec(
        {"en": "Saturated activations", "zh": "激活函数饱和"},
        {
            "en": "{fraction_pct}% of the outputs of {layer} sit at the sigmoid/tanh limits, where the derivative is nearly 0; {num_layers_hit} of {num_layers} such hidden layers are 50% saturated or more ({layers}).",
            "zh": "{layer} 层有 {fraction_pct}% 的输出落在 sigmoid/tanh 的饱和区，那里的导数几乎为 0；{num_layers} 个这类隐藏层中有 {num_layers_hit} 个饱和比例达到 50% 以上（{layers}）。",
        },
        ("normalize_inputs", "lower_init_scale", "add_batchnorm", "use_relu"),
    ),
    "update_ratio_high": FindingSpec(
        {"en": "Updates too large for the weights", "zh": "参数更新幅度过大"},
        {
            "en": "Each step changes the weights by {ratio} of their norm (median over layers and reads, {span}); about {healthy} is healthy.",
            "zh": "每一步对权重的改变量约为其范数的 {ratio}（各层、各次读取的中位数，{span}）；健康的比例约为 {healthy}。",
        },
        ("lower_lr", "lr_warmup", "clip_gradients"),
    ),
    "update_ratio_low": FindingSpec(
        {"en": "Updates too small to matter", "zh": "参数更新幅度过小"},
        {
            "en": "Each step changes the weights by only {ratio} of their norm (median over layers and reads, {span}); about {healthy} is healthy.",
            "zh": "每一步对权重的改变量只有其范数的 {ratio}（各层、各次读取的中位数，{span}）；健康的比例约为 {healthy}。",
        },
        ("raise_lr", "lr_range_test"),
    ),
    "initial_loss_off": FindingSpec(
        {"en": "Initial loss far from what a fresh model gives", "zh": "初始损失偏离新模型应有的值"},
        {"en": "{summary}{bias_text}.", "zh": "{summary}{bias_text}。"},
        ("normalize_inputs", "check_from_logits", "lower_init_scale", "init_output_bias", "check_labels"),
        (
            # before the summaries that quote it: fragments are filled in this order
            ("ratio_text", "ratio", {"en": " ({ratio}x)", "zh": "（{ratio} 倍）"}),
            (
                "summary",
                "first_loss",
                {
                    "en": "The first batch's loss was {first_loss}, {ratio}x the {expected} = ln({num_classes}) that a freshly initialised {num_classes}-class model should give",
                    "zh": "第一个 batch 的损失为 {first_loss}，是刚初始化的 {num_classes} 类模型应有的 ln({num_classes}) = {expected} 的 {ratio} 倍",
                },
            ),
            (
                "summary",
                "target_spread",
                {
                    "en": "Before any training step (pre-flight check on a clone of the model) the loss was {loss}{ratio_text}, against the targets' spread of {target_spread} (their variance for MSE, mean absolute deviation for MAE), which a constant output at their mean gives",
                    "zh": "训练开始前（在模型副本上检查）损失为 {loss}{ratio_text}，而目标值的离散程度只有 {target_spread}（MSE 为方差，MAE 为平均绝对偏差），输出恒为目标均值时即可达到",
                },
            ),
            (
                "summary",
                "loss",
                {
                    "en": "Before any training step (pre-flight check on a clone of the model) the loss was {loss}{ratio_text}, against ln({num_classes}) = {expected} for a freshly initialised {num_classes}-class model",
                    "zh": "训练开始前（在模型副本上检查）损失为 {loss}{ratio_text}，而刚初始化的 {num_classes} 类模型应为 ln({num_classes}) = {expected}",
                },
            ),
            (
                "bias_text",
                "class_bias",
                {
                    "en": "; an output bias at the log class priors, [{class_bias}] (the `suggested_bias` series), gives {prior_loss}",
                    "zh": "；把输出偏置设为各类先验的对数 [{class_bias}]（见 `suggested_bias` 序列），损失即为 {prior_loss}",
                },
            ),
            (
                "bias_text",
                "target_bias",
                {
                    "en": "; an output bias at the targets' mean (median for MAE), [{target_bias}] (the `suggested_bias` series), gives {prior_loss}",
                    "zh": "；把输出偏置设为目标均值（MAE 用中位数）[{target_bias}]（见 `suggested_bias` 序列），损失即为 {prior_loss}",
                },
            ),
        ),
    ),
    "nonfinite_inputs": FindingSpec(
        {"en": "NaN/Inf in the inputs", "zh": "输入中有 NaN/Inf"},
        {
            "en": "The pre-flight check found {count} NaN/Inf value(s) in {rows} of the {seen} input rows it read ({rows_pct}%), before any training step: each makes its loss NaN, and the first update that includes one turns the weights NaN.",
            "zh": "训练前检查在读取的 {seen} 行输入中发现 {rows} 行（{rows_pct}%）共 {count} 个 NaN/Inf 值：每个都会让对应的损失变成 NaN，第一次包含它的更新就会把权重变成 NaN。",
        },
        ("clean_nonfinite_inputs", "find_nonfinite_source", "check_inputs_nan"),
    ),
    "nonfinite_labels": FindingSpec(
        {"en": "NaN/Inf in the labels", "zh": "标签中有 NaN/Inf"},
        {
            "en": "The pre-flight check found {count} NaN/Inf value(s) in the labels of {rows} of the {seen} rows it read ({rows_pct}%), before any training step: each makes its loss NaN, and the first update that includes one turns the weights NaN.",
            "zh": "训练前检查在读取的 {seen} 行中发现 {rows} 行（{rows_pct}%）的标签共有 {count} 个 NaN/Inf 值：每个都会让对应的损失变成 NaN，第一次包含它的更新就会把权重变成 NaN。",
        },
        ("clean_nonfinite_labels", "find_nonfinite_source"),
    ),
    "labels_out_of_range": FindingSpec(
        {"en": "Labels the output cannot produce", "zh": "标签超出输出层的范围"},
        {"en": "{summary}", "zh": "{summary}"},
        ("fit_labels_to_output", "check_labels", "check_last_layer"),
        (
            (
                "summary",
                "label_width",
                {
                    "en": "The one-hot labels are {label_width} wide but the output has {num_units} units (pre-flight check): classes do not line up, or the loss fails.",
                    "zh": "one-hot 标签宽度为 {label_width}，而输出层有 {num_units} 个单元（训练前检查）：类别对不上，或者损失直接报错。",
                },
            ),
            (
                "summary",
                "onehot_width",
                {
                    "en": "{count} one-hot label value(s) ({fraction_pct}%) lie outside [0, 1] (from {label_min} to {label_max}; pre-flight check): they are no class probabilities.",
                    "zh": "有 {count} 个 one-hot 标签值（{fraction_pct}%）不在 [0, 1] 内（从 {label_min} 到 {label_max}；训练前检查）：它们不是类别概率。",
                },
            ),
            (
                "summary",
                "range_high",
                {
                    "en": "{fraction_pct}% of the targets ({count}) lie outside [{range_low}, {range_high}], the range of the output activation (they run from {label_min} to {label_max}; pre-flight check): the output can never reach them, and chasing them saturates it.",
                    "zh": "{fraction_pct}% 的目标值（{count} 个）不在输出激活的取值范围 [{range_low}, {range_high}] 内（实际从 {label_min} 到 {label_max}；训练前检查）：输出永远够不到它们，追赶它们只会让输出饱和。",
                },
            ),
            (
                "summary",
                "range_low",
                {
                    "en": "{fraction_pct}% of the targets ({count}) lie below {range_low}, the lowest value of the output activation (they run from {label_min} to {label_max}; pre-flight check): the output can never reach them.",
                    "zh": "{fraction_pct}% 的目标值（{count} 个）低于输出激活的最小值 {range_low}（实际从 {label_min} 到 {label_max}；训练前检查）：输出永远够不到它们。",
                },
            ),
            (
                "summary",
                "num_units",
                {
                    "en": "The class labels run from {label_min} to {label_max}, but the output has {num_units} units (classes 0 to {max_class}): {count} label(s) ({fraction_pct}%) are out of range (pre-flight check). On a CPU the first step fails; on a GPU the loss can silently go NaN or wrong.",
                    "zh": "类别标签从 {label_min} 到 {label_max}，而输出层只有 {num_units} 个单元（类别 0 到 {max_class}）：有 {count} 个标签（{fraction_pct}%）越界（训练前检查）。在 CPU 上第一步就会报错；在 GPU 上损失可能悄悄变成 NaN 或算错。",
                },
            ),
        ),
    ),
    "train_val_overlap": FindingSpec(
        {"en": "Validation rows also in the training data", "zh": "验证数据与训练数据重复"},
        {
            "en": "{count} of the {seen} validation rows checked ({fraction_pct}%) are also training rows{train_text} (pre-flight check): validation measures memory, not generalisation, and hides overfitting.",
            "zh": "检查的 {seen} 行验证数据中有 {count} 行（{fraction_pct}%）同时出现在训练数据里{train_text}（训练前检查）：验证集衡量的是记忆而不是泛化，还会掩盖过拟合。",
        },
        ("deduplicate_split", "check_leakage"),
        (
            (
                "train_text",
                "train_seen",
                {"en": " (compared with {train_seen} training rows)", "zh": "（与 {train_seen} 行训练数据比较）"},
            ),
        ),
    ),
    "inputs_ignored": FindingSpec(
        {"en": "The model ignores its inputs", "zh": "模型没有用到输入"},
        {
            "en": "After {steps} training steps from the same start, the held-out loss is {loss} on the real inputs and {zero_input_loss} on zeroed inputs{gain_text} (pre-flight check on a clone): the model does not use its inputs.",
            "zh": "从同一起点各训练 {steps} 步后，真实输入的留出损失为 {loss}，全零输入为 {zero_input_loss}{gain_text}（在模型副本上的训练前检查）：模型没有用到它的输入。",
        },
        ("check_input_alignment", "check_labels", "overfit_one_batch"),
        (("gain_text", "gain_pct", {"en": " (a gain of {gain_pct}%)", "zh": "（提升 {gain_pct}%）"}),),
    ),
    "batch_mixing": FindingSpec(
        {"en": "Samples of a batch mix", "zh": "同一 batch 的样本相互影响"},
        {
            "en": "In inference mode, the gradient of one sample's output reaches the other {others} samples of its batch of {batch_size} with {leak}x the norm of its own (0 when samples are independent; pre-flight check): an operation mixes samples across the batch axis.",
            "zh": "在推理模式下，一个样本的输出对同一 batch（共 {batch_size} 个样本）中其他 {others} 个样本输入的梯度，范数达到对其自身输入的 {leak} 倍（样本彼此独立时应为 0；训练前检查）：有操作在 batch 维度上混合了样本。",
        },
        ("find_batch_mixing", "check_batch_statistics"),
    ),
    "cannot_overfit_batch": FindingSpec(
        {"en": "Cannot overfit one batch", "zh": "连一个 batch 都拟合不了"},
        {
            "en": "Trained on one fixed batch of {batch_size} rows for {steps} steps, the loss only went from {start_loss} to {final_loss}{kept_text} (pre-flight check on a clone): the model cannot even memorise one batch.",
            "zh": "在一个固定的 {batch_size} 行 batch 上训练 {steps} 步，损失只从 {start_loss} 降到 {final_loss}{kept_text}（在模型副本上的训练前检查）：模型连一个 batch 都记不住。",
        },
        ("debug_cannot_overfit", "check_bias_init", "check_from_logits", "lr_range_test"),
        (("kept_text", "kept_pct", {"en": " ({kept_pct}% of its start)", "zh": "（仍是起始值的 {kept_pct}%）"}),),
    ),
    "lr_range_test": FindingSpec(
        {"en": "Learning rate far from the range test's", "zh": "学习率与范围测试的建议相差很远"},
        {
            "en": "The learning-rate range test (pre-flight, on a clone) suggests {suggested_lr}{how} and its loss was lowest at {min_loss_lr}; the model is compiled with {compiled_lr}{side_text}.",
            "zh": "学习率范围测试（训练前在模型副本上进行）建议 {suggested_lr}{how}，损失最低点在 {min_loss_lr}；而模型编译时的学习率是 {compiled_lr}{side_text}。",
        },
        ("try_suggested_lr", "lr_sweep"),
        (
            ("how", "steepest_lr", {"en": " (where the loss fell fastest)", "zh": "（损失下降最快处）"}),
            ("how", "min_loss_lr", {"en": " (a tenth of where the loss was lowest)", "zh": "（损失最低处的十分之一）"}),
            (
                "side_text",
                "factor_below",
                {"en": ", {factor_below}x below the suggestion", "zh": "，比建议值低 {factor_below} 倍"},
            ),
            (
                "side_text",
                "factor_above",
                {
                    "en": ", {factor_above}x the suggestion and above where the test's loss stopped falling",
                    "zh": "，是建议值的 {factor_above} 倍，已超过测试中损失不再下降的位置",
                },
            ),
        ),
    ),
}
