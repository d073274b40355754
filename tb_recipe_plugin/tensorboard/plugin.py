"""TensorBoard entry point for the "Diagnosis" tab.

TensorBoard imports this module at start-up through the `tensorboard_plugins`
entry point; an exception here stops TensorBoard itself. So it imports only
TensorBoard's own plugin base and werkzeug: the analyzer (numpy) is loaded on
the first request, and every route turns failures into an HTTP error for that
request instead of a crash.
"""

from __future__ import annotations

import functools
import json
from importlib import resources

from tensorboard.backend import http_util
from tensorboard.plugins import base_plugin
from werkzeug import wrappers

PLUGIN_NAME = "tb_recipe"
DEFAULT_SAMPLES = 1000
"""TensorBoard's own default for scalars; `--samples_per_plugin scalars=N` overrides it."""
ALLOWED_METHODS = ("GET", "HEAD")
"""Every route only reads. HEAD is answered like GET without the body (werkzeug drops it)."""


class DiagnosisPlugin(base_plugin.TBPlugin):
    plugin_name = PLUGIN_NAME

    def __init__(self, context: base_plugin.TBContext) -> None:
        self._provider = context.data_provider
        hints = context.sampling_hints or {}
        self._samples = hints.get("scalars") or DEFAULT_SAMPLES
        self._logdir = context.logdir or ""
        self._service = None

    def get_plugin_apps(self):
        apps = {
            "/index.js": self._serve_js,
            "/plotly.js": self._serve_plotly,
            "/runs": self._serve_runs,
            "/diagnosis": self._serve_diagnosis,
            "/series": self._serve_series,
            "/sweeps": self._serve_sweeps,
            "/strings": self._serve_strings,
        }
        return {route: _read_only(app) for route, app in apps.items()}

    def is_active(self) -> bool:
        return False  # activity comes from data_plugin_names()

    def data_plugin_names(self):
        return ("scalars",)

    def frontend_metadata(self):
        return base_plugin.FrontendMetadata(es_module_path="/index.js", tab_name="Diagnosis")

    def service(self):
        if self._service is None:
            from tb_recipe_plugin.tensorboard.service import DiagnosisService

            self._service = DiagnosisService(self._provider, self._samples, self._logdir)
        return self._service

    @wrappers.Request.application
    def _serve_js(self, request):
        source = resources.files(__package__).joinpath("frontend", "index.js").read_text(encoding="utf-8")
        return http_util.Respond(request, source, "application/javascript")

    @wrappers.Request.application
    def _serve_plotly(self, request):
        """The charting library, from the installed `plotly` package: TensorBoard's page
        policy forbids scripts from other origins, and no bundle is checked in here."""
        source = resources.files("plotly").joinpath("package_data", "plotly.min.js").read_bytes()
        return http_util.Respond(request, source, "application/javascript", expires=86400)

    @wrappers.Request.application
    def _serve_runs(self, request):
        return self._call(request, "runs")

    @wrappers.Request.application
    def _serve_diagnosis(self, request):
        return self._call(request, "diagnosis")

    @wrappers.Request.application
    def _serve_series(self, request):
        return self._call(request, "series")

    @wrappers.Request.application
    def _serve_sweeps(self, request):
        return self._call(request, "sweeps")

    @wrappers.Request.application
    def _serve_strings(self, request):
        return self._call(request, "strings")

    def _call(self, request, route: str):
        """Parse arguments, run the plain route function, map its errors to 400/404."""
        from tensorboard import plugin_util

        from tb_recipe_plugin.tensorboard.service import BadRequest, UnknownRun

        ctx = plugin_util.context(request.environ)
        eid = plugin_util.experiment_id(request.environ)
        args = {k: request.args.get(k) for k in ("run", "lang")}
        try:
            body = getattr(self.service(), route)(ctx, eid, **args)
            code = 200
        except BadRequest as exc:
            body, code = {"error": str(exc)}, 400
        except UnknownRun as exc:
            body, code = {"error": str(exc)}, 404
        return http_util.Respond(
            request, json.dumps(body, ensure_ascii=False, allow_nan=False), "application/json", code=code
        )


def _read_only(app):
    """`app` for GET and HEAD; 405 with an `Allow` header for any other method.

    TensorBoard hands every method to a plugin's route. These routes only read,
    so answering POST or DELETE with 200 would tell a client (or a cross-site
    form) that something was written, and would run the analysis for it.
    """

    @functools.wraps(app)
    def guarded(environ, start_response):
        if environ.get("REQUEST_METHOD") in ALLOWED_METHODS:
            return app(environ, start_response)
        allowed = ", ".join(ALLOWED_METHODS)
        body = json.dumps({"error": f"method not allowed; use {' or '.join(ALLOWED_METHODS)}"})
        response = http_util.Respond(
            wrappers.Request(environ), body, "application/json", code=405, headers=[("Allow", allowed)]
        )
        return response(environ, start_response)

    return guarded
