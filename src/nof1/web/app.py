"""The Flask app of ``nof1 serve`` and the checks every request passes.

This module owns the security model of the web page (see docs/web.md):

- the Host header must name the served address (a page on another site that rebinds its DNS name
  to 127.0.0.1 is refused);
- with a token, every request needs ``Authorization: Bearer TOKEN`` or a session opened by the
  login form (401 otherwise); only the bundled stylesheet and script are public;
- every form POST carries the session's CSRF token; an API call from a page of another origin is
  refused;
- every response forbids framing, sniffing, referrers and caching, and its Content-Security-Policy
  lets the page load only from the app itself;
- the session key is random for each process, so nothing survives a restart.

These checks hold for the clinic workspace (``/workspace``, ``/api/trials``) as for every other
page: its forms carry the CSRF token, its API calls pass the Host, Origin and token checks.
"""

from __future__ import annotations

import hmac
import io
import secrets
from collections.abc import Iterable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from flask import Flask, Request, Response, jsonify, render_template, request, session
from werkzeug.exceptions import HTTPException

from .. import __version__
from ..errors import Nof1Error, WorkspaceError
from .csp import CSP
from .series_zip import ZipRefused

if TYPE_CHECKING:
    from werkzeug.wrappers import Response as BaseResponse

__all__ = ["DEFAULT_MAX_UPLOAD_BYTES", "LOOPBACK_HOSTS", "create_app", "csrf_token"]

DEFAULT_MAX_UPLOAD_BYTES = 20 * 1024 * 1024
"""Largest request accepted (all uploads together): 20 MB."""

LOOPBACK_HOSTS = ("127.0.0.1", "localhost", "[::1]")
"""Host names served when none are given: this machine only, on any port."""

_PUBLIC_ENDPOINTS = ("static", "pages.login")


class _InMemoryRequest(Request):
    """Uploaded files are held in memory (the upload limit bounds them), never spooled to disk."""

    def _get_file_stream(self, *args: Any, **kwargs: Any) -> io.BytesIO:
        return io.BytesIO()


def _share_report_templates(app: Flask) -> None:
    """Let the page's templates import the report's (``_macros.html``): its own folder first, then
    the report's, with the report's number filters and its line joining for its own files."""
    from jinja2 import ChoiceLoader, FileSystemLoader

    from ..report.html import FILTERS, TEMPLATES, join_lines_extension

    app.jinja_loader = ChoiceLoader([app.jinja_loader, FileSystemLoader(TEMPLATES)])
    app.jinja_env.add_extension(join_lines_extension())
    app.jinja_env.filters.update(FILTERS)


def create_app(
    token: str | None = None,
    max_upload_bytes: int = DEFAULT_MAX_UPLOAD_BYTES,
    served_hosts: Iterable[str] = LOOPBACK_HOSTS,
    workspace: str | Path | None = None,
) -> Flask:
    """Build the web app.

    Parameters
    ----------
    token
        When given, every request must carry ``Authorization: Bearer TOKEN`` or come from a
        session opened with the login form.
    max_upload_bytes
        An uploaded file larger than this is refused with 413. A request may be a third larger
        (see :func:`request_budget`), so that the result page's buttons, which send the files
        back as base64 text, still work for a file just under the limit.
    served_hosts
        The Host header values the app answers: ``host:port`` matches exactly, a bare host name
        matches any port. Anything else is refused (DNS rebinding).
    workspace
        A clinic workspace folder (:class:`nof1.safety.workspace.Workspace`, created with mode
        700 when missing) whose trials the pages under ``/workspace`` and the API under
        ``/api/trials`` keep between visits; None: the server keeps nothing.

    Returns
    -------
    flask.Flask
    """
    from ..safety.workspace import Workspace

    app = Flask(__name__)
    app.request_class = _InMemoryRequest
    app.config.update(
        SECRET_KEY=secrets.token_bytes(32),
        MAX_CONTENT_LENGTH=request_budget(max_upload_bytes),
        MAX_FORM_MEMORY_SIZE=request_budget(max_upload_bytes),
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Strict",
        NOF1_TOKEN=token,
        NOF1_HOSTS=tuple(h.lower() for h in served_hosts),
        NOF1_MAX_UPLOAD=max_upload_bytes,
        NOF1_VERSION=__version__,
        NOF1_WORKSPACE=None if workspace is None else Workspace.open(workspace),
    )
    app.jinja_env.globals["csrf_token"] = csrf_token
    _share_report_templates(app)
    app.before_request(_check_host)
    app.before_request(_check_token)
    app.before_request(_check_csrf)
    app.after_request(_headers)
    app.register_error_handler(Nof1Error, _bad_input)
    app.register_error_handler(WorkspaceError, _workspace_refused)
    app.register_error_handler(ZipRefused, _zip_refused)
    app.register_error_handler(HTTPException, _http_error)

    from .api import api
    from .pages import pages
    from .workspace_api import trials_api
    from .workspace_pages import workspace_pages

    app.register_blueprint(api)
    app.register_blueprint(pages)
    app.register_blueprint(trials_api)
    app.register_blueprint(workspace_pages)
    return app


