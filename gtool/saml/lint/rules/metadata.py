"""metadata rules."""
