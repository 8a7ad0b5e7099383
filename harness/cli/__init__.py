"""The command line (``python -m harness``) and the commands that exist only for it."""
