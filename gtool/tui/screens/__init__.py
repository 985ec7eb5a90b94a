"""One screen per module, each with its styles in a sibling ``.tcss``."""
