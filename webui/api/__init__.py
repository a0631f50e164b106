"""REST API ``/api/v1`` for integrations (EBYS, e-Belediye, CİMER exports).

Bearer tokens (``kalem token create``) act as their user, within their scopes. Each view loads its
input with a marshmallow schema, opens one transaction, calls one engine function and dumps the
result with a schema; errors are ``{"error": {"code", "message", "fields"}}`` with a fitting status.
``/api/v1/openapi.json`` is generated from the same schemas, ``/api/v1/docs`` shows it.
"""

from webui.api.routes import api

__all__ = ["api"]
