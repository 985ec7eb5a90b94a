"""certs rules."""
