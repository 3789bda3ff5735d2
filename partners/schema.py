"""OpenAPI description of the API key authentication (drf-spectacular extension)."""

from drf_spectacular.extensions import OpenApiAuthenticationExtension


class ApiKeyAuthenticationScheme(OpenApiAuthenticationExtension):
    target_class = "partners.auth.ApiKeyAuthentication"
    name = "ApiKey"

    def get_security_definition(self, auto_schema):  # type: ignore[no-untyped-def]
        return {
            "type": "http",
            "scheme": "bearer",
            "bearerFormat": "oms_<prefix>_<secret>",
            "description": "An API key created in the admin console or with `manage.py create_api_key`; "
            "it acts with its organisation's scope.",
        }
