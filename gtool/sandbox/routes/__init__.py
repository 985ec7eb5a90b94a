"""Route modules: each exposes ``ROUTES`` and is listed in ``gtool.sandbox.app.ROUTE_MODULES``."""
