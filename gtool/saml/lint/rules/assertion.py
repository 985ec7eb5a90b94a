"""Assertion rules (ROLE-005, TEAM-002/003, ASRT-*): an assertion checked against the configuration."""
