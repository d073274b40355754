"""Only GET and HEAD reach the Diagnosis tab's routes (issue 7, defect 9).

The routes only read; answering POST/PUT/DELETE/... with 200 invites clients
(and cross-site forms) to believe a write happened and widens what a request
can trigger. Every route the plugin registers is checked with every method,
through the real TensorBoard WSGI app.
"""

from __future__ import annotations

import json

import pytest

from tests.tb_app import PREFIX, tensorboard_client
from tests.test_cli import healthy, write_run

ROUTES = ("/index.js", "/plotly.js", "/runs", "/diagnosis?run=fine", "/series?run=fine", "/sweeps", "/strings")
# Method names are case-sensitive (RFC 9110, 9.1): "get" is not GET.
REFUSED = ("POST", "PUT", "DELETE", "PATCH", "OPTIONS", "TRACE", "CONNECT", "PROPFIND", "get")


@pytest.fixture(scope="module")
def client(tmp_path_factory):
    logdir = tmp_path_factory.mktemp("methods")
    write_run(logdir / "fine", **{"Loss/train": healthy(), "Loss/val": [v * 1.05 for v in healthy()]})
    return tensorboard_client(str(logdir))


def test_every_registered_route_is_covered():
    """A route added later must be added to ROUTES (and so get the same checks)."""
    from tensorboard.plugins import base_plugin

    from tb_recipe_plugin.tensorboard.plugin import DiagnosisPlugin

    registered = set(DiagnosisPlugin(base_plugin.TBContext()).get_plugin_apps())
    assert registered == {route.split("?")[0] for route in ROUTES}


@pytest.mark.parametrize("route", ROUTES)
@pytest.mark.parametrize("method", REFUSED)
def test_other_methods_are_refused_with_405(client, route, method):
    response = client.open(PREFIX + route, method=method, data=b'{"x": 1}', content_type="application/json")
    assert response.status_code == 405, response.get_data(as_text=True)[:200]
    assert response.headers["Allow"] == "GET, HEAD"
    assert response.mimetype == "application/json"
    assert "GET" in json.loads(response.get_data(as_text=True))["error"]


@pytest.mark.parametrize("route", ROUTES)
def test_get_and_head_are_answered(client, route):
    got = client.get(PREFIX + route)
    head = client.head(PREFIX + route)
    assert got.status_code == head.status_code == 200
    assert got.get_data() and head.get_data() == b""
    assert head.headers["Content-Type"] == got.headers["Content-Type"]
    assert head.headers["Content-Length"] == str(len(got.get_data()))
