"""roles rules."""
