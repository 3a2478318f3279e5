"""Generate the API's OpenAPI document and its Markdown reference from the functions' own routes.

`python -m tools.openapi` (from the repository root; `make openapi`) loads the `app` resolver of every function of
template.yaml that has `Api` events, merges their OpenAPI schemas with Powertools' `OpenAPIMerge` (a route defined
twice is an error), and then states what every operation may answer besides its success: the one error envelope
for 400/401/403/404/413/415/429/500, in place of Powertools' 422 (this API answers validation errors with 400).
It writes `functions/system/openapi.json` (served at `GET /v1/openapi.json`) and `docs/api.md`.
`--check` writes nothing and exits 1 when either file is not what the routes generate (a contract test runs it).
"""

from __future__ import annotations

import argparse
import copy
import importlib.util
import json
import sys
import warnings
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "layers" / "core"))

from aws_lambda_powertools.event_handler.openapi.merge import OpenAPIMerge  # noqa: E402

from genai_core import __version__  # noqa: E402
from genai_core.scopes import security_schemes  # noqa: E402
from offline.cfn import load_template  # noqa: E402

SPEC_PATH = ROOT / "functions" / "system" / "openapi.json"
DOC_PATH = ROOT / "docs" / "api.md"
TITLE = "GenAI platform API"
DESCRIPTION = (
    "An OpenAI-compatible model gateway, prompt management, knowledge pipelines and admin, behind API Gateway and "
    "Cognito. Apps authenticate with OAuth2 client credentials (AppAuthorizer); administrators with authorization "
    "code + PKCE (AdminAuthorizer). Every error uses the OpenAI envelope (`Error`), with the request id in the "
    "`x-request-id` header."
)
_BODY_METHODS = {"post", "put", "patch"}
_POWERTOOLS_ERROR_SCHEMAS = ("HTTPValidationError", "ValidationError", "ResponseValidationError")

ERROR_SCHEMA: dict[str, Any] = {
    "type": "object",
    "title": "Error",
    "description": "The OpenAI error envelope, used by every error of this API and of API Gateway in front of it.",
    "required": ["error"],
    "properties": {
        "error": {
            "type": "object",
            "required": ["message", "type", "param", "code"],
            "properties": {
                "message": {"type": "string", "description": "What went wrong and what to change"},
                "type": {"type": "string", "description": "invalid_request_error, authentication_error, ..."},
                "param": {"type": ["string", "null"], "description": "The offending parameter, when one is"},
                "code": {"type": "string", "description": "Stable machine-readable code"},
            },
        }
    },
}
# Status -> when it is answered. Which of them an operation documents depends on what it takes (see _errors_for).
ERRORS = {
    400: "The request is malformed or a field is invalid; the message names it",
    401: "No token, or a token that is invalid, expired or of the wrong kind",
    403: "The token lacks the route's scope, or the caller may not do this",
    404: "No such route, or no such object for this app",
    409: "The change conflicts with the current state",
    413: "The request body is over the size limit",
    415: "The request body is not application/json",
    429: "Throttled (API Gateway) or over one of the app's limits; see Retry-After",
    500: "Internal error; quote the x-request-id",
    502: "An upstream (a model provider) failed",
    503: "Temporarily unavailable; see Retry-After",
}


def api_functions(template_path: Path = ROOT / "template.yaml") -> list[Path]:
    """The `app.py` of every function with at least one `Api` event, in template order."""
    template = load_template(template_path)
    found = []
    for spec in template["Resources"].values():
        if spec.get("Type") != "AWS::Serverless::Function":
            continue
        props = spec.get("Properties") or {}
        if any(e.get("Type") == "Api" for e in (props.get("Events") or {}).values()):
            found.append((template_path.parent / props["CodeUri"] / "app.py").resolve())
    return found


def _errors_for(method: str, operation: dict[str, Any]) -> list[int]:
    # Any request may carry a malformed or oversized body (checked before routing) or be throttled.
    codes = [400, 413, 429, 500]
    if operation.get("security"):
        codes += [401, 403]
    if method in _BODY_METHODS:
        codes += [415]
    if any(p.get("in") == "path" for p in operation.get("parameters", [])):
        codes += [404]
    if method in _BODY_METHODS | {"delete"} and operation.get("security"):
        codes += [409]
    return sorted(codes)


def _finish(schema: dict[str, Any]) -> dict[str, Any]:
    spec = copy.deepcopy(schema)
    spec["info"]["description"] = DESCRIPTION
    components = spec.setdefault("components", {})
    schemas = components.setdefault("schemas", {})
    for name in _POWERTOOLS_ERROR_SCHEMAS:
        schemas.pop(name, None)
    schemas["Error"] = ERROR_SCHEMA
    error_ref = {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}
    for path_item in spec.get("paths", {}).values():
        for method, operation in path_item.items():
            responses = operation.setdefault("responses", {})
            responses.pop("422", None)
            if "204" in responses:
                responses["204"] = {"description": "Done; no body"}
            for code in _errors_for(method, operation):
                responses.setdefault(str(code), {"description": ERRORS[code], "content": error_ref})
            # Error statuses a route declares itself (`responses=` on the route) carry the same envelope (Powertools
            # gives them the route's success model).
            for code, response in responses.items():
                if int(code) >= 400:
                    response["content"] = error_ref
            operation["responses"] = dict(sorted(responses.items(), key=lambda kv: str(kv[0])))
    spec["components"] = {k: dict(sorted(v.items())) for k, v in sorted(components.items())}
    return spec


