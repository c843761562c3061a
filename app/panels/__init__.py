"""One module per panel. Panels observe the Session and never import each other."""
