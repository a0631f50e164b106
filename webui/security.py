"""Security headers on every response: a strict Content-Security-Policy, no framing, no referrer
outside the site, no MIME sniffing, no powerful browser features.

The policy allows exactly what the pages use, found by reading the templates (never the response
body, which may carry user input):

* scripts and style sheets only from this site (``webui/static``); no inline ``<script>`` or
  ``<style>`` element runs, except the inline style of the API docs page, allowed by its hash;
* inline event-handler attributes (``onsubmit="return false"``) only by the SHA-256 of each
  static handler written in a template (``'unsafe-hashes'``); a handler built from template
  variables would be refused, so :func:`inline_attributes` reports it and the tests fail on it;
* ``style="…"`` attributes likewise only by the hash of each static one in a template;
* images from the site and ``data:`` URLs (bpmn-js icons in its CSS), fonts and ``fetch`` only
  from the site, forms posting only to the site, no plugins, no ``<base>``, never framed.
"""

from __future__ import annotations

import base64
import hashlib
import re
from collections.abc import Iterable
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from flask import Flask, Response, request

TEMPLATES = Path(__file__).parent / "templates"
HANDLER_ATTRIBUTE = re.compile(r"""\son[a-z]+\s*=\s*(?:"([^"]*)"|'([^']*)')""", re.IGNORECASE)
STYLE_ATTRIBUTE = re.compile(r"""\sstyle\s*=\s*(?:"([^"]*)"|'([^']*)')""", re.IGNORECASE)
STYLE_ELEMENT = re.compile(r"<style[^>]*>(.*?)</style>", re.IGNORECASE | re.DOTALL)
# Endpoints whose HTML is built by our own code from our own constants (no user input): their
# inline <style> elements are allowed by hash.
TRUSTED_INLINE_STYLE_ENDPOINTS = frozenset({"api.openapi_docs"})

PERMISSIONS_POLICY = ", ".join(
    f"{feature}=()"
    for feature in (
        "accelerometer",
        "camera",
        "display-capture",
        "geolocation",
        "gyroscope",
        "magnetometer",
        "microphone",
        "payment",
        "usb",
    )
)
STATIC_HEADERS = {
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "same-origin",
    "X-Content-Type-Options": "nosniff",
    "Permissions-Policy": PERMISSIONS_POLICY,
    "Cross-Origin-Opener-Policy": "same-origin",
}
HSTS = "max-age=31536000"


def source_hash(text: str) -> str:
    """A CSP hash source (``'sha256-…'``) of an inline script, style or handler."""
    digest = hashlib.sha256(text.encode("utf-8")).digest()
    return f"'sha256-{base64.b64encode(digest).decode('ascii')}'"


@dataclass(frozen=True)
class InlineAttributes:
    """The static inline event handlers and style attributes of the templates, and where a
    dynamic one (built from template variables, so not hashable) was found, as ``file:line``."""

    handlers: frozenset[str]
    styles: frozenset[str]
    dynamic: tuple[str, ...]


@lru_cache(maxsize=4)
def inline_attributes(folder: Path = TEMPLATES) -> InlineAttributes:
    found: dict[str, set[str]] = {"handlers": set(), "styles": set()}
    dynamic: list[str] = []
    for path in sorted(folder.rglob("*.html")):
        text = path.read_text(encoding="utf-8")
        for kind, pattern in (("handlers", HANDLER_ATTRIBUTE), ("styles", STYLE_ATTRIBUTE)):
            for match in pattern.finditer(text):
                value = match.group(1) if match.group(1) is not None else match.group(2)
                if "{{" in value or "{%" in value:
                    dynamic.append(f"{path.relative_to(folder)}:{text.count(chr(10), 0, match.start()) + 1}")
                else:
                    found[kind].add(value)
    return InlineAttributes(frozenset(found["handlers"]), frozenset(found["styles"]), tuple(dynamic))


def _sources(keyword: str, hashes: Iterable[str]) -> str:
    found = sorted(hashes)
    return f"{keyword} " + " ".join(found) if found else "'none'"


@lru_cache(maxsize=8)
def content_security_policy(style_hashes: tuple[str, ...] = ()) -> str:
    """The policy for every page; ``style_hashes`` allow inline ``<style>`` elements by hash."""
    inline = inline_attributes()
    style_elements = "'self' " + " ".join(style_hashes) if style_hashes else "'self'"
    directives = [
        "default-src 'none'",
        "script-src 'self'",
        "script-src-attr " + _sources("'unsafe-hashes'", (source_hash(h) for h in inline.handlers)),
        "style-src 'self'",
        f"style-src-elem {style_elements}",
        "style-src-attr " + _sources("'unsafe-hashes'", (source_hash(v) for v in inline.styles)),
        "img-src 'self' data:",
        "font-src 'self'",
        "connect-src 'self'",
        "manifest-src 'self'",
        "form-action 'self'",
        "frame-ancestors 'none'",
        "frame-src 'none'",
        "object-src 'none'",
        "base-uri 'none'",
    ]
    return "; ".join(directives)


def _style_hashes(response: Response) -> tuple[str, ...]:
    if request.endpoint not in TRUSTED_INLINE_STYLE_ENDPOINTS or response.direct_passthrough:
        return ()
    body = response.get_data(as_text=True)
    return tuple(sorted({source_hash(css) for css in STYLE_ELEMENT.findall(body)}))


def add_headers(response: Response) -> Response:
    """Set the security headers a view has not set itself."""
    for name, value in STATIC_HEADERS.items():
        response.headers.setdefault(name, value)
    if "Content-Security-Policy" not in response.headers:
        response.headers["Content-Security-Policy"] = content_security_policy(_style_hashes(response))
    if request.is_secure:
        response.headers.setdefault("Strict-Transport-Security", HSTS)
    return response


def register(app: Flask) -> None:
    """Add the security headers to every response of ``app`` (pages, API, static files, errors)."""
    app.after_request(add_headers)
