"""A real TensorBoard WSGI app (all default and dynamic plugins) for route tests.

Built the way `tensorboard --logdir` builds it, with the Python data ingester
loading once in the foreground so tests see all data without sleeping.
"""

from __future__ import annotations

from tensorboard import program
from tensorboard.backend import application
from werkzeug.test import Client


def tensorboard_client(logdir: str, *extra: str) -> Client:
    tb = program.TensorBoard()
    tb.configure(
        argv=["", "--logdir", logdir, "--load_fast=false", "--reload_interval=0", "--reload_task=blocking", *extra]
    )
    data_provider, multiplexer = tb._make_data_provider()
    app = application.TensorBoardWSGIApp(
        tb.flags, tb.plugin_loaders, data_provider, tb.assets_zip_provider, multiplexer
    )
    client = Client(app)
    client.reload = lambda: (multiplexer.AddRunsFromDirectory(logdir), multiplexer.Reload())
    return client


PREFIX = "/data/plugin/tb_recipe"
