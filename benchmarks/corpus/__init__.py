"""The accuracy corpus: real small training runs from many programs, labelled before any analysis.

Why it is built this way (issue 8): a yardstick the rules could have been
fitted to says nothing about runs nobody tuned them on. So:

- A *program* is one model family x data set x training script x writer
  convention (Keras ``fit`` + ``keras.callbacks.TensorBoard``, a custom
  ``tf.GradientTape`` loop with ``tf.summary``, a PyTorch loop with
  ``SummaryWriter``, Lightning's or Hugging Face's tag names, tensorboardX).
  Each program module in `programs/` makes 15-20 runs: healthy ones (including
  the things that look alarming and are not) and runs with faults injected in
  several different ways.
- The corpus is split by program, not by run (`split.py`, fixed before any
  run existed): rules are tuned on ``dev`` programs only, and the ``heldout``
  programs give the headline figure. The held-out labels are frozen by a hash
  (``benchmarks/heldout.sha256``, checked by ``benchmarks/accuracy.py``).
- Every run is labelled by `label.py` right after it is trained, from its
  curves and what the program says its tags mean, with criteria written in
  that module's docstring that share no constant with the rules in
  ``tb_recipe_plugin/analysis/rules/``; nothing in this package imports the
  analyzer. An injected fault that does not show in the curves gets the
  label of what does show (often healthy).

Generate with ``python -m benchmarks.corpus`` (see `generate.py`); programs
need TensorFlow, PyTorch (``pip install torch==2.13.0``), tensorboardX and
scikit-learn.
"""