def csrf_token() -> str:
    """The session's CSRF token (created on first use); forms carry it as ``csrf_token``."""
    if "csrf" not in session:
        session["csrf"] = secrets.token_urlsafe(32)
    return session["csrf"]


def is_api() -> bool:
    """True for a request to the JSON API (errors answered as JSON)."""
    return request.path.startswith("/api/")


def refuse(status: int, message: str, **headers: str) -> Response:
    """An error response: ``{"error": message}`` for the API, an HTML page otherwise."""
    if is_api():
        response = jsonify(error=message)
    else:
        response = Response(render_template("error.html", status=status, message=message))
    response.status_code = status
    response.headers.update(headers)
    return response


def _split_host(host: str) -> tuple[str, str | None]:
    if host.startswith("["):
        end = host.find("]")
        name, rest = host[: end + 1], host[end + 1 :]
    else:
        name, _, port = host.partition(":")
        rest = f":{port}" if port else ""
    return name, rest[1:] if rest.startswith(":") else None


def _host_allowed(host: str, served: tuple[str, ...]) -> bool:
    name, port = _split_host(host.lower())
    for entry in served:
        served_name, served_port = _split_host(entry)
        if name == served_name and served_port in (None, port):
            return True
    return False


def _check_host() -> Response | None:
    host = request.headers.get("Host", "")
    if not _host_allowed(host, _served()):
        return refuse(400, f"refused: this server does not serve the host {host!r}")
    origin = request.headers.get("Origin")
    # A page's own form posts carry "Origin: null" under Referrer-Policy no-referrer (their CSRF
    # token protects them); a script of another page can send "null" too, so the API refuses it.
    if origin == "null" and is_api():
        return refuse(403, "refused: a request from a page of unknown origin")
    if origin and origin != "null" and not _host_allowed(origin.partition("://")[2], _served()):
        return refuse(403, f"refused: a request from another site ({origin})")
    if request.headers.get("Sec-Fetch-Site") == "cross-site":
        return refuse(403, "refused: a request from another site")
    return None


def _served() -> tuple[str, ...]:
    from flask import current_app

    return current_app.config["NOF1_HOSTS"]


def _check_token() -> Response | None:
    from flask import current_app

    token = current_app.config["NOF1_TOKEN"]
    if token is None or request.endpoint in _PUBLIC_ENDPOINTS:
        return None
    header = request.headers.get("Authorization", "")
    if header.startswith("Bearer ") and hmac.compare_digest(
        header[7:].encode("utf-8"), token.encode("utf-8")
    ):
        return None
    if session.get("signed_in") is True:
        return None
    if is_api():
        message = "a token is required: send Authorization: Bearer TOKEN"
        return refuse(401, message, **{"WWW-Authenticate": "Bearer"})
    response = Response(render_template("login.html", next=request.path), status=401)
    response.headers["WWW-Authenticate"] = "Bearer"
    return response


def _check_csrf() -> Response | None:
    if request.method != "POST" or is_api():
        return None
    sent = request.form.get("csrf_token", "")
    expected = session.get("csrf", "")
    if not expected or not hmac.compare_digest(sent.encode("utf-8"), expected.encode("utf-8")):
        return refuse(
            400, "the form has expired or did not come from this page; reload the page and retry"
        )
    return None


def _headers(response: BaseResponse) -> BaseResponse:
    response.headers.setdefault("Content-Security-Policy", CSP)
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers["X-Frame-Options"] = "DENY"
    response.headers["Referrer-Policy"] = "no-referrer"
    response.headers["Cross-Origin-Opener-Policy"] = "same-origin"
    response.headers["Cross-Origin-Resource-Policy"] = "same-origin"
    if request.endpoint != "static":
        response.headers["Cache-Control"] = "no-store"
    return response


def _bad_input(exc: Nof1Error) -> Response:
    return refuse(400, str(exc))


def _workspace_refused(exc: WorkspaceError) -> Response:
    from .workspace_pages import ERROR_STATUS

    return refuse(ERROR_STATUS.get(exc.kind, 400), str(exc))


def _zip_refused(exc: ZipRefused) -> Response:
    return refuse(exc.status, str(exc))


def request_budget(max_upload_bytes: int) -> int:
    """The largest request accepted: a file at the limit sent back as base64 (4/3 of its size),
    plus 4 MiB for the protocol (at most 1 MB, also base64) and the other form fields."""
    return max_upload_bytes * 4 // 3 + 4 * 1024 * 1024


def _http_error(exc: HTTPException) -> Any:
    if exc.code == 413:
        from flask import current_app

        limit = current_app.config["NOF1_MAX_UPLOAD"] / (1024 * 1024)
        return refuse(413, f"the upload is larger than the limit of {limit:g} MB")
    return refuse(exc.code or 500, exc.description or exc.name)
