"""The effect page: the director's load against the pre-adoption baseline, per quarter (or week/month)."""

from __future__ import annotations

from typing import Any

from litestar import Controller, Request, get
from litestar.response import Template
from markupsafe import Markup

from api.auth import EVERYONE, runtime_of


class EffectPage(Controller):
    @get("/effect", opt={"roles": EVERYONE}, sync_to_thread=True)
    def effect(self, request: Request[Any, Any, Any]) -> Template:
        from engine.effect.render import effect_html
        from engine.effect.service import Effect

        period = request.query_params.get("period", "quarter")
        if period not in ("week", "month", "quarter"):
            period = "quarter"
        runtime = runtime_of(request)
        report = Effect(runtime.service, runtime.policies, runtime.service.clock).report(period, 4)
        return Template(
            template_name="effect.html.j2",
            context={
                "user": request.scope.get("user"),
                "policy": runtime.policies.current,
                "path": request.url.path,
                "period": period,
                # Safe: rendered by our own autoescaping template from numbers and our own labels.
                "body": Markup(effect_html(report, standalone=False)),
            },
        )
