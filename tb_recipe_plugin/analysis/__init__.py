"""The analyzer: scalar series in, findings out, no I/O and no TensorFlow.

`analyzer.analyze_run` is the one entry point shared by the CLI, the
TensorBoard tab and the Keras callback's end-of-fit summary; `rules/` holds
one small declared function per finding.
"""
