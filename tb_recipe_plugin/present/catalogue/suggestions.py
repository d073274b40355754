"""The suggestion catalogue: what to change, with a number where there is one, and why.

Kept as data, next to its translations, because every presenter (CLI text,
JSON, Markdown and the TensorBoard tab) shows the same advice and a reviewer
should be able to read and correct it without reading code.

``action`` is the generic advice. ``run_action`` says the same with the run's
own numbers (its learning rate, batch size, epochs, layer names) and is used
whenever every number it quotes is known (`present/actions.py` computes them);
``run_action_schedule`` is its wording for a run whose learning rate follows a
schedule (the peak is what to change). A generic example value ("e.g. 1e-3 →
1e-4") therefore only shows when the run did not log the quantity.
"""

SUGGESTIONS: dict[str, dict[str, dict[str, str]]] = {
    "check_inputs_nan": {
        "en": {
            "action": "Check the input data and labels for NaN/Inf before training (e.g. `np.isfinite(x).all()` on every array, or `tf.debugging.check_numerics` in the input pipeline).",
            "why": "A single NaN in one batch poisons the weights, and from then on every loss is NaN.",
        },
        "zh": {
            "action": "训练前检查输入数据和标签里有没有 NaN/Inf（例如对每个数组做 `np.isfinite(x).all()`，或在输入管道里加 `tf.debugging.check_numerics`）。",
            "why": "只要某个 batch 里有一个 NaN，权重就会被污染，之后所有的损失都会变成 NaN。",
        },
    },
    "lower_lr": {
        "en": {
            "action": "Lower the learning rate 3-10x (e.g. 1e-3 → 1e-4).",
            "run_action": "Lower the learning rate from {lr_now} to {lr_low}-{lr_high} (3-10x lower).",
            "run_action_schedule": "Lower the peak learning rate from {lr_now} to {lr_low}-{lr_high} (3-10x lower), keeping the shape of the schedule.",
            "why": "Steps that are too large overshoot the minimum, make the loss bounce or blow up, and can push activations into overflow.",
        },
        "zh": {
            "action": "把学习率降低 3-10 倍（例如 1e-3 → 1e-4）。",
            "run_action": "把学习率从 {lr_now} 降到 {lr_low}-{lr_high}（降低 3-10 倍）。",
            "run_action_schedule": "把峰值学习率从 {lr_now} 降到 {lr_low}-{lr_high}（降低 3-10 倍），调度的形状保持不变。",
            "why": "步长太大会越过极小值，使损失来回震荡甚至爆炸，也可能让激活值溢出。",
        },
    },
    "clip_gradients": {
        "en": {
            "action": "Clip gradients by global norm at 5-15 (Keras: `Adam(clipnorm=5.0)`; PyTorch: `torch.nn.utils.clip_grad_norm_(params, 5.0)`), or at the 90th percentile of the gradient norms you observe.",
            "run_action": "Clip gradients by global norm at about {clip_norm}, the 90th percentile of this run's gradient norms over its first half (Keras: `Adam(clipnorm={clip_norm})`; PyTorch: `torch.nn.utils.clip_grad_norm_(params, {clip_norm})`).",
            "why": "Clipping caps the size of a single update, so one bad batch or a steep region cannot throw the weights far away.",
        },
        "zh": {
            "action": "按全局范数裁剪梯度，阈值取 5-15（Keras：`Adam(clipnorm=5.0)`；PyTorch：`torch.nn.utils.clip_grad_norm_(params, 5.0)`），或取观察到的梯度范数的第 90 百分位。",
            "run_action": "按全局范数裁剪梯度，阈值取约 {clip_norm}，即本次训练前半段梯度范数的第 90 百分位（Keras：`Adam(clipnorm={clip_norm})`；PyTorch：`torch.nn.utils.clip_grad_norm_(params, {clip_norm})`）。",
            "why": "梯度裁剪限制了单次更新的幅度，一个坏 batch 或一段陡峭区域不会把权重甩得太远。",
        },
    },
    "safe_loss_ops": {
        "en": {
            "action": "Make the loss numerically safe: use the framework's from-logits losses (`from_logits=True`; PyTorch: `nn.CrossEntropyLoss` on raw logits) instead of softmax + log, and add an epsilon of 1e-7 to 1e-8 to any log, division or sqrt you wrote yourself (e.g. `tf.clip_by_value(p, 1e-7, 1.0)` before the log).",
            "why": "log(0), 0/0 and sqrt of a tiny negative number produce Inf/NaN even when the model is fine.",
        },
        "zh": {
            "action": "让损失在数值上安全：使用框架自带的 from-logits 损失（`from_logits=True`；PyTorch 直接把 logits 交给 `nn.CrossEntropyLoss`），不要自己写 softmax + log；自定义的 log、除法、开方都加上 1e-7 到 1e-8 的 epsilon（例如取 log 前先 `tf.clip_by_value(p, 1e-7, 1.0)`）。",
            "why": "log(0)、0/0 或对极小负数开方，即使模型本身没问题也会产生 Inf/NaN。",
        },
    },
    "add_batchnorm": {
        "en": {
            "action": "Add batch normalization after each dense/conv layer, before the activation (Keras: `BatchNormalization()`; PyTorch: `nn.BatchNorm1d`/`nn.BatchNorm2d`), or `LayerNormalization` for RNNs and transformers.",
            "why": "Normalized activations keep gradients in a healthy range, which allows higher learning rates and deeper models without blowing up.",
        },
        "zh": {
            "action": "在每个全连接层/卷积层之后、激活函数之前加入批归一化（Keras：`BatchNormalization()`；PyTorch：`nn.BatchNorm1d`/`nn.BatchNorm2d`），RNN 和 Transformer 则用 `LayerNormalization`。",
            "why": "归一化把各层激活拉回稳定的尺度，梯度不易失控，因此能承受更大的学习率和更深的网络。",
        },
    },
    "residual_connections": {
        "en": {
            "action": "In deep networks, wrap every block of 2-3 layers in a residual (skip) connection (Keras: `layers.Add()([x, block(x)])`; PyTorch: `x = x + block(x)`).",
            "why": "Skip connections give gradients a short path back to the early layers, which prevents them from exploding or vanishing with depth.",
        },
        "zh": {
            "action": "对较深的网络，每 2-3 层包一条残差（跳跃）连接（Keras：`layers.Add()([x, block(x)])`；PyTorch：`x = x + block(x)`）。",
            "why": "跳跃连接给梯度提供了回到浅层的捷径，避免随深度增加而爆炸或消失。",
        },
    },
    "lr_warmup": {
        "en": {
            "action": "Warm the learning rate up linearly from ~1% of its target over the first 1-5% of the steps (Keras: `CosineDecay(..., warmup_target=lr, warmup_steps=n)`; PyTorch: `LinearLR(opt, start_factor=0.01, total_iters=n)`).",
            "run_action": "Warm the learning rate up linearly from ~1% of its target over the first {warmup_low}-{warmup_high} steps, 1-5% of this run's {total_steps} (Keras: `CosineDecay(..., warmup_target=lr, warmup_steps={warmup_high})`; PyTorch: `LinearLR(opt, start_factor=0.01, total_iters={warmup_high})`).",
            "why": "Early updates come from random weights and poorly estimated optimizer statistics; full-size steps at that point are what most often blows a run up.",
        },
        "zh": {
            "action": "在前 1-5% 的训练步数里做学习率预热，从目标值的约 1% 线性升到目标值（Keras：`CosineDecay(..., warmup_target=lr, warmup_steps=n)`；PyTorch：`LinearLR(opt, start_factor=0.01, total_iters=n)`）。",
            "run_action": "在前 {warmup_low}-{warmup_high} 步（本次训练 {total_steps} 步的 1-5%）做学习率预热，从目标值的约 1% 线性升到目标值（Keras：`CosineDecay(..., warmup_target=lr, warmup_steps={warmup_high})`；PyTorch：`LinearLR(opt, start_factor=0.01, total_iters={warmup_high})`）。",
            "why": "训练初期权重是随机的、优化器的统计量也不准，这时用全量步长最容易让训练崩掉。",
        },
    },
    "check_pipeline": {
        "en": {
            "action": "Audit the data pipeline for a loss that rises from the start: check that labels stay aligned with inputs after shuffling, the loss's sign and reduction, augmentation strong enough to destroy the labels, and a data order that drifts over time.",
            "why": "An optimizer with a sane learning rate does not make the training loss go up; a bug in what it is fed usually does.",
        },
        "zh": {
            "action": "训练损失从一开始就上升时，逐项排查数据管道：打乱后标签是否仍与输入对应、损失的符号和归约方式、数据增强是否强到破坏了标签、数据顺序是否随时间漂移。",
            "why": "学习率合理的优化器不会让训练损失上升，问题通常出在喂给它的数据上。",
        },
    },
    "check_gradients_nonfinite": {
        "en": {
            "action": "Check the gradients for NaN/Inf and for all-zero values on one batch (`tf.GradientTape` or `loss.backward()` then inspect `param.grad`).",
            "why": "A loss stuck at its initial value often means the gradient is NaN, zero (dead units) or never reaches the weights.",
        },
        "zh": {
            "action": "在一个 batch 上检查梯度是否有 NaN/Inf 或全为 0（用 `tf.GradientTape`，或 `loss.backward()` 后查看 `param.grad`）。",
            "why": "损失停在初始值，往往是梯度为 NaN、为零（神经元死亡），或者根本没有传到权重上。",
        },
    },
    "overfit_one_batch": {
        "en": {
            "action": "Try to overfit a single small batch (e.g. 32 samples, no dropout or regularization): the loss should go to ~0 within a few hundred steps.",
            "why": "If the model cannot memorize 32 samples, the problem is the model, the loss or the labels, not the amount of data or regularization.",
        },
        "zh": {
            "action": "试着在一个小 batch（例如 32 个样本，去掉 dropout 和正则化）上过拟合：几百步内损失应该接近 0。",
            "why": "如果模型连 32 个样本都记不住，问题出在模型、损失函数或标签上，而不是数据量或正则化。",
        },
    },
    "lr_sweep": {
        "en": {
            "action": "Sweep the learning rate by factors of 10 (1e-1 … 1e-5) for a few hundred steps each; Adam at 3e-4 is a forgiving starting point.",
            "why": "The learning rate is the hyper-parameter with the largest effect; a value off by 100x in either direction can stop learning completely.",
        },
        "zh": {
            "action": "以 10 倍为间隔扫描学习率（1e-1 … 1e-5），每个值训练几百步；Adam 配 3e-4 是比较稳妥的起点。",
            "why": "学习率是影响最大的超参数，无论偏大还是偏小 100 倍，都可能让训练完全停滞。",
        },
    },
    "lower_init_scale": {
        "en": {
            "action": "Use an initializer matched to the activation (Keras: `kernel_initializer='he_normal'` for ReLU, `'glorot_uniform'` for tanh/sigmoid; PyTorch: `nn.init.kaiming_normal_`), or scale the initial weights down about 10x.",
            "why": "Too-large initial weights saturate activations or make the output extreme, so the first gradients are zero or NaN and the loss never moves.",
        },
        "zh": {
            "action": "按激活函数选择初始化（Keras：ReLU 用 `kernel_initializer='he_normal'`，tanh/sigmoid 用 `'glorot_uniform'`；PyTorch：`nn.init.kaiming_normal_`），或把初始权重缩小约 10 倍。",
            "why": "初始权重过大会让激活饱和或输出极端，最初的梯度就成了零或 NaN，损失也就纹丝不动。",
        },
    },
    "check_labels": {
        "en": {
            "action": "Print a few (input, label) pairs taken after the whole pipeline, and check the label encoding matches the loss (`sparse_categorical_crossentropy` for integer labels, `categorical_crossentropy` for one-hot; 0- vs 1-based).",
            "why": "Labels shuffled separately from the inputs, or in the wrong encoding, give the model nothing to learn: the loss stays at the uniform-guess value ln(C) (0.69 for 2 classes).",
        },
        "zh": {
            "action": "在整个数据管道之后打印几组（输入，标签），并确认标签编码与损失一致（整数标签用 `sparse_categorical_crossentropy`，one-hot 用 `categorical_crossentropy`；从 0 还是从 1 开始）。",
            "why": "标签和输入各自打乱、或编码不对时，模型无从学起，损失会一直停在均匀猜测的 ln(C)（二分类为 0.69）。",
        },
    },
    "check_last_layer": {
        "en": {
            "action": "Check the output layer: C units for C classes, the activation matching the loss (logits with `from_logits=True`, or softmax without it), an initial loss near ln(C) (2.30 for 10 classes), and, for a 1:10 imbalance, a final bias set so the initial prediction is 0.1.",
            "why": "A mismatched output layer or a double softmax leaves gradients that are tiny or point nowhere useful.",
        },
        "zh": {
            "action": "检查输出层：C 个类别对应 C 个单元，激活与损失匹配（logits 配 `from_logits=True`，softmax 则不配），初始损失应约为 ln(C)（10 类为 2.30）；类别比例为 1:10 时，把最后一层偏置设成让初始预测为 0.1。",
            "why": "输出层与损失不匹配或做了两次 softmax，梯度会非常小，或者根本指不到有用的方向。",
        },
    },
    "early_stopping": {
        "en": {
            "action": "Keep the checkpoint from {best_step_at}: `EarlyStopping(monitor='val_loss', patience=5, restore_best_weights=True)` (Lightning: `EarlyStopping` + `ModelCheckpoint(monitor='val_loss')`).",
            "why": "Validation stopped improving there; training on only fits the training set more closely.",
        },
        "zh": {
            "action": "保留{best_step_at}的模型：`EarlyStopping(monitor='val_loss', patience=5, restore_best_weights=True)`（Lightning：`EarlyStopping` + `ModelCheckpoint(monitor='val_loss')`）。",
            "why": "验证集在那一步之后就不再变好，继续训练只是更贴合训练集。",
        },
    },
    "dropout": {
        "en": {
            "action": "Add dropout 0.2-0.5 before the dense layers, about 0.1 for attention/embedding layers (Keras: `Dropout(0.3)`; PyTorch: `nn.Dropout(0.3)`).",
            "why": "Dropout stops units from co-adapting to the training set and acts like a cheap ensemble, a strong regularizer for its cost.",
        },
        "zh": {
            "action": "在全连接层前加入 0.2-0.5 的 dropout，注意力层/嵌入层用 0.1 左右（Keras：`Dropout(0.3)`；PyTorch：`nn.Dropout(0.3)`）。",
            "why": "dropout 让神经元无法相互依赖着去记训练集，相当于廉价的模型集成，是性价比很高的正则化。",
        },
    },
    "weight_decay": {
        "en": {
            "action": "Add L2 weight decay 1e-4 to 1e-2 (Keras: `kernel_regularizer=l2(1e-4)` or `AdamW(weight_decay=1e-2)`; PyTorch: `AdamW(weight_decay=1e-2)`).",
            "why": "Penalizing large weights keeps the function smoother, which generalizes better and also keeps weights from drifting towards overflow.",
        },
        "zh": {
            "action": "加入 1e-4 到 1e-2 的 L2 权重衰减（Keras：`kernel_regularizer=l2(1e-4)` 或 `AdamW(weight_decay=1e-2)`；PyTorch：`AdamW(weight_decay=1e-2)`）。",
            "why": "惩罚过大的权重能让函数更平滑、泛化更好，也避免权重一路增大到溢出。",
        },
    },
    "augmentation": {
        "en": {
            "action": "Add aggressive data augmentation suited to the data, e.g. flips, random crops, rotations of 10-20°, noise or mixup (Keras: `RandomFlip`, `RandomRotation(0.05)`; torchvision: `transforms.RandomHorizontalFlip()`).",
            "why": "Augmentation enlarges the effective training set, the most reliable remedy for memorization after real new data.",
        },
        "zh": {
            "action": "加入适合数据的增强且力度可以大一些，例如翻转、随机裁剪、10-20° 旋转、加噪声或 mixup（Keras：`RandomFlip`、`RandomRotation(0.05)`；torchvision：`transforms.RandomHorizontalFlip()`）。",
            "why": "数据增强相当于扩大了训练集，是除真实新数据之外最可靠的防过拟合手段。",
        },
    },
    "more_data": {
        "en": {
            "action": "Collect more real training data, and print the parameter count (`model.count_params()`) next to the sample count: a million parameters on ten thousand samples will memorize.",
            "run_action": "Collect more real training data, and put this model's {num_params} trainable parameters next to the sample count: a million parameters on ten thousand samples will memorize.",
            "why": "More real data is the only regularizer that improves generalization monotonically.",
        },
        "zh": {
            "action": "尽量收集更多真实训练数据，并把参数量（`model.count_params()`）和样本量放在一起比较：一万个样本训练一百万个参数，必然会死记硬背。",
            "run_action": "尽量收集更多真实训练数据，并把这个模型的 {num_params} 个可训练参数和样本量放在一起比较：一万个样本训练一百万个参数，必然会死记硬背。",
            "why": "真实数据是唯一能让泛化稳定、单调变好的正则化。",
        },
    },
    "smaller_model": {
        "en": {
            "action": "Try a smaller model (e.g. half the width or one layer fewer), or replace large dense heads with global average pooling (Keras: `GlobalAveragePooling2D()`; PyTorch: `nn.AdaptiveAvgPool2d(1)`).",
            "run_action": "Try a smaller model than this one's {num_params} trainable parameters (e.g. half the width or one layer fewer), or replace large dense heads with global average pooling (Keras: `GlobalAveragePooling2D()`; PyTorch: `nn.AdaptiveAvgPool2d(1)`).",
            "why": "Fewer free parameters leave less room to memorize the training set.",
        },
        "zh": {
            "action": "试试更小的模型（例如宽度减半或少一层），或用全局平均池化替代庞大的全连接头（Keras：`GlobalAveragePooling2D()`；PyTorch：`nn.AdaptiveAvgPool2d(1)`）。",
            "run_action": "试试比现在 {num_params} 个可训练参数更小的模型（例如宽度减半或少一层），或用全局平均池化替代庞大的全连接头（Keras：`GlobalAveragePooling2D()`；PyTorch：`nn.AdaptiveAvgPool2d(1)`）。",
            "why": "自由参数越少，死记训练集的空间就越小。",
        },
    },
    "reduce_lr_on_plateau": {
        "en": {
            "action": "Use `ReduceLROnPlateau(monitor='val_loss', factor=0.1-0.5, patience=3-5)` (PyTorch: `torch.optim.lr_scheduler.ReduceLROnPlateau`).",
            "why": "When progress stalls at one learning rate, a 2-10x smaller step often lets the optimizer settle into a lower minimum.",
        },
        "zh": {
            "action": "使用 `ReduceLROnPlateau(monitor='val_loss', factor=0.1-0.5, patience=3-5)`（PyTorch：`torch.optim.lr_scheduler.ReduceLROnPlateau`）。",
            "why": "在某个学习率下停滞时，把步长缩小 2-10 倍，优化器往往能进入更低的极小值。",
        },
    },
    "bigger_model": {
        "en": {
            "action": "Increase capacity, e.g. 2x the width or 1-2 more layers, or start from a proven architecture for the data (a ResNet-50 for images).",
            "why": "A model that cannot fit even the training data is too simple for the problem, and regularization cannot fix that.",
        },
        "zh": {
            "action": "增加模型容量，例如宽度翻倍或多加 1-2 层，或直接采用该类数据上成熟的结构（图像可先用 ResNet-50）。",
            "why": "连训练集都拟合不好，说明模型对这个问题太简单了，这不是正则化能解决的。",
        },
    },
    "less_regularization": {
        "en": {
            "action": "Cut regularization while the model underfits: lower dropout and weight decay about 10x, or remove them entirely.",
            "why": "Regularization trades training fit for generalization; with no overfitting to fight, it only holds the model back.",
        },
        "zh": {
            "action": "欠拟合时先减弱正则化：把 dropout 和权重衰减降低约 10 倍，或干脆去掉。",
            "why": "正则化是拿训练集上的拟合去换泛化；没有过拟合可防时，它只会拖模型的后腿。",
        },
    },
    "train_longer": {
        "en": {
            "action": "Train about 2x more epochs and let early stopping end the run (`EarlyStopping(monitor='val_loss', patience=10, restore_best_weights=True)`).",
            "run_action": "Train about 2x longer, {epochs_target} epochs instead of {epochs}, and let early stopping end the run (`EarlyStopping(monitor='val_loss', patience=10, restore_best_weights=True)`).",
            "why": "The curves were still going down when training ended, so the model had not yet reached what it can learn.",
        },
        "zh": {
            "action": "把 epoch 数增加到约两倍，让早停来结束训练（`EarlyStopping(monitor='val_loss', patience=10, restore_best_weights=True)`）。",
            "run_action": "把训练延长约 1 倍，从 {epochs} 个 epoch 增加到 {epochs_target} 个，让早停来结束训练（`EarlyStopping(monitor='val_loss', patience=10, restore_best_weights=True)`）。",
            "why": "训练结束时曲线还在下降，模型还没学到它能学到的程度。",
        },
    },
    "smaller_batch": {
        "en": {
            "action": "Try a 2-4x smaller batch size, scaling the learning rate down by the same factor for SGD.",
            "run_action": "Try a batch size of {batch_down_low}-{batch_down_high} instead of {batch_size} (2-4x smaller), scaling the learning rate down by the same factor for SGD.",
            "why": "Smaller batches add gradient noise that helps the optimizer leave a flat region or saddle point.",
        },
        "zh": {
            "action": "试试把 batch size 缩小 2-4 倍，若用 SGD，学习率按同样比例缩小。",
            "run_action": "试试把 batch size 从 {batch_size} 缩小到 {batch_down_low}-{batch_down_high}（2-4 倍），若用 SGD，学习率按同样比例缩小。",
            "why": "小 batch 的梯度噪声更大，反而能帮优化器逃离平坦区域或鞍点。",
        },
    },
    "stop_earlier": {
        "en": {
            "action": "Stop training earlier, around {best_step_at}, and spend the compute on another learning rate or model instead.",
            "why": "The last part of the run bought almost nothing.",
        },
        "zh": {
            "action": "更早停止训练（大约在{best_step_at}），把算力花在尝试其他学习率或模型上。",
            "why": "训练的最后一段几乎没有带来任何提升。",
        },
    },
    "keep_schedule": {
        "en": {
            "action": "Stretch the learning-rate schedule to the new total number of steps (Keras: `CosineDecay(lr, decay_steps=total_steps)`; PyTorch: `CosineAnnealingLR(opt, T_max=total_steps)`).",
            "why": "Extending training without extending the schedule leaves the extra epochs at a tiny learning rate where nothing more is learned.",
        },
        "zh": {
            "action": "按新的总步数重新拉伸学习率策略（Keras：`CosineDecay(lr, decay_steps=total_steps)`；PyTorch：`CosineAnnealingLR(opt, T_max=total_steps)`）。",
            "why": "只延长训练而不延长学习率策略，多出来的 epoch 都在极小的学习率下空转。",
        },
    },
    "raise_lr": {
        "en": {
            "action": "Raise the learning rate 3-10x (e.g. 1e-3 → 1e-2), or switch to Adam at 1e-3.",
            "run_action": "Raise the learning rate from {lr_now} to {lr_up_low}-{lr_up_high} (3-10x higher), or switch to Adam at 1e-3.",
            "run_action_schedule": "Raise the peak learning rate from {lr_now} to {lr_up_low}-{lr_up_high} (3-10x higher), keeping the shape of the schedule.",
            "why": "A loss that falls in a straight line without ever bending is taking steps far smaller than the landscape allows.",
        },
        "zh": {
            "action": "把学习率提高 3-10 倍（例如 1e-3 → 1e-2），或换成学习率 1e-3 的 Adam。",
            "run_action": "把学习率从 {lr_now} 提高到 {lr_up_low}-{lr_up_high}（提高 3-10 倍），或换成学习率 1e-3 的 Adam。",
            "run_action_schedule": "把峰值学习率从 {lr_now} 提高到 {lr_up_low}-{lr_up_high}（提高 3-10 倍），调度的形状保持不变。",
            "why": "损失呈直线下降、始终不拐弯，说明步长远小于损失曲面所能承受的。",
        },
    },
    "lr_range_test": {
        "en": {
            "action": "Run a learning-rate range test: multiply the LR by ~1.05 every step from 1e-7 to 1 (about 330 steps, Keras: a `LearningRateScheduler` callback; PyTorch: `ExponentialLR(opt, gamma=1.05)`) and pick a value ~10x below where the loss starts to rise.",
            "why": "It finds a usable learning rate in minutes instead of several full training runs.",
        },
        "zh": {
            "action": "做一次学习率范围测试：从 1e-7 开始每步把学习率乘以约 1.05 直到 1（约 330 步；Keras 用 `LearningRateScheduler` 回调，PyTorch 用 `ExponentialLR(opt, gamma=1.05)`），取损失开始上升处再小约 10 倍的值。",
            "why": "几分钟就能找到可用的学习率，不必为此跑好几次完整训练。",
        },
    },
    "larger_batch": {
        "en": {
            "action": "Use a 4-10x larger batch (a size around the square root of the data set size is a common rule of thumb), keeping the LR or raising it gently, or accumulate gradients over several batches if memory is short.",
            "run_action": "Raise the batch size from {batch_size} to {batch_up_low}-{batch_up_high} (4-10x), keeping the LR or raising it gently, or accumulate gradients over several batches if memory is short.",
            "why": "Larger batches average out per-sample noise, so each step points in a more reliable direction.",
        },
        "zh": {
            "action": "把 batch 增大 4-10 倍（经验上取数据量的平方根左右），学习率保持不变或适度增大；显存不够时可在多个 batch 上累积梯度。",
            "run_action": "把 batch size 从 {batch_size} 增大到 {batch_up_low}-{batch_up_high}（4-10 倍），学习率保持不变或适度增大；显存不够时可在多个 batch 上累积梯度。",
            "why": "大 batch 能平均掉单个样本的噪声，每一步的方向更可靠。",
        },
    },
    "shuffle_data": {
        "en": {
            "action": "Shuffle the training data every epoch (`DataLoader(shuffle=True)`; `tf.data`: `.shuffle(buffer, reshuffle_each_iteration=True)` with a buffer as large as the data set).",
            "why": "Ordered data (e.g. sorted by class) makes consecutive batches pull the model in different directions, so the loss swings with the data order.",
        },
        "zh": {
            "action": "每个 epoch 都打乱训练数据（`DataLoader(shuffle=True)`；`tf.data` 用 `.shuffle(buffer, reshuffle_each_iteration=True)`，缓冲区与数据集一样大）。",
            "why": "有序的数据（例如按类别排序）会让相邻的 batch 把模型往不同方向拉，损失随数据顺序摆动。",
        },
    },
    "larger_val_set": {
        "en": {
            "action": "Use a larger validation set (a few thousand samples if you can) and evaluate on all of it each time instead of a few batches smoothed in TensorBoard.",
            "why": "A small validation set gives noisy estimates, and single noisy evaluations mislead checkpoint choice and early stopping.",
        },
        "zh": {
            "action": "使用更大的验证集（条件允许时几千个样本），每次都在整个验证集上评估，而不是只评几个 batch 再靠 TensorBoard 平滑。",
            "why": "验证集太小，估计值噪声就大，单次评估会误导模型选择和早停。",
        },
    },
    "more_capacity": {
        "en": {
            "action": "Try a somewhat larger model, e.g. one more dense layer or 2x wider layers.",
            "why": "A model that is too small keeps trading one group of samples against another instead of fitting both, so the loss swings without settling.",
        },
        "zh": {
            "action": "试试稍大一些的模型，例如多加一层全连接层或把层宽加倍。",
            "why": "模型太小时会在不同样本之间顾此失彼，无法同时拟合，损失便来回摆动、收敛不了。",
        },
    },
    "check_sampler": {
        "en": {
            "action": "Print the first sample ids of two consecutive epochs to confirm the order changes; the usual culprits are `.shuffle()` placed before `.cache()` or `reshuffle_each_iteration=False` in `tf.data`, a `keras.utils.Sequence` without `on_epoch_end`, a custom PyTorch `Sampler`, a seed reset at every epoch, or Keras 3 `fit(shuffle=True)` on NumPy arrays after `keras.utils.set_random_seed` (observed to replay the same order every epoch: pass a `tf.data.Dataset` with `.shuffle(n, reshuffle_each_iteration=True)` instead).",
            "why": "The loss repeats with the epoch only if the batches do; if the order really changes, the cause is in the data itself (e.g. a few bad files).",
        },
        "zh": {
            "action": "打印相邻两个 epoch 的前几个样本编号，确认顺序确实变了；常见原因有：`tf.data` 里 `.shuffle()` 放在 `.cache()` 之前或 `reshuffle_each_iteration=False`、`keras.utils.Sequence` 没有实现 `on_epoch_end`、自定义的 PyTorch `Sampler`、每个 epoch 都重设随机种子，或在 `keras.utils.set_random_seed` 之后对 NumPy 数组使用 Keras 3 的 `fit(shuffle=True)`（实测每个 epoch 顺序相同：改为传入带 `.shuffle(n, reshuffle_each_iteration=True)` 的 `tf.data.Dataset`）。",
            "why": "只有 batch 按 epoch 重复，损失才会按 epoch 重复；如果顺序确实每轮都变，问题就在数据本身（例如几个坏文件）。",
        },
    },
    "check_bad_batches": {
        "en": {
            "action": "Log the sample ids of the batches at the spike steps and inspect them (wrong labels, corrupt files, extreme values).",
            "why": "Isolated spikes usually come from a few bad samples; fixing or dropping them is cheaper than tuning around them.",
        },
        "zh": {
            "action": "记录尖峰所在步的 batch 样本编号并逐一检查（标签错误、文件损坏、极端数值）。",
            "why": "孤立的尖峰通常来自少数坏样本，修正或剔除它们比调参绕过去更省事。",
        },
    },
    "delay_decay": {
        "en": {
            "action": "Start decaying the learning rate later or more slowly (e.g. `ExponentialDecay` with 5-10x larger `decay_steps`), so it reaches ~1% of its peak only near the end of training.",
            "why": "The loss was still falling when the learning rate became too small to make progress.",
        },
        "zh": {
            "action": "推迟或放慢学习率衰减（例如把 `ExponentialDecay` 的 `decay_steps` 增大 5-10 倍），让学习率在训练快结束时才降到峰值的 1% 左右。",
            "why": "学习率已经小到推不动时，损失其实还在下降。",
        },
    },
    "disable_decay": {
        "en": {
            "action": "Run once with a constant learning rate (no decay) as a baseline before tuning a schedule.",
            "why": "Default decay settings are easy to get wrong; a constant-LR run shows how far the model can get without them.",
        },
        "zh": {
            "action": "先用恒定学习率（不衰减）跑一次作为基线，再去调整学习率策略。",
            "why": "默认的衰减参数很容易设错；恒定学习率的结果能告诉你不衰减时模型能走多远。",
        },
    },
    "explain_regularization_gap": {
        "en": {
            "action": "Before changing anything, re-evaluate the training set in inference mode (`model.evaluate(x_train, y_train)`; PyTorch: under `model.eval()` and `torch.no_grad()`) and compare that with the validation loss.",
            "why": "Dropout and augmentation act only during training, and Keras' training loss is an average over an epoch in which the model kept improving, so the logged training loss usually reads higher than the model's real fit; a gap that persists suggests a too-small validation set or leakage.",
        },
        "zh": {
            "action": "先别急着改，用推理模式重新评估一遍训练集（`model.evaluate(x_train, y_train)`；PyTorch 在 `model.eval()` 和 `torch.no_grad()` 下计算），再和验证损失比较。",
            "why": "dropout 和数据增强只在训练时生效，Keras 的训练损失又是整个 epoch 内模型不断变好的平均值，所以记录下来的训练损失通常偏高；若差距依然存在，多半是验证集太小或有数据泄漏。",
        },
    },
    "check_leakage": {
        "en": {
            "action": "Check for leakage between training and validation: duplicated samples, the same subject/patient/video in both splits, or features computed from the labels.",
            "why": "Leakage makes validation look easier than the real task and hides overfitting.",
        },
        "zh": {
            "action": "检查训练集和验证集之间是否有泄漏：重复样本、同一个人/病人/视频同时出现在两边、或由标签计算出的特征。",
            "why": "数据泄漏会让验证集显得比真实任务更容易，并掩盖过拟合。",
        },
    },
    "check_split_distribution": {
        "en": {
            "action": "Check that training and validation come from the same distribution: compare feature statistics and class frequencies of the two splits.",
            "why": "If they differ, validation measures a different task and the training curve cannot predict it.",
        },
        "zh": {
            "action": "确认训练集和验证集来自同一分布：比较两者的特征统计量和类别比例。",
            "why": "两者分布不同时，验证集衡量的是另一个任务，训练曲线无法预示它的表现。",
        },
    },
    "check_val_preprocessing": {
        "en": {
            "action": "Apply exactly the training preprocessing to validation data, with normalization statistics (mean/std, min/max, /255) computed on the training set, the same resizing and tokenization, but no augmentation.",
            "why": "A missing or different normalization on one split shifts its inputs, and the model's outputs on it become meaningless.",
        },
        "zh": {
            "action": "对验证数据使用与训练完全相同的预处理：归一化统计量（均值/标准差、最大最小值、除以 255）取自训练集，缩放和分词方式相同，但不做数据增强。",
            "why": "某个数据集少做或做错了归一化，输入分布就会偏移，模型在其上的输出也就失去意义。",
        },
    },
    "checkpoint_by_metric": {
        "en": {
            "action": "Choose the checkpoint by the metric you will report: `ModelCheckpoint(monitor='val_accuracy', mode='max', save_best_only=True)` (or `val_auc`) keeps {best_step_at}.",
            "why": "Loss and metric can disagree (confidence vs correctness, e.g. the loss-best step is not the AUC-best step); selecting on the loss then gives a worse final metric.",
        },
        "zh": {
            "action": "按最终要报告的指标选择模型：`ModelCheckpoint(monitor='val_accuracy', mode='max', save_best_only=True)`（或 `val_auc`）会保留{best_step_at}。",
            "why": "损失和指标可能不一致（置信度与正确率是两回事，比如损失最低的那一步未必 AUC 最高），按损失选模型会得到更差的最终指标。",
        },
    },
    "normalize_inputs": {
        "en": {
            "action": "Normalise the inputs to mean 0 and standard deviation 1 per feature, computed on the training set (Keras: a `Normalization()` layer after `adapt(x_train)`; images: divide by 255).",
            "why": "Raw inputs in the tens or hundreds make the first layer's outputs huge, which saturates activations, gives confident wrong predictions from the first step and forces a tiny learning rate.",
        },
        "zh": {
            "action": "把输入按特征归一化到均值 0、标准差 1（统计量取自训练集；Keras：`Normalization()` 层配合 `adapt(x_train)`；图像：除以 255）。",
            "why": "几十上百的原始输入会让第一层输出过大，激活函数饱和，第一步就给出很自信的错误预测，还会逼着你用极小的学习率。",
        },
    },
    "use_relu": {
        "en": {
            "action": "Use ReLU-family activations in the hidden layers (`relu`, `gelu`, `silu`) instead of sigmoid/tanh, with `he_normal` initialisation; keep sigmoid/softmax for the output only.",
            "why": "The sigmoid's derivative is at most 0.25, so each sigmoid layer shrinks the backward signal; ReLU passes it through unchanged for active units.",
        },
        "zh": {
            "action": "隐藏层改用 ReLU 系列激活（`relu`、`gelu`、`silu`），配合 `he_normal` 初始化；sigmoid/softmax 只留在输出层。",
            "why": "sigmoid 的导数最大只有 0.25，每经过一层 sigmoid 反向信号就缩小一次；ReLU 对激活的神经元则原样传回梯度。",
        },
    },
    "leaky_relu": {
        "en": {
            "action": "Replace ReLU with `LeakyReLU(negative_slope=0.01-0.2)` or ELU (PyTorch: `nn.LeakyReLU(0.01)`), at least in the layers that died.",
            "run_action": "Replace ReLU with `LeakyReLU(negative_slope=0.01-0.2)` or ELU (PyTorch: `nn.LeakyReLU(0.01)`), at least in {layers}.",
            "why": "A small negative slope keeps a gradient flowing for negative inputs, so a unit pushed below zero can come back.",
        },
        "zh": {
            "action": "把 ReLU 换成 `LeakyReLU(negative_slope=0.01-0.2)` 或 ELU（PyTorch：`nn.LeakyReLU(0.01)`），至少在死亡的层里换掉。",
            "run_action": "把 ReLU 换成 `LeakyReLU(negative_slope=0.01-0.2)` 或 ELU（PyTorch：`nn.LeakyReLU(0.01)`），至少在 {layers} 里换掉。",
            "why": "负半轴的小斜率让负输入也有梯度，被推到零以下的神经元还能恢复。",
        },
    },
    "check_bias_init": {
        "en": {
            "action": "Initialise biases to 0 (Keras' default `bias_initializer='zeros'`) or a small positive value such as 0.01 for ReLU layers; never large negative values.",
            "why": "A negative bias larger than the typical pre-activation puts a ReLU unit below zero for every input from the start, and it never receives a gradient.",
        },
        "zh": {
            "action": "偏置初始化为 0（Keras 默认的 `bias_initializer='zeros'`），ReLU 层也可以用 0.01 这样的小正数；不要用较大的负数。",
            "why": "负偏置一旦大于常见的预激活值，ReLU 神经元从一开始就对所有输入都小于零，永远得不到梯度。",
        },
    },
    "check_from_logits": {
        "en": {
            "action": "Check that the output activation and the loss agree: `from_logits=True` with a linear last layer, or the default `from_logits=False` with softmax/sigmoid, never softmax twice.",
            "why": "A mismatch makes the loss compute on the wrong quantities: the first loss is far from ln(C) and training is slow or unstable.",
        },
        "zh": {
            "action": "检查输出激活与损失是否匹配：最后一层是线性输出时用 `from_logits=True`，带 softmax/sigmoid 时用默认的 `from_logits=False`，不要做两次 softmax。",
            "why": "两者不匹配时，损失算在了错误的量上：初始损失远离 ln(C)，训练缓慢或不稳定。",
        },
    },
    "init_output_bias": {
        "en": {
            "action": "For imbalanced classes, initialise the last layer's bias to the log of the class frequencies (Keras: `bias_initializer=keras.initializers.Constant(np.log(p))`).",
            "run_action_class": "Initialise the last layer's bias to the log class priors the pre-flight check measured, [{class_bias}] (Keras: `bias_initializer=keras.initializers.Constant([...])`, the values of the `suggested_bias` series): the initial loss becomes {prior_loss}.",
            "run_action_target": "Initialise the output bias at the targets' mean (median for MAE), [{target_bias}] (Keras: `bias_initializer=keras.initializers.Constant([...])`, the values of the `suggested_bias` series), and standardise large targets: the initial loss becomes {prior_loss}.",
            "why": "The model then starts from the class prior instead of spending its first steps learning it, and the initial loss matches what the data allows.",
        },
        "zh": {
            "action": "类别不平衡时，把最后一层的偏置初始化为各类频率的对数（Keras：`bias_initializer=keras.initializers.Constant(np.log(p))`）。",
            "run_action_class": "把最后一层的偏置初始化为训练前检查测得的各类先验的对数 [{class_bias}]（Keras：`bias_initializer=keras.initializers.Constant([...])`，数值见 `suggested_bias` 序列）：初始损失会变为 {prior_loss}。",
            "run_action_target": "把输出偏置初始化为目标均值（MAE 用中位数）[{target_bias}]（Keras：`bias_initializer=keras.initializers.Constant([...])`，数值见 `suggested_bias` 序列），目标值很大时先标准化：初始损失会变为 {prior_loss}。",
            "why": "这样模型从类别先验出发，不必在最初的若干步里先去学它，初始损失也与数据相符。",
        },
    },
    "clean_nonfinite_inputs": {
        "en": {
            "action": "Drop or repair the rows with NaN/Inf inputs before training: find them with `~np.isfinite(x).reshape(len(x), -1).all(axis=1)`, then impute (e.g. the feature's training mean) or drop them, and add `tf.debugging.check_numerics` to the input pipeline so that a new source cannot slip one in.",
            "run_action": "Drop or repair the {rows} rows with NaN/Inf inputs ({count} values in the {seen} rows checked) before training: find them with `~np.isfinite(x).reshape(len(x), -1).all(axis=1)`, then impute (e.g. the feature's training mean) or drop them, and add `tf.debugging.check_numerics` to the input pipeline so that a new source cannot slip one in.",
            "why": "No learning-rate or clipping setting survives a NaN input: it is in the data, so it has to be fixed there.",
        },
        "zh": {
            "action": "训练前删除或修补含 NaN/Inf 输入的行：用 `~np.isfinite(x).reshape(len(x), -1).all(axis=1)` 找出它们，再填补（例如用该特征在训练集上的均值）或删除，并在输入管道中加上 `tf.debugging.check_numerics`，防止新的数据源再混进来。",
            "run_action": "训练前删除或修补含 NaN/Inf 输入的 {rows} 行（检查的 {seen} 行中共 {count} 个值）：用 `~np.isfinite(x).reshape(len(x), -1).all(axis=1)` 找出它们，再填补（例如用该特征在训练集上的均值）或删除，并在输入管道中加上 `tf.debugging.check_numerics`，防止新的数据源再混进来。",
            "why": "任何学习率或梯度裁剪设置都救不了 NaN 输入：问题在数据里，只能在数据里修。",
        },
    },
    "clean_nonfinite_labels": {
        "en": {
            "action": "Drop the rows whose labels are NaN/Inf, or keep them out of the loss with a sample weight of 0 (replace the label by any valid value first: `y = np.where(ok, y, 0)`, `sample_weight = ok.astype('float32')`).",
            "run_action": "Drop the {rows} rows whose labels are NaN/Inf ({count} values in the {seen} rows checked), or keep them out of the loss with a sample weight of 0 (replace the label by any valid value first: `y = np.where(ok, y, 0)`, `sample_weight = ok.astype('float32')`).",
            "why": "A missing target coded as NaN is still a target to the loss: its loss is NaN, and so is every weight after the next update.",
        },
        "zh": {
            "action": "删除标签为 NaN/Inf 的行，或用 0 样本权重把它们排除在损失之外（先把标签换成任意合法值：`y = np.where(ok, y, 0)`，`sample_weight = ok.astype('float32')`）。",
            "run_action": "删除标签为 NaN/Inf 的 {rows} 行（检查的 {seen} 行中共 {count} 个值），或用 0 样本权重把它们排除在损失之外（先把标签换成任意合法值：`y = np.where(ok, y, 0)`，`sample_weight = ok.astype('float32')`）。",
            "why": "用 NaN 表示的缺失目标对损失来说仍是目标：它的损失是 NaN，下一次更新后所有权重也都是 NaN。",
        },
    },
    "find_nonfinite_source": {
        "en": {
            "action": "Find the step of the pipeline that makes them: a division by a zero standard deviation when normalising (a constant feature), a log of 0 or of a negative value, an empty field parsed as NaN, an integer overflow cast to float.",
            "why": "Fixing the source keeps the next data set clean too; dropping rows alone hides the bug.",
        },
        "zh": {
            "action": "找出数据管道中产生它们的那一步：归一化时除以为 0 的标准差（某个特征是常数）、对 0 或负数取对数、空字段被解析成 NaN、整数溢出后转成浮点数。",
            "why": "从源头修好，下一份数据也会是干净的；只删行会把缺陷藏起来。",
        },
    },
    "fit_labels_to_output": {
        "en": {
            "action": "Make the labels fit the output layer: integer class ids 0..C-1 for C output units, one-hot labels exactly C wide, targets inside the output activation's range (0-1 for a sigmoid, or a linear output for targets on any scale).",
            "run_action_width": "Make the one-hot width and the output agree: {label_width} classes need `Dense({label_width})`, or one-hot encode to the {num_units} units (`keras.utils.to_categorical(y, {num_units})`) if that is the real class count.",
            "run_action_range": "Scale the targets into [{range_low}, {range_high}], the range of the output activation (0-255 pixel values: divide by 255), or use a linear output (`activation='linear'`) for targets on any scale.",
            "run_action_range_low": "Use an output that can reach targets below {range_low}: a linear output (`activation='linear'`), or shift the targets into the activation's range.",
            "run_action_classes": "Give the output layer {units_needed} units (`Dense({units_needed})`) for class labels up to {label_max}, or remap the labels to 0..{max_class} if there really are {num_units} classes (e.g. labels counted from 1: `y - 1`).",
            "why": "The loss compares each label with an output the model can produce; a label outside that range cannot be fitted, and a class id beyond the units indexes past the output.",
        },
        "zh": {
            "action": "让标签与输出层相符：C 个输出单元对应整数类别 0..C-1，one-hot 标签宽度正好为 C，目标值在输出激活的取值范围内（sigmoid 为 0-1；任意尺度的目标用线性输出）。",
            "run_action_width": "让 one-hot 宽度与输出层一致：{label_width} 个类别需要 `Dense({label_width})`；如果真实类别数是 {num_units}，就按 {num_units} 做 one-hot（`keras.utils.to_categorical(y, {num_units})`）。",
            "run_action_range": "把目标值缩放到输出激活的取值范围 [{range_low}, {range_high}] 内（0-255 的像素值就除以 255），或对任意尺度的目标改用线性输出（`activation='linear'`）。",
            "run_action_range_low": "改用能取到低于 {range_low} 的输出：线性输出（`activation='linear'`），或把目标值平移到激活的取值范围内。",
            "run_action_classes": "让输出层有 {units_needed} 个单元（`Dense({units_needed})`），以容纳最大为 {label_max} 的类别标签；如果确实只有 {num_units} 个类别，就把标签重新映射到 0..{max_class}（例如从 1 开始计数的标签：`y - 1`）。",
            "why": "损失把每个标签和模型能给出的输出相比；超出这个范围的标签永远拟合不了，越界的类别编号还会索引到输出之外。",
        },
    },
    "deduplicate_split": {
        "en": {
            "action": "Deduplicate before splitting: hash each row (e.g. `hashlib.sha1(row.tobytes()).hexdigest()`), drop the repeats, then split; split by group (subject, video, source file) when rows come in groups.",
            "run_action": "Deduplicate before splitting ({count} of the {seen} validation rows checked are copies of training rows): hash each row (e.g. `hashlib.sha1(row.tobytes()).hexdigest()`), drop the repeats, then split; split by group (subject, video, source file) when rows come in groups.",
            "why": "A validation row the model trained on is scored from memory, so the validation loss looks better than the model is.",
        },
        "zh": {
            "action": "先去重再划分：对每行计算哈希（例如 `hashlib.sha1(row.tobytes()).hexdigest()`），删除重复后再划分；数据成组出现时（同一个人、同一段视频、同一个源文件）按组划分。",
            "run_action": "先去重再划分（检查的 {seen} 行验证数据中有 {count} 行是训练数据的副本）：对每行计算哈希（例如 `hashlib.sha1(row.tobytes()).hexdigest()`），删除重复后再划分；数据成组出现时（同一个人、同一段视频、同一个源文件）按组划分。",
            "why": "模型训练过的验证样本是靠记忆答对的，验证损失因此显得比模型实际更好。",
        },
    },
    "check_input_alignment": {
        "en": {
            "action": "Check that each label still belongs to its input: shuffle x and y together (`tf.data.Dataset.from_tensor_slices((x, y)).shuffle(n)`, or one permutation index for both arrays), check that the pipeline passes the features through (a wrong dict key or column, a `map` that drops them), and print a few (input, label) pairs after the whole pipeline.",
            "run_action": "Check that each label still belongs to its input (zeroed inputs reached a held-out loss of {zero_input_loss} in {steps} steps, as good as the real ones' {loss}): shuffle x and y together (`tf.data.Dataset.from_tensor_slices((x, y)).shuffle(n)`, or one permutation index for both arrays), check that the pipeline passes the features through (a wrong dict key or column, a `map` that drops them), and print a few (input, label) pairs after the whole pipeline.",
            "why": "When the inputs carry no information about the labels, the model can only learn the label frequencies, which a model fed zeros learns as well.",
        },
        "zh": {
            "action": "确认每个标签仍对应它自己的输入：把 x 和 y 一起打乱（`tf.data.Dataset.from_tensor_slices((x, y)).shuffle(n)`，或对两个数组使用同一个排列索引），确认数据管道把特征传了过去（字典键或列名写错、某个 `map` 把特征丢了），并在整个管道之后打印几组（输入，标签）。",
            "run_action": "确认每个标签仍对应它自己的输入（全零输入训练 {steps} 步后留出损失为 {zero_input_loss}，与真实输入的 {loss} 一样好）：把 x 和 y 一起打乱（`tf.data.Dataset.from_tensor_slices((x, y)).shuffle(n)`，或对两个数组使用同一个排列索引），确认数据管道把特征传了过去（字典键或列名写错、某个 `map` 把特征丢了），并在整个管道之后打印几组（输入，标签）。",
            "why": "输入不含任何关于标签的信息时，模型只能学到标签的频率，而喂全零的模型也能学到这些。",
        },
    },
    "find_batch_mixing": {
        "en": {
            "action": "Look for operations across the batch axis: a `reshape` or `transpose` that moves axis 0 (e.g. `ops.reshape(x, (-1, ...))` with the wrong shape, a `transpose` whose permutation does not start with 0), a reduction over axis 0 (`ops.mean(x, axis=0)`), or a custom layer that uses batch statistics.",
            "run_action": "Look for operations across the batch axis (one sample's gradient leaked {leak}x its own norm into the other {others} samples; 0 when samples are independent): a `reshape` or `transpose` that moves axis 0 (e.g. `ops.reshape(x, (-1, ...))` with the wrong shape, a `transpose` whose permutation does not start with 0), a reduction over axis 0 (`ops.mean(x, axis=0)`), or a custom layer that uses batch statistics.",
            "why": "Each prediction then depends on what else is in the batch: results change with the batch size and order, and training can exploit information from other samples.",
        },
        "zh": {
            "action": "查找跨 batch 维度的操作：移动了第 0 维的 `reshape` 或 `transpose`（例如形状写错的 `ops.reshape(x, (-1, ...))`、排列不以 0 开头的 `transpose`）、在第 0 维上的归约（`ops.mean(x, axis=0)`），或使用 batch 统计量的自定义层。",
            "run_action": "查找跨 batch 维度的操作（一个样本的梯度以其自身范数的 {leak} 倍泄漏到其他 {others} 个样本；样本独立时应为 0）：移动了第 0 维的 `reshape` 或 `transpose`（例如形状写错的 `ops.reshape(x, (-1, ...))`、排列不以 0 开头的 `transpose`）、在第 0 维上的归约（`ops.mean(x, axis=0)`），或使用 batch 统计量的自定义层。",
            "why": "这样每个预测都取决于同一 batch 里还有哪些样本：结果随 batch 大小和顺序而变，训练时模型还能利用其他样本的信息。",
        },
    },
    "check_batch_statistics": {
        "en": {
            "action": "Check that layers with batch statistics run in the right mode: `BatchNormalization` (and anything called with `training=True` by hand) must use its moving statistics at inference; call sub-models with `training=training`, never a constant.",
            "why": "A layer stuck in training mode normalises each prediction with the statistics of its batch, so a single sample or a small last batch gets a different answer.",
        },
        "zh": {
            "action": "检查带 batch 统计量的层是否处于正确的模式：`BatchNormalization`（以及任何被手动传入 `training=True` 的调用）在推理时必须使用滑动统计量；调用子模型时传 `training=training`，不要写死常量。",
            "why": "一直处于训练模式的层会用所在 batch 的统计量去归一化每个预测，单个样本或较小的最后一个 batch 就会得到不同的结果。",
        },
    },
    "debug_cannot_overfit": {
        "en": {
            "action": "Find what stops the model from fitting one small batch: dead units (ReLU layers with large negative biases, or an LR that killed them), layers frozen with `trainable=False`, a loss that does not match the output (`from_logits`), regularisation or dropout that dominates the loss, or a learning rate far too small.",
            "run_action": "Find what stops the model from fitting {batch_size} rows ({start_loss} → {final_loss} in {steps} steps): dead units (ReLU layers with large negative biases, or an LR that killed them), layers frozen with `trainable=False`, a loss that does not match the output (`from_logits`), regularisation or dropout that dominates the loss, or a learning rate far too small.",
            "why": "Memorising a few dozen samples is the easiest task a model gets; failing it means something in the model, the loss or the optimizer blocks learning itself.",
        },
        "zh": {
            "action": "找出模型连一个小 batch 都拟合不了的原因：死亡的神经元（ReLU 层偏置为很大的负数，或学习率把它们弄死了）、被 `trainable=False` 冻结的层、与输出不匹配的损失（`from_logits`）、压过损失的正则化或 dropout，或者学习率小得离谱。",
            "run_action": "找出模型连 {batch_size} 行都拟合不了的原因（{steps} 步内 {start_loss} → {final_loss}）：死亡的神经元（ReLU 层偏置为很大的负数，或学习率把它们弄死了）、被 `trainable=False` 冻结的层、与输出不匹配的损失（`from_logits`）、压过损失的正则化或 dropout，或者学习率小得离谱。",
            "why": "记住几十个样本是模型能遇到的最简单的任务；做不到，说明模型、损失或优化器本身在阻碍学习。",
        },
    },
    "try_suggested_lr": {
        "en": {
            "action": "Try the learning rate the range test suggests, then compare full runs at 3x either side of it.",
            "run_action": "Try a learning rate of {suggested_lr} instead of {compiled_lr} (the range test's suggestion; its loss was lowest at {min_loss_lr}, about the largest rate that still trains), then compare full runs at 3x either side of it.",
            "why": "A short range test tends to suggest high, so it is a starting point to compare, not a verdict; but a compiled rate 100x below it crawls, and one above its loss minimum was already making the loss rise.",
        },
        "zh": {
            "action": "试试范围测试建议的学习率，再在它上下 3 倍处各跑一次完整训练做比较。",
            "run_action": "把学习率从 {compiled_lr} 改为 {suggested_lr} 试试（范围测试的建议；损失最低点在 {min_loss_lr}，大约是还能训练的最大学习率），再在它上下 3 倍处各跑一次完整训练做比较。",
            "why": "短的范围测试往往建议得偏高，所以它是比较的起点而不是结论；但编译时的学习率比它低 100 倍会训练得很慢，高于损失最低点则损失在测试中已经开始上升。",
        },
    },
}
