"""Pure values and rules: no I/O, no frameworks, no HTTP details."""
