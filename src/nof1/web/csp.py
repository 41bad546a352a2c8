"""The Content-Security-Policy headers of the web page and of the report it serves.

This module owns the two policies, so that the app (every page) and the pages (the report) take
them from one place without importing each other.
"""

__all__ = ["CSP", "REPORT_CSP"]

_POLICY = {
    "default-src": "'none'",
    "script-src": "'self'",
    "connect-src": "'self'",
    "style-src": "'self'",
    "img-src": "'self' data:",
    "form-action": "'self'",
    "base-uri": "'none'",
    "frame-ancestors": "'none'",
}
CSP = "; ".join(f"{k} {v}" for k, v in _POLICY.items())
"""Content-Security-Policy of the app's pages: scripts, styles and images from the app only."""

REPORT_CSP = CSP.replace("style-src 'self'", "style-src 'self' 'unsafe-inline'")
"""The report is one self-contained file: its CSS and its SVG plots' styles are inline."""
