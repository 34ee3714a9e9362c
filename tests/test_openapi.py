"""/openapi.json and /docs: the document validates (openapi-spec-validator), covers
every route of the app and of the lean stream server, every error code, and its
examples match its schemas; a real `resimply serve` serves it, and /docs renders
it in Chromium without any network."""

from __future__ import annotations

import dataclasses
import json
import re
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Annotated, Any
from urllib.parse import urlsplit

import httpx
import jsonschema
import msgspec
import pytest
from openapi_spec_validator import validate
from starlette.responses import Response
from starlette.routing import Route, WebSocketRoute

from resimply import errors
from resimply.messages import Completion, ErrorMessage, Progress
from resimply.models import Recipe
from resimply.providers.registry import build_scraper
from resimply.providers.routing import capabilities_of
from resimply.settings import Settings
from resimply.web import openapi, server
from resimply.web.app import ROUTES, create_app
from resimply.web.bodies import Capabilities
from resimply.web.openapi import document
from resimply.web.operations import OPERATIONS, Param
from tests.servers import Service
from tests.test_page import ARGS, _chromium

try:
    from playwright.sync_api import Request, sync_playwright
    from playwright.sync_api import Route as PwRoute
except ImportError:  # pragma: no cover - the dev extras bring it
    sync_playwright = None  # type: ignore[assignment]

DOC = document(ROUTES)
METHODS = {"get", "post", "put", "patch", "delete"}


def _operations(doc: dict[str, Any]) -> set[tuple[str, str]]:
    return {(m.upper(), p) for p, item in doc["paths"].items() for m in item if m in METHODS}


def test_the_document_is_valid_openapi_3_1() -> None:
    validate(DOC)
    assert DOC["openapi"] == "3.1.0"


def test_every_route_of_the_app_is_in_the_document() -> None:
    app = create_app(Settings())
    routes: set[tuple[str, str]] = set()
    for route in app.routes:
        if isinstance(route, WebSocketRoute):
            routes.add(("GET", route.path))
        elif isinstance(route, Route):
            routes |= {(m, route.path) for m in (route.methods or ()) if m != "HEAD"}
    assert len(routes) >= 17
    assert routes == _operations(DOC)


def test_every_path_of_the_lean_stream_server_is_in_the_document() -> None:
    """`resimply serve` hands GETs of these prefixes to its own protocol
    (stream_server.py): they must be documented as the ASGI routes are."""
    for prefix in server.STREAM_PREFIXES:
        method, path = prefix.decode().split(" ")
        matches = [
            p for p in DOC["paths"] if p.startswith(path) and method.lower() in DOC["paths"][p]
        ]
        assert matches == [path + "{task_id}"], prefix


def test_a_route_without_an_operation_fails_the_document() -> None:
    async def metrics(_: Any) -> Response:
        return Response()

    with pytest.raises(LookupError, match=r"GET /unlisted .*operations\.py"):
        document([*ROUTES, Route("/unlisted", metrics, methods=["GET"])])
    with pytest.raises(LookupError, match="without a route"):
        document([r for r in ROUTES if getattr(r, "path", "") != "/health"])


def test_every_error_code_is_documented() -> None:
    """A request error's code is a documented answer of some operation; a task
    error's code is in TaskErrorCode (both lists come from errors.py)."""
    answered = {
        code
        for item in DOC["paths"].values()
        for op in item.values()
        for response in op["responses"].values()
        for media in response.get("content", {}).values()
        for code in media["schema"].get("properties", {}).get("error", {}).get("enum", [])
    }
    task_codes = set(DOC["components"]["schemas"]["TaskErrorCode"]["enum"])
    for cls in _subclasses(errors.ResimplyError):
        if issubclass(cls, errors.TaskError):
            assert cls.code in task_codes, cls
        if issubclass(cls, errors.RequestError) and cls is not errors.RequestError:
            assert cls.code in answered, cls
    assert {"video_not_found", "not_a_recipe", "cancelled", "timeout"} <= task_codes
    assert {"upgrade_required", "invalid_request", "unauthorized"} <= answered


