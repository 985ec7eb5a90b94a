"""required rules."""
