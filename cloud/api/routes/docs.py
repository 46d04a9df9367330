"""The API's documentation pages, offline: Swagger UI at ``/docs``, ReDoc at ``/redoc``.

Both are served from the package (``static/vendor/swagger-ui``, ``static/vendor/redoc``,
vendored from npm by ``scripts/vendor-frontend``): nothing comes from a CDN, so the pages
work on a site without internet. No inline script (the start-up code is
``static/js/docs-swagger.js``, ``static/js/docs-redoc.js``), so a Content-Security-Policy
of ``script-src 'self'`` holds; Swagger UI's online validator and ReDoc's telemetry are
switched off (they would call out). The one thing left that tries the internet is ReDoc's
"API docs by Redocly" logo, an image that hides itself when it cannot load.
``/openapi.json`` (where tools look first) redirects to the real document,
``/api/v1/openapi.json``.
"""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.responses import HTMLResponse, RedirectResponse

router = APIRouter(include_in_schema=False)

OPENAPI_URL = "/api/v1/openapi.json"

SWAGGER = f"""<!doctype html>
<html lang="en">
<head>
  <meta charset="utf-8">
  <meta name="viewport" content="width=device-width, initial-scale=1">
  <title>Salinmas API — Swagger UI</title>
  <link rel="icon" href="data:,">
  <link rel="stylesheet" href="/vendor/swagger-ui/swagger-ui.css">
</head>
<body>
  <div id="swagger-ui" data-openapi-url="{OPENAPI_URL}"></div>
  <script src="/vendor/swagger-ui/swagger-ui-bundle.js"></script>
  <script src="/js/docs-swagger.js"></script>
</body>
</html>
"""

REDOC = f"""<!doctype html>
<html lang="en">
<head>
  <meta charset="utf-8">
  <meta name="viewport" content="width=device-width, initial-scale=1">
  <title>Salinmas API — ReDoc</title>
  <link rel="icon" href="data:,">
</head>
<body>
  <div id="redoc-root" data-openapi-url="{OPENAPI_URL}"></div>
  <script type="module" src="/js/docs-redoc.js"></script>
</body>
</html>
"""


@router.get("/docs", response_class=HTMLResponse)
def swagger_ui() -> HTMLResponse:
    return HTMLResponse(SWAGGER)


@router.get("/redoc", response_class=HTMLResponse)
def redoc() -> HTMLResponse:
    return HTMLResponse(REDOC)


@router.get("/openapi.json")
def openapi_redirect() -> RedirectResponse:
    """Where tools look for the document by default: the versioned one is the real one."""
    return RedirectResponse(OPENAPI_URL, status_code=308)
