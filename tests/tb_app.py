"""A real TensorBoard WSGI app (all default and dynamic plugins) for route tests.

Built the way `tensorboard --logdir` builds it, with the Python data ingester
loading once in the foreground so tests see all data without sleeping.
"""

from __future__ import annotations

import json

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
    # For runs no folder can produce through TensorBoard's own loaders (e.g. a name with a lone surrogate).
    client.multiplexer = multiplexer
    return client


PREFIX = "/data/plugin/tb_recipe"


def get(client: Client, route: str, **args: str) -> tuple[int, dict]:
    """Status and decoded JSON body of one of the plugin's routes."""
    response = client.get(f"{PREFIX}/{route}", query_string=args)
    return response.status_code, json.loads(response.get_data(as_text=True))


def serve_with_a_failing_rule(run_name: str, rule_code: str = "nonfinite_loss") -> None:
    """Run TensorBoard exactly as the `tensorboard` command does (its `run_main`, which loads the
    plugin through its entry point), with one rule raising for the run `run_name` only.

    The tab's display of an analysis error (a tb-recipe bug) is then checked end to end
    without depending on a real bug that will be fixed. Usage:
    ``python -c "from tests.tb_app import serve_with_a_failing_rule as s; s('name')" --logdir ...``
    """
    import dataclasses
    import sys

    from tensorboard.main import run_main

    from tb_recipe_plugin.analysis import analyzer

    def broken(rule):
        def crash_on_that_run(ctx):
            if ctx.run.name == run_name:
                raise IndexError("injected failure for the tab test")
            return rule.fn(ctx)

        return dataclasses.replace(rule, fn=crash_on_that_run)

    analyzer.RULES = tuple(broken(r) if r.code == rule_code else r for r in analyzer.RULES)
    sys.argv[0] = "tensorboard"
    sys.exit(run_main())
