"""teams rules."""
