"""A Grafana-compatible HTTP server for demos and end-to-end tests (issue 4).

Starlette + uvicorn + SQLite. Nothing here is imported by ``gtool saml …``: import
``gtool.sandbox.app`` / ``gtool.sandbox.server`` explicitly (they load the web stack).
"""