def _subclasses(cls: type) -> list[type]:
    return [cls, *(s for sub in cls.__subclasses__() for s in _subclasses(sub))]


def _validator(name: str) -> jsonschema.Draft202012Validator:
    root = {"$ref": f"#/components/schemas/{name}", "components": DOC["components"]}
    return jsonschema.Draft202012Validator(root)


@pytest.mark.parametrize(
    "name", [n for n, s in DOC["components"]["schemas"].items() if "examples" in s]
)
def test_the_schema_examples_match_their_schemas(name: str) -> None:
    for example in DOC["components"]["schemas"][name]["examples"]:
        _validator(name).validate(example)
        if name in ("Progress", "Completion", "ErrorMessage"):
            _validator("Message").validate(example)


def test_what_the_code_encodes_matches_the_schemas() -> None:
    """The real encoders' output, against the generated schemas: messages as a
    stream carries them (event_id spliced in), a bare recipe, each error body."""
    recipe = Recipe(title="Toast")
    messages = [
        Progress(task_id="t", step=1, stage="init", status="Starting"),
        Completion(task_id="t", recipe_id="r", recipe_name="Toast", recipe=recipe),
        ErrorMessage(task_id="t", error="cancelled", message="Cancelled.", status="CANCELLED"),
    ]
    for message in messages:
        data = json.loads(msgspec.json.encode(message))
        _validator("Message").validate(data | {"event_id": "1-0"})
        with pytest.raises(jsonschema.ValidationError):  # event_id is always there
            _validator("Message").validate(data)
    _validator("Recipe").validate(json.loads(msgspec.json.encode(recipe)))
    for cls in _subclasses(errors.ResimplyError):
        _validator("ErrorBody").validate(cls().to_dict())


def test_every_operation_says_what_it_does_and_is_secured_as_the_code() -> None:
    for (method, path), op in OPERATIONS.items():
        item = DOC["paths"][path][method.lower()]
        assert item["summary"] and item["responses"], (method, path)
        public = item.get("security") == []
        assert public == (op.auth == "public"), (method, path)
        if not public and not op.websocket:
            assert "401" in item["responses"], (method, path)
    streams = DOC["paths"]["/events/{task_id}"]["get"]
    assert {"queryToken": []} in streams["security"]
    assert {p["name"] for p in streams["parameters"]} >= {"Last-Event-ID", "last_event_id"}
    ws = DOC["paths"]["/ws/{task_id}"]["get"]
    assert {"1000", "1001", "1008", "1013", "4001", "4003"} <= set(ws["x-close-codes"])


# --- served by a real `resimply serve`, rendered in Chromium ------------------------


@pytest.fixture(scope="module")
def service(redis_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Service]:
    svc = Service(redis_url, tmp_path_factory.mktemp("openapi"))
    try:
        svc.start(workers=0)
        yield svc
    except BaseException:
        print(svc.logs())
        raise
    finally:
        svc.stop()


def test_the_service_serves_the_document(service: Service) -> None:
    response = httpx.get(f"{service.base_url}/openapi.json", timeout=10)
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("application/json")
    assert response.json() == json.loads(json.dumps(DOC))


def test_an_unknown_path_points_to_the_docs(service: Service) -> None:
    for path in ("/nope", "/events/a/b"):
        response = httpx.get(f"{service.base_url}{path}", timeout=10)
        assert response.status_code == 404
        assert "/docs" in response.json()["message"], path


def test_the_docs_assets_are_only_the_vendored_files(service: Service) -> None:
    bundle = httpx.get(f"{service.base_url}/docs/swagger-ui-bundle.js", timeout=10)
    assert bundle.status_code == 200
    assert bundle.content == (openapi.SWAGGER_UI / "swagger-ui-bundle.js").read_bytes()
    for name in ("VERSION", "..%2Fdocs.html", "index.html"):
        response = httpx.get(f"{service.base_url}/docs/{name}", timeout=10)
        assert response.status_code == 404, name
        assert response.json()["error"] == "not_found"


