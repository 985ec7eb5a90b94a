"""SAML configuration and assertion toolkit: pure, no network, no TUI."""
