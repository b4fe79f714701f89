"""``GET /swagger.json``: the service's OpenAPI document, v1's shape (version 2 by default,
3 and 3.1 with ``?version=``), its ServiceInput / ServiceOutput from the inference_schema
decorators of run(). A swagger.json (or swagger2.json, swagger3.json) in the source folder
is served instead, as v1 does."""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from pathlib import Path
from typing import Any

from runyard.scoring.script import schema_util

logger = logging.getLogger(__name__)

Json = dict[str, Any]

_ALIASES = {"2": "2", "2.0": "2", "3": "3", "3.0": "3", "3.1": "3.1"}
_UNDECORATED = {"type": "object", "example": {}}
_ERROR = {"type": "object", "properties": {"message": {"type": "string"}}}
_HEALTH = "Simple health check endpoint to ensure the service is up at any given point."
_HEALTHY = "If service is up and running, this response will be returned with the content 'Healthy'"
_SCORE = "Run web service's model and get the prediction output"
_PAYLOAD = "The input payload for executing the real-time machine learning service."
_OUTPUT = (
    "The service processed the input correctly and provided a result prediction, if applicable."
)
_FAILED = "The service failed to execute due to an error."


class SwaggerDocuments:
    """Every version's document, made once after the script is loaded, as JSON bytes."""

    def __init__(self, service_name: str, run: Callable[..., Any], source_directory: str | None):
        schemas, supported = _schemas(run)
        self._documents: dict[str, bytes] = {}
        for version in sorted(set(_ALIASES.values())):
            document = _users(source_directory, version) or (
                _document(version, service_name, *schemas) if version in supported else None
            )
            if document is not None:
                self._documents[version] = json.dumps(document).encode("utf-8")

    def get(self, version: str | None) -> tuple[bytes | None, str]:
        """The document's JSON, or None and why not (for a 404)."""
        canonical = _ALIASES.get(version or "2")
        supported = ", ".join(sorted(self._documents))
        if canonical is None:
            return (
                None,
                f"Swagger version [{version}] is not valid. Supported versions: [{supported}].",
            )
        document = self._documents.get(canonical)
        if document is None:
            return None, (
                f"Swagger version [{version}] is not supported for the scoring script. "
                f"Supported swagger versions: [{supported}]."
            )
        return document, ""


def _schemas(run: Callable[..., Any]) -> tuple[tuple[Any, Any], set[str]]:
    """(input, output) schemas of run() and the versions they fit in."""
    util = schema_util()
    try:
        if util is not None and util.is_schema_decorated(run):
            schemas = (util.get_input_schema(run), util.get_output_schema(run))
            return schemas, {_ALIASES.get(v, v) for v in util.get_supported_versions(run)}
    except Exception:  # inference_schema's own failure must not stop the service
        logger.exception("Cannot read run()'s inference_schema schemas; swagger.json omits them")
    return (_UNDECORATED, _UNDECORATED), set(_ALIASES.values())


def _users(source_directory: str | None, version: str) -> Any:
    if not source_directory:
        return None
    names = {"2": ("swagger.json", "swagger2.json"), "3": ("swagger3.json",), "3.1": ()}
    for name in names[version]:
        path = Path(source_directory) / name
        try:
            document = json.loads(path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            continue
        except (OSError, ValueError) as exc:
            logger.error("Ignoring %s, which cannot be read as JSON: %s", path, exc)
            continue
        logger.info("Serving the swagger document %s for version %s", path, version)
        return document
    return None


def _document(
    version: str, service_name: str, input_schema: Any, output_schema: Any
) -> dict[str, Any]:
    info = {
        "title": service_name,
        "description": f"API specification for the Runyard web service {service_name}",
        "version": "1.0",
    }
    bearer = {
        "type": "apiKey",
        "name": "Authorization",
        "in": "header",
        "description": "For example: Bearer abc123",
    }
    if version == "2":
        return _swagger2(info, bearer, input_schema, output_schema)
    document = _openapi3(info, bearer, input_schema, output_schema)
    document["openapi"] = "3.1.0" if version == "3.1" else "3.0.3"
    return document


def _swagger2(info: Json, bearer: Json, input_schema: Any, output_schema: Any) -> Json:
    failed = {"description": _FAILED, "schema": {"$ref": "#/definitions/ErrorResponse"}}
    return {
        "swagger": "2.0",
        "info": info,
        "schemes": ["http", "https"],
        "consumes": ["application/json"],
        "produces": ["application/json"],
        "securityDefinitions": {"Bearer": bearer},
        "paths": {
            "/": {
                "get": {
                    "operationId": "ServiceHealthCheck",
                    "description": _HEALTH,
                    "responses": {
                        "200": {
                            "description": _HEALTHY,
                            "schema": {"type": "string"},
                            "examples": {"application/json": "Healthy"},
                        },
                        "default": failed,
                    },
                }
            },
            "/score": {
                "post": {
                    "operationId": "RunMLService",
                    "description": _SCORE,
                    "security": [{"Bearer": []}],
                    "parameters": [
                        {
                            "name": "serviceInputPayload",
                            "in": "body",
                            "description": _PAYLOAD,
                            "schema": {"$ref": "#/definitions/ServiceInput"},
                        }
                    ],
                    "responses": {
                        "200": {
                            "description": _OUTPUT,
                            "schema": {"$ref": "#/definitions/ServiceOutput"},
                        },
                        "default": failed,
                    },
                }
            },
        },
        "definitions": {
            "ServiceInput": input_schema,
            "ServiceOutput": output_schema,
            "ErrorResponse": _ERROR,
        },
    }


def _openapi3(info: Json, bearer: Json, input_schema: Any, output_schema: Any) -> Json:
    def content(ref: str) -> Json:
        return {"application/json": {"schema": {"$ref": f"#/components/schemas/{ref}"}}}

    failed = {"description": _FAILED, "content": content("ErrorResponse")}
    return {
        "openapi": "3.0.3",
        "info": info,
        "paths": {
            "/": {
                "get": {
                    "operationId": "ServiceHealthCheck",
                    "description": _HEALTH,
                    "responses": {
                        "200": {
                            "description": _HEALTHY,
                            "content": {
                                "text/plain": {"schema": {"type": "string", "example": "Healthy"}}
                            },
                        },
                        "default": failed,
                    },
                }
            },
            "/score": {
                "post": {
                    "operationId": "RunMLService",
                    "description": _SCORE,
                    "security": [{"Bearer": []}],
                    "requestBody": {"description": _PAYLOAD, "content": content("ServiceInput")},
                    "responses": {
                        "200": {"description": _OUTPUT, "content": content("ServiceOutput")},
                        "default": failed,
                    },
                }
            },
        },
        "components": {
            "securitySchemes": {"Bearer": bearer},
            "schemas": {
                "ServiceInput": input_schema,
                "ServiceOutput": output_schema,
                "ErrorResponse": _ERROR,
            },
        },
    }