def test_the_renderer_is_vendored_with_its_licence_and_version() -> None:
    folder = openapi.SWAGGER_UI
    assert re.fullmatch(r"swagger-ui-dist@\d+\.\d+\.\d+\n", (folder / "VERSION").read_text())
    assert "Apache License" in (folder / "LICENSE").read_text()
    assert (Path(__file__).parents[1] / "scripts" / "vendor-swagger-ui.sh").exists()


def test_docs_render_in_chromium_without_any_network(service: Service, tmp_path: Path) -> None:
    """Every request the page makes must go to the service itself: anything else
    is blocked and recorded, and must not have been attempted at all."""
    executable = _chromium()
    elsewhere: list[str] = []
    local: list[str] = []

    def only_local(route: PwRoute, request: Request) -> None:
        host = urlsplit(request.url).hostname
        if host in ("127.0.0.1", "localhost"):
            local.append(request.url)
            route.continue_()
        else:
            elsewhere.append(request.url)
            route.abort()

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=executable, headless=True, args=ARGS)
        try:
            context = browser.new_context(viewport={"width": 1280, "height": 900})
            context.route("**/*", only_local)
            page = context.new_page()
            problems: list[str] = []
            page.on("pageerror", lambda exc: problems.append(str(exc)))
            page.goto(f"{service.base_url}/docs", wait_until="load")
            page.locator(".opblock").first.wait_for(state="visible", timeout=30_000)
            page.wait_for_load_state("networkidle")
            time.sleep(0.5)  # a late request (fonts, a validator badge) would show here
            shown = page.locator(".opblock").count()
            text = page.locator("#api").inner_text()
            page.screenshot(path=str(tmp_path / "docs.png"), full_page=False)
        finally:
            browser.close()
    assert not elsewhere, f"requests off the machine: {elsewhere}"
    assert not problems, problems
    assert any(u.endswith("/openapi.json") for u in local), local
    assert shown == len(_operations(DOC)), (shown, len(_operations(DOC)))
    for words in ("/scrape/async", "/events/{task_id}", "/ws/{task_id}", "/recipes/{recipe_id}"):
        assert words in text.replace("\u200b", ""), words


@pytest.mark.parametrize(
    "env",
    [
        {},
        {"dev": True},
        {"apify_api_token": "apify_api_x", "scrapers": (("tiktok", "apify"), ("youtube", "ytdlp"))},
    ],
)
async def test_capabilities_of_each_configuration_fit_their_struct(env: dict[str, Any]) -> None:
    """GET /capabilities answers `routing.Capabilities.to_dict()` through the
    documented struct, which refuses unknown fields: a field added there without
    its place in bodies.Capabilities would be a 500, so it fails here first."""
    scraper = build_scraper(Settings(**env))
    try:
        answer = msgspec.convert(capabilities_of(scraper).to_dict(), Capabilities)
        _validator("Capabilities").validate(msgspec.to_builtins(answer))
        assert msgspec.to_builtins(answer) == capabilities_of(scraper).to_dict()
    finally:
        await scraper.aclose()


def test_a_query_parameter_is_one_declaration(monkeypatch: pytest.MonkeyPatch) -> None:
    """What docs/api.md tells a maintainer: a `Param` in the operation's `params`
    is in the document, its constraints from `msgspec.Meta`."""
    key = ("GET", "/recipes/{recipe_id}")
    servings = Param(
        "servings",
        "query",
        "Scale the recipe to this many servings.",
        type=Annotated[int, msgspec.Meta(ge=1, le=100)],
        example=4,
    )
    grown = dataclasses.replace(OPERATIONS[key], params=(servings,))
    monkeypatch.setitem(OPERATIONS, key, grown)
    doc = document(ROUTES)
    validate(doc)
    (param,) = [
        p for p in doc["paths"]["/recipes/{recipe_id}"]["get"]["parameters"] if p["in"] == "query"
    ]
    assert param["name"] == "servings" and param["example"] == 4
    assert param["schema"] == {"type": "integer", "minimum": 1, "maximum": 100}
