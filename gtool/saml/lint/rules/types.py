"""types rules."""
