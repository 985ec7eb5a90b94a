"""orgs rules."""
