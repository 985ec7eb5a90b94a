"""Lint rules, one module per category of saml-reference.md §10."""
