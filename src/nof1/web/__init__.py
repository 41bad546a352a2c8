"""The local web page for clinicians who do not use a terminal (``nof1 serve``).

A Flask app on the same library calls as the command line: design a protocol in a form, check a
trial (the stop-rule status first, then the report), and an HTTP API whose JSON documents are those
of ``--json``. Nothing else in nof1 imports this package, so Flask is loaded only by ``nof1 serve``.

:mod:`~nof1.web.app` builds the app and its security checks, :mod:`~nof1.web.api` the API,
:mod:`~nof1.web.pages` the pages, :mod:`~nof1.web.workspace_pages` and
:mod:`~nof1.web.workspace_api` the clinic workspace's pages and API (``--workspace``),
:mod:`~nof1.web.protocol_form` turns the design form into a protocol, :mod:`~nof1.web.uploads`
reads uploaded files and options, :mod:`~nof1.web.server` starts the server.
"""

from __future__ import annotations

from .app import create_app

__all__ = ["create_app"]
