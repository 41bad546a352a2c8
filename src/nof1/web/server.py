"""Starting the web app: which addresses may be served, and the server itself.

Binding to this machine (127.0.0.1, ::1, localhost) needs nothing; any other address needs a
token, and a wildcard address (0.0.0.0, ::) is refused because the Host check needs the one
address the clients will type.
"""

from __future__ import annotations

import ipaddress
from pathlib import Path
from typing import TYPE_CHECKING

from ..errors import Nof1Error
from .app import DEFAULT_MAX_UPLOAD_BYTES, LOOPBACK_HOSTS, create_app

if TYPE_CHECKING:
    from werkzeug.serving import BaseWSGIServer

__all__ = ["ServeError", "is_loopback", "make_server", "url_of"]


class ServeError(Nof1Error):
    """A server that must not start as asked (another host without a token, ...)."""


def is_loopback(host: str) -> bool:
    """True for an address only this machine can reach."""
    if host.strip("[]").lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def _host_entry(host: str) -> str:
    """The host as a Host header writes it (IPv6 in brackets)."""
    bare = host.strip("[]")
    return f"[{bare}]" if ":" in bare else bare


def url_of(host: str, port: int) -> str:
    """The address to open in a browser."""
    return f"http://{_host_entry(host)}:{port}/"


def _not_ready(environ, start_response):  # replaced before the server answers anything
    start_response("503 Service Unavailable", [("Content-Type", "text/plain")])
    return [b"starting"]


def make_server(
    host: str = "127.0.0.1",
    port: int = 8765,
    token: str | None = None,
    max_upload_bytes: int = DEFAULT_MAX_UPLOAD_BYTES,
    workspace: str | Path | None = None,
) -> BaseWSGIServer:
    """A threaded server for the app, bound but not yet serving (call ``serve_forever``).

    ``workspace`` is a clinic workspace folder to keep trials in (created with mode 700 when
    missing; see :func:`nof1.web.app.create_app`), or None.

    Raises
    ------
    ServeError
        A host other than this machine without a token, a wildcard address, a token shorter
        than 16 characters (easy to guess), or an upload limit below 1 byte.
    WorkspaceError
        A workspace that is a file or a symbolic link, or cannot be created.
    """
    from werkzeug.serving import make_server as werkzeug_server

    bare = host.strip("[]")
    if bare in ("0.0.0.0", "::", ""):
        raise ServeError(
            f"--host {host!r} listens on every address; give the one address clients will use "
            "(e.g. 192.168.1.20), so that requests naming any other host can be refused"
        )
    if token is not None and len(token) < 16:
        raise ServeError("--token must be at least 16 characters (e.g. from: openssl rand -hex 16)")
    if not is_loopback(bare) and token is None:
        raise ServeError(
            f"--host {host} can be reached from other machines; start it with --token TOKEN "
            "(every request must then carry it) or keep the default 127.0.0.1"
        )
    if max_upload_bytes < 1:
        raise ServeError("--max-upload-mb must be greater than 0")
    if workspace is not None:
        from ..safety.workspace import Workspace

        Workspace.open(workspace)  # refused before the port is taken
    server = werkzeug_server(bare, port, _not_ready, threaded=True)
    bound = server.server_port
    served = {f"{_host_entry(bare)}:{bound}"}
    if is_loopback(bare):
        served |= {f"{name}:{bound}" for name in LOOPBACK_HOSTS}
    server.app = create_app(token, max_upload_bytes, served, workspace)
    return server