def generate(functions: list[Path] | None = None) -> dict[str, Any]:
    """The OpenAPI document of every API function's routes."""
    merge = OpenAPIMerge(
        title=TITLE,
        version=__version__,
        security_schemes=dict(security_schemes()),
        on_conflict="error",
    )
    schemes = security_schemes()
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # a function that fails to import must fail the generation, not vanish
        for path in functions or api_functions():
            # The functions' resolvers carry no security schemes (importing their models costs cold-start time
            # in every function); they are given here, where the document is made.
            app = _load_app(path)
            merge.add_schema(app.get_openapi_schema(title=TITLE, version=__version__, security_schemes=schemes))
        schema = merge.get_openapi_schema()
    return _finish(json.loads(json.dumps(schema, default=_jsonable)))


def _load_app(path: Path) -> Any:
    """The `app` resolver of a function's app.py, imported under a name of its own (every module is `app`)."""
    name = f"openapi_{path.parent.name}_app"
    spec = importlib.util.spec_from_file_location(name, path)
    assert spec and spec.loader, path
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module.app


def _jsonable(value: Any) -> Any:
    if hasattr(value, "model_dump"):
        return value.model_dump(by_alias=True, exclude_none=True, mode="json")
    if hasattr(value, "value"):  # enums
        return value.value
    raise TypeError(f"cannot serialise {type(value).__name__}")


def render_json(spec: dict[str, Any]) -> str:
    return json.dumps(spec, indent=2, ensure_ascii=False) + "\n"


# -- Markdown reference -----------------------------------------------------------------------------------------
def _schema_name(schema: dict[str, Any]) -> str:
    if "$ref" in schema:
        return f"[`{schema['$ref'].rsplit('/', 1)[-1]}`](#{schema['$ref'].rsplit('/', 1)[-1].lower()})"
    if "anyOf" in schema:
        return " \\| ".join(_schema_name(s) for s in schema["anyOf"])
    kind = schema.get("type", "object")
    if kind == "array":
        return f"array of {_schema_name(schema.get('items', {}))}"
    return f"`{kind}`"


def _auth_text(operation: dict[str, Any]) -> str:
    security = operation.get("security")
    if not security:
        return "none"
    return "; ".join(
        f"{scheme} with {' or '.join(f'`{s}`' for s in scopes)}" for req in security for scheme, scopes in req.items()
    )


def render_markdown(spec: dict[str, Any]) -> str:
    out = [
        "# API reference",
        "",
        "<!-- Generated by `make openapi` (tools/openapi.py) from the functions' routes; do not edit by hand. -->",
        "",
        f"{spec['info']['description']}",
        "",
        "The machine-readable document is served at `GET /v1/openapi.json` (no token needed) and kept in "
        "[`functions/system/openapi.json`](../functions/system/openapi.json).",
        "",
        "| method | path | auth | summary |",
        "|---|---|---|---|",
    ]
    operations = [(p, m, op) for p, item in sorted(spec["paths"].items()) for m, op in item.items()]
    for path, method, op in operations:
        out.append(f"| `{method.upper()}` | `{path}` | {_auth_text(op)} | {op.get('summary', '')} |")
    for path, method, op in operations:
        out += ["", f"## `{method.upper()} {path}`", "", op.get("summary", ""), "", f"Auth: {_auth_text(op)}."]
        params = op.get("parameters", [])
        if params:
            out += ["", "| parameter | in | type | required |", "|---|---|---|---|"]
            for p in params:
                req = "yes" if p.get("required") else "no"
                out.append(f"| `{p['name']}` | {p['in']} | {_schema_name(p.get('schema', {}))} | {req} |")
        body = op.get("requestBody")
        if body:
            body_schema = body["content"]["application/json"]["schema"]
            out += ["", f"Request body (`application/json`): {_schema_name(body_schema)}"]
        out += ["", "| status | meaning | body |", "|---|---|---|"]
        for code, response in op["responses"].items():
            schema = (response.get("content") or {}).get("application/json", {}).get("schema")
            out.append(f"| {code} | {response.get('description', '')} | {_schema_name(schema) if schema else '-'} |")
    out += ["", "## Schemas"]
    for name, schema in spec["components"]["schemas"].items():
        out += ["", f"### {name}", ""]
        if schema.get("description"):
            out += [schema["description"], ""]
        props = schema.get("properties") or {}
        if props:
            required = set(schema.get("required", []))
            out += ["| field | type | required | description |", "|---|---|---|---|"]
            for field, prop in props.items():
                text = str(prop.get("description", "")).replace("|", "\\|").replace("\n", " ")
                out.append(f"| `{field}` | {_schema_name(prop)} | {'yes' if field in required else 'no'} | {text} |")
        else:
            out.append(f"{_schema_name(schema)}")
    return "\n".join(out) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tools.openapi", description=__doc__)
    parser.add_argument("--check", action="store_true", help="exit 1 if the committed files are out of date")
    args = parser.parse_args(argv)
    spec = generate()
    wanted = {SPEC_PATH: render_json(spec), DOC_PATH: render_markdown(spec)}
    if args.check:
        stale = [p for p, text in wanted.items() if not p.exists() or p.read_text(encoding="utf-8") != text]
        for path in stale:
            print(f"{path.relative_to(ROOT)} is out of date: run `make openapi`", file=sys.stderr)
        return 1 if stale else 0
    for path, text in wanted.items():
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
        print(f"wrote {path.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
