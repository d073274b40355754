"""Loaders: find the runs of a logdir and read their event files into `RunData`.

The CLI's fast path. Inside TensorBoard the plugin reads through TensorBoard's
own data provider instead (`tb_recipe_plugin.tensorboard.service`); both hand
the same containers (`tb_recipe_plugin.analysis.series`) to the analyzer.
"""
