"""The suggestion catalogue: what to change, with a number where there is one, and why.

Kept as data, next to its translations, because every presenter (CLI text,
JSON, Markdown and the TensorBoard tab) shows the same advice and a reviewer
should be able to read and correct it without reading code. Texts are filled
with the finding's evidence; only `{best_step}` is used here.
"""

SUGGESTIONS: dict[str, dict[str, dict[str, str]]] = {
    "check_inputs_nan": {
        "en": {"action": "Check the input data and labels for NaN/Inf before training (e.g. `np.isfinite(x).all()` on every array, or `tf.debugging.check_numerics` in the input pipeline).", "why": "A single NaN in one batch poisons the weights, and from then on every loss is NaN."},
        "zh": {"action": "训练前检查输入数据和标签里有没有 NaN/Inf（例如对每个数组做 `np.isfinite(x).all()`，或在输入管道里加 `tf.debugging.check_numerics`）。", "why": "只要某个 batch 里有一个 NaN，权重就会被污染，之后所有的损失都会变成 NaN。"},
    },
    "lower_lr": {
        "en": {"action": "Lower the learning rate 3-10x (e.g. 1e-3 → 1e-4).", "why": "Steps that are too large overshoot the minimum, make the loss bounce or blow up, and can push activations into overflow."},
        "zh": {"action": "把学习率降低 3-10 倍（例如 1e-3 → 1e-4）。", "why": "步长太大会越过极小值，使损失来回震荡甚至爆炸，也可能让激活值溢出。"},
    },
    "clip_gradients": {
        "en": {"action": "Clip gradients by global norm at 5-15 (Keras: `Adam(clipnorm=5.0)`; PyTorch: `torch.nn.utils.clip_grad_norm_(params, 5.0)`), or at the 90th percentile of the gradient norms you observe.", "why": "Clipping caps the size of a single update, so one bad batch or a steep region cannot throw the weights far away."},
        "zh": {"action": "按全局范数裁剪梯度，阈值取 5-15（Keras：`Adam(clipnorm=5.0)`；PyTorch：`torch.nn.utils.clip_grad_norm_(params, 5.0)`），或取观察到的梯度范数的第 90 百分位。", "why": "梯度裁剪限制了单次更新的幅度，一个坏 batch 或一段陡峭区域不会把权重甩得太远。"},
    },
    "safe_loss_ops": {
        "en": {"action": "Make the loss numerically safe: use the framework's from-logits losses (`from_logits=True`) instead of softmax + log, and add an epsilon to any log, division or sqrt you wrote yourself.", "why": "log(0), 0/0 and sqrt of a tiny negative number produce Inf/NaN even when the model is fine."},
        "zh": {"action": "让损失在数值上安全：使用框架自带的 from-logits 损失（`from_logits=True`），不要自己写 softmax + log；自定义的 log、除法、开方都加上一个 epsilon。", "why": "log(0)、0/0 或对极小负数开方，即使模型本身没问题也会产生 Inf/NaN。"},
    },
    "add_batchnorm": {
        "en": {"action": "Add batch normalization (or layer normalization) after the dense/conv layers, before the activation.", "why": "Normalized activations keep gradients in a healthy range, which allows higher learning rates and deeper models without blowing up."},
        "zh": {"action": "在全连接层/卷积层之后、激活函数之前加入 Batch Normalization（或 Layer Normalization）。", "why": "归一化后的激活让梯度保持在合适的范围，可以用更大的学习率和更深的网络而不爆炸。"},
    },
    "residual_connections": {
        "en": {"action": "For deep networks, add residual (skip) connections around blocks of 2-3 layers.", "why": "Skip connections give gradients a short path back to the early layers, which prevents them from exploding or vanishing with depth."},
        "zh": {"action": "对较深的网络，每 2-3 层加一条残差（跳跃）连接。", "why": "跳跃连接给梯度提供了回到浅层的捷径，避免随深度增加而爆炸或消失。"},
    },
    "lr_warmup": {
        "en": {"action": "Warm the learning rate up linearly from ~1% of its value over the first 1-5% of the steps.", "why": "Early updates come from random weights and poorly estimated optimizer statistics; full-size steps then are what most often blows a run up."},
        "zh": {"action": "在前 1-5% 的训练步数里，把学习率从目标值的约 1% 线性升到目标值（warm-up）。", "why": "训练初期权重是随机的、优化器的统计量也不准，这时用全量步长最容易让训练崩掉。"},
    },
    "check_pipeline": {
        "en": {"action": "If the training loss rises from the start, check the pipeline: labels aligned with inputs after shuffling, the loss's sign and reduction, augmentation that destroys the labels, a data order that changes with time.", "why": "An optimizer with a sane learning rate does not make the training loss go up; a bug in what it is fed usually does."},
        "zh": {"action": "如果训练损失从一开始就上升，检查数据管道：打乱后标签是否仍与输入对应、损失的符号和归约方式、数据增强是否破坏了标签、数据顺序是否随时间变化。", "why": "学习率合理的优化器不会让训练损失上升，通常是喂给它的数据有问题。"},
    },
    "check_gradients_nonfinite": {
        "en": {"action": "Check the gradients for NaN/Inf and for all-zero values on one batch (`tf.GradientTape` or `loss.backward()` then inspect `param.grad`).", "why": "A loss stuck at its initial value often means the gradient is NaN, zero (dead units) or never reaches the weights."},
        "zh": {"action": "在一个 batch 上检查梯度是否有 NaN/Inf 或全为 0（用 `tf.GradientTape`，或 `loss.backward()` 后查看 `param.grad`）。", "why": "损失停在初始值，往往是梯度为 NaN、为零（神经元死亡），或者根本没有传到权重上。"},
    },
    "overfit_one_batch": {
        "en": {"action": "Try to overfit a single small batch (e.g. 32 samples, no dropout or regularization): the loss should go to ~0 within a few hundred steps.", "why": "If the model cannot memorize 32 samples, the problem is the model, the loss or the labels, not the amount of data or regularization."},
        "zh": {"action": "试着在一个小 batch（例如 32 个样本，去掉 dropout 和正则化）上过拟合：几百步内损失应该接近 0。", "why": "如果模型连 32 个样本都记不住，问题出在模型、损失函数或标签上，而不是数据量或正则化。"},
    },
    "lr_sweep": {
        "en": {"action": "Sweep the learning rate by factors of 10 (1e-1 … 1e-5) for a few hundred steps each; Adam at 3e-4 is a forgiving starting point.", "why": "The learning rate is the hyper-parameter with the largest effect; a value off by 100x in either direction can stop learning completely."},
        "zh": {"action": "以 10 倍为间隔扫描学习率（1e-1 … 1e-5），每个值训练几百步；Adam 配 3e-4 是比较稳妥的起点。", "why": "学习率是影响最大的超参数，无论偏大还是偏小 100 倍，都可能让训练完全停滞。"},
    },
    "lower_init_scale": {
        "en": {"action": "Use a proper initializer (He for ReLU, Glorot for tanh/sigmoid) or scale the initial weights down.", "why": "Too-large initial weights saturate activations or make the output extreme, so the first gradients are zero or NaN."},
        "zh": {"action": "使用合适的初始化（ReLU 用 He 初始化，tanh/sigmoid 用 Glorot 初始化），或者把初始权重调小。", "why": "初始权重过大会让激活饱和或输出极端，最初的梯度就会是零或 NaN。"},
    },
    "check_labels": {
        "en": {"action": "Check that labels match the inputs: print a few (input, label) pairs after the whole pipeline, and check the label encoding matches the loss (sparse vs one-hot, 0- vs 1-based).", "why": "Labels shuffled separately from the inputs, or in the wrong encoding, give a model nothing to learn: the loss stays at ln(C)."},
        "zh": {"action": "核对标签与输入是否对应：在整个数据管道之后打印几组（输入，标签），并确认标签编码与损失函数一致（稀疏还是 one-hot，从 0 还是从 1 开始）。", "why": "如果标签与输入分开打乱或编码不对，模型就没有可学的东西，损失会一直停在 ln(C)。"},
    },
    "check_last_layer": {
        "en": {"action": "Check the output layer: C units for C classes, the activation matching the loss (logits with `from_logits=True`, or softmax without it), and the expected initial loss ln(C) (2.30 for 10 classes).", "why": "A mismatched output layer or a double softmax leaves gradients that are tiny or point nowhere useful."},
        "zh": {"action": "检查输出层：C 个类别对应 C 个单元，激活函数与损失匹配（logits 配 `from_logits=True`，或者 softmax 不配），初始损失应约为 ln(C)（10 类为 2.30）。", "why": "输出层不匹配或做了两次 softmax，梯度会非常小或方向没有意义。"},
    },
    "early_stopping": {
        "en": {"action": "Keep the checkpoint from step {best_step}: `EarlyStopping(monitor='val_loss', patience=5, restore_best_weights=True)` (Lightning: `EarlyStopping` + `ModelCheckpoint(monitor='val_loss')`).", "why": "Validation stopped improving there; training on only fits the training set more closely."},
        "zh": {"action": "保留第 {best_step} 步的模型：`EarlyStopping(monitor='val_loss', patience=5, restore_best_weights=True)`（Lightning：`EarlyStopping` + `ModelCheckpoint(monitor='val_loss')`）。", "why": "验证集在那一步之后就不再变好，继续训练只是更贴合训练集。"},
    },
    "dropout": {
        "en": {"action": "Add dropout 0.2-0.5 before the dense layers (0.1 for attention/embedding layers).", "why": "Dropout stops units from co-adapting to the training set, a cheap and strong regularizer."},
        "zh": {"action": "在全连接层前加入 0.2-0.5 的 dropout（注意力层/嵌入层用 0.1 左右）。", "why": "dropout 防止神经元彼此依赖地去记住训练集，是一种便宜而有效的正则化。"},
    },
    "weight_decay": {
        "en": {"action": "Add L2 weight decay 1e-4 to 1e-2 (Keras: `kernel_regularizer=l2(1e-4)` or `AdamW(weight_decay=1e-2)`; PyTorch: `AdamW(weight_decay=1e-2)`).", "why": "Penalizing large weights keeps the function smoother, which generalizes better and also keeps weights from drifting towards overflow."},
        "zh": {"action": "加入 1e-4 到 1e-2 的 L2 权重衰减（Keras：`kernel_regularizer=l2(1e-4)` 或 `AdamW(weight_decay=1e-2)`；PyTorch：`AdamW(weight_decay=1e-2)`）。", "why": "惩罚过大的权重能让函数更平滑、泛化更好，也避免权重一路增大到溢出。"},
    },
    "augmentation": {
        "en": {"action": "Add data augmentation suited to the data (flips, crops, rotations, noise, mixup); be bold with it.", "why": "Augmentation enlarges the effective training set, the most reliable remedy for memorization after real new data."},
        "zh": {"action": "加入适合数据的增强（翻转、裁剪、旋转、加噪声、mixup），力度可以大胆一些。", "why": "数据增强相当于扩大了训练集，是除真实新数据之外最可靠的防过拟合手段。"},
    },
    "more_data": {
        "en": {"action": "Get more real training data if you can; compare the parameter count with the number of samples (a million parameters on ten thousand samples will memorize).", "why": "More data is the only regularizer that helps monotonically."},
        "zh": {"action": "尽可能获取更多真实的训练数据；对比一下参数量和样本量（用一万个样本训练一百万个参数，必然会死记硬背）。", "why": "更多的数据是唯一一种稳定单调有效的正则化。"},
    },
    "smaller_model": {
        "en": {"action": "Try a smaller model (fewer layers or units), or global average pooling instead of large dense heads.", "why": "Fewer free parameters leave less room to memorize the training set."},
        "zh": {"action": "试试更小的模型（减少层数或单元数），或用全局平均池化替代很大的全连接头。", "why": "自由参数越少，死记训练集的空间就越小。"},
    },
    "reduce_lr_on_plateau": {
        "en": {"action": "Use `ReduceLROnPlateau(monitor='val_loss', factor=0.1-0.5, patience=3-5)` (PyTorch: `torch.optim.lr_scheduler.ReduceLROnPlateau`).", "why": "When progress stalls at one learning rate, a 2-10x smaller step often lets the optimizer settle into a lower minimum."},
        "zh": {"action": "使用 `ReduceLROnPlateau(monitor='val_loss', factor=0.1-0.5, patience=3-5)`（PyTorch：`torch.optim.lr_scheduler.ReduceLROnPlateau`）。", "why": "在某个学习率下停滞时，把步长缩小 2-10 倍，优化器往往能进入更低的极小值。"},
    },
    "bigger_model": {
        "en": {"action": "Increase capacity: more units or layers (e.g. 2x the width), or a stronger architecture for the data.", "why": "A model that cannot fit even the training data is too simple for the problem."},
        "zh": {"action": "增加模型容量：更多单元或层（例如宽度翻倍），或换用更适合该数据的结构。", "why": "连训练集都拟合不好的模型，对这个问题来说太简单了。"},
    },
    "less_regularization": {
        "en": {"action": "Reduce regularization: lower dropout and weight decay (e.g. 10x), or remove them while the model underfits.", "why": "Regularization trades training fit for generalization; with no overfitting to fight it only holds the model back."},
        "zh": {"action": "减弱正则化：降低 dropout 和权重衰减（例如降低 10 倍），在欠拟合时可以先去掉。", "why": "正则化是用训练集上的拟合换泛化；没有过拟合时，它只会拖模型的后腿。"},
    },
    "train_longer": {
        "en": {"action": "Train for more epochs (e.g. 2x), with early stopping on the validation loss so it stops by itself.", "why": "The curves were still going down when training ended."},
        "zh": {"action": "训练更多 epoch（例如翻倍），同时在验证损失上设置早停，让它自己停下来。", "why": "训练结束时曲线仍在下降。"},
    },
    "smaller_batch": {
        "en": {"action": "Try a 2-4x smaller batch size (with the learning rate scaled down by the same factor for SGD).", "why": "Smaller batches add gradient noise that can help the optimizer leave a flat region or saddle point."},
        "zh": {"action": "试试把 batch size 缩小 2-4 倍（SGD 的学习率按同样比例缩小）。", "why": "小 batch 带来的梯度噪声能帮助优化器离开平坦区域或鞍点。"},
    },
    "stop_earlier": {
        "en": {"action": "Stop training earlier, around step {best_step}, and spend the compute on another learning rate or model instead.", "why": "The last part of the run bought almost nothing."},
        "zh": {"action": "更早停止训练（大约在第 {best_step} 步），把算力花在尝试其他学习率或模型上。", "why": "训练的最后一段几乎没有带来任何提升。"},
    },
    "keep_schedule": {
        "en": {"action": "Keep the learning-rate schedule but stretch it over the longer run (a schedule that ends early stops progress too).", "why": "Extending training without extending the schedule leaves the extra epochs at a tiny learning rate."},
        "zh": {"action": "保持学习率策略，但按更长的训练重新拉伸（策略提前结束同样会让训练停滞）。", "why": "只延长训练而不延长学习率策略，多出来的 epoch 都是在极小的学习率下进行的。"},
    },
    "raise_lr": {
        "en": {"action": "Raise the learning rate 3-10x (e.g. SGD 1e-3 → 1e-2), or switch to Adam at 1e-3.", "why": "A loss that falls in a straight line without ever bending is taking steps far smaller than the landscape allows."},
        "zh": {"action": "把学习率提高 3-10 倍（例如 SGD 1e-3 → 1e-2），或换成学习率 1e-3 的 Adam。", "why": "损失呈直线下降、始终不弯，说明步长远小于损失曲面所允许的。"},
    },
    "lr_range_test": {
        "en": {"action": "Run a learning-rate range test: increase the LR exponentially from 1e-7 to 1 over a few hundred steps and pick a value ~10x below where the loss starts to rise.", "why": "It finds a good learning rate in minutes instead of whole training runs."},
        "zh": {"action": "做一次学习率范围测试：在几百步内把学习率从 1e-7 指数增大到 1，选取损失开始上升处再小约 10 倍的值。", "why": "几分钟就能找到合适的学习率，而不用跑完整的训练。"},
    },
    "larger_batch": {
        "en": {"action": "Use a 4-10x larger batch (keep the LR, or scale it up gently), or accumulate gradients over several batches.", "why": "Larger batches average out per-sample noise, so each step points in a more reliable direction."},
        "zh": {"action": "把 batch 增大 4-10 倍（学习率保持不变或适度增大），或在多个 batch 上累积梯度。", "why": "更大的 batch 能平均掉单个样本的噪声，每一步的方向更可靠。"},
    },
    "shuffle_data": {
        "en": {"action": "Shuffle the training data every epoch (`DataLoader(shuffle=True)`; `tf.data`: `.shuffle(buffer, reshuffle_each_iteration=True)` with a buffer as large as the data set).", "why": "Ordered data (e.g. sorted by class) makes consecutive batches pull the model in different directions, so the loss swings with the data order."},
        "zh": {"action": "每个 epoch 都打乱训练数据（`DataLoader(shuffle=True)`；`tf.data` 用 `.shuffle(buffer, reshuffle_each_iteration=True)`，缓冲区与数据集一样大）。", "why": "有序的数据（例如按类别排序）会让相邻的 batch 把模型往不同方向拉，损失随数据顺序摆动。"},
    },
    "larger_val_set": {
        "en": {"action": "Use a larger validation set (a few thousand samples if you can) and evaluate on all of it, not on a few batches.", "why": "A small validation set gives noisy estimates: single evaluations then mislead checkpoint choice and early stopping."},
        "zh": {"action": "使用更大的验证集（条件允许时几千个样本），并在整个验证集上评估，而不是只评估几个 batch。", "why": "验证集太小，估计值噪声就大，单次评估会误导模型选择和早停。"},
    },
    "more_capacity": {
        "en": {"action": "If the loss oscillates and never settles, try a somewhat larger model (one more layer or wider layers).", "why": "A model that is too small can keep trading one group of samples against another instead of fitting both."},
        "zh": {"action": "如果损失一直震荡、无法收敛，试试稍大一些的模型（多一层或更宽的层）。", "why": "模型太小时，会在不同样本之间顾此失彼，而不是同时拟合它们。"},
    },
    "check_sampler": {
        "en": {"action": "Check the sampler and the input pipeline order: with a fixed seed, `fit(shuffle=True)` on arrays can repeat the same order every epoch; a periodic loss with a reshuffled order points at the data itself (e.g. a few bad files).", "why": "The loss repeats with the epoch only if the batches do."},
        "zh": {"action": "检查采样器和输入管道的顺序：固定随机种子后，对数组调用 `fit(shuffle=True)` 可能每个 epoch 顺序都相同；若每轮确实重新打乱了，周期性损失则说明数据本身有问题（例如几个坏文件）。", "why": "只有 batch 按 epoch 重复，损失才会按 epoch 重复。"},
    },
    "check_bad_batches": {
        "en": {"action": "Log the sample ids of the batches at the spike steps and inspect them (wrong labels, corrupt files, extreme values).", "why": "Isolated spikes usually come from a few bad samples; fixing or dropping them is cheaper than tuning around them."},
        "zh": {"action": "记录尖峰所在步的 batch 样本编号并逐一检查（标签错误、文件损坏、极端数值）。", "why": "孤立的尖峰通常来自少数坏样本，修正或剔除它们比调参绕过去更省事。"},
    },
    "delay_decay": {
        "en": {"action": "Start decaying the learning rate later, or slow the decay (e.g. ExponentialDecay with decay_steps 5-10x larger), so it reaches ~1% of its peak only near the end of training.", "why": "The loss was still falling when the learning rate became too small to make progress."},
        "zh": {"action": "推迟学习率衰减，或放慢衰减速度（例如把 ExponentialDecay 的 decay_steps 增大 5-10 倍），让学习率在训练快结束时才降到峰值的 1% 左右。", "why": "学习率变得太小、无法再推进时，损失其实还在下降。"},
    },
    "disable_decay": {
        "en": {"action": "Run once with a constant learning rate (no decay) as a baseline before tuning a schedule.", "why": "Default decay settings are easy to get wrong; a constant-LR run shows how far the model can get without them."},
        "zh": {"action": "先用恒定学习率（不衰减）跑一次作为基线，再去调整学习率策略。", "why": "默认的衰减参数很容易设错；恒定学习率的结果能告诉你不衰减时模型能走多远。"},
    },
    "explain_regularization_gap": {
        "en": {"action": "Usually nothing to fix: dropout and augmentation act only during training, and Keras' training loss is an average over an epoch in which the model improved.", "why": "Both make the training loss read higher than the same model would score on the training data at evaluation time."},
        "zh": {"action": "通常无需处理：dropout 和数据增强只在训练时生效，而且 Keras 的训练损失是整个 epoch 的平均值，期间模型一直在变好。", "why": "这两点都会让训练损失看起来比同一模型在评估模式下的训练集损失更高。"},
    },
    "check_leakage": {
        "en": {"action": "Check for leakage between training and validation: duplicated samples, the same subject/patient/video in both splits, or features computed from the labels.", "why": "Leakage makes validation look easier than the real task and hides overfitting."},
        "zh": {"action": "检查训练集和验证集之间是否有泄漏：重复样本、同一个人/病人/视频同时出现在两边、或由标签计算出的特征。", "why": "数据泄漏会让验证集显得比真实任务更容易，并掩盖过拟合。"},
    },
    "check_split_distribution": {
        "en": {"action": "Check that training and validation come from the same distribution: compare feature statistics and class frequencies of the two splits.", "why": "If they differ, validation measures a different task and the training curve cannot predict it."},
        "zh": {"action": "确认训练集和验证集来自同一分布：比较两者的特征统计量和类别比例。", "why": "两者分布不同时，验证集衡量的是另一个任务，训练曲线无法预示它的表现。"},
    },
    "check_val_preprocessing": {
        "en": {"action": "Apply exactly the training preprocessing to validation data (same normalization statistics from the training set, same resizing and tokenization), but no augmentation.", "why": "A missing or different normalization on one split shifts its inputs, and the model's outputs on it become meaningless."},
        "zh": {"action": "对验证数据使用与训练完全相同的预处理（用训练集统计量做同样的归一化、同样的缩放和分词），但不做数据增强。", "why": "某个数据集少做或做错了归一化，输入分布就会偏移，模型在其上的输出也就失去意义。"},
    },
    "checkpoint_by_metric": {
        "en": {"action": "Choose the checkpoint by the metric you will report: `ModelCheckpoint(monitor='val_accuracy', mode='max', save_best_only=True)` keeps step {best_step}.", "why": "Loss and metric can disagree (confidence vs correctness); selecting on the loss then gives a worse final metric."},
        "zh": {"action": "按最终要报告的指标选择模型：`ModelCheckpoint(monitor='val_accuracy', mode='max', save_best_only=True)` 会保留第 {best_step} 步。", "why": "损失和指标可能不一致（置信度与正确率不同），按损失选模型会得到更差的最终指标。"},
    },
}
