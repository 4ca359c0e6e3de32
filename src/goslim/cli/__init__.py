"""The command line: thin commands that parse flags, call a stage, and render."""
