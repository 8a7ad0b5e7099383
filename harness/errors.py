"""Errors a user can cause; the CLI prints them as one line and exits with code 2."""

from __future__ import annotations


class UserError(Exception):
    """Bad input from the user: a flag, a name, a path or a file. Printed as one line."""

    exit_code = 2


class DataError(UserError):
    """A data file is missing, unreadable, corrupt or holds values the harness refuses."""


class ConfigError(UserError):
    """A config preset or override is malformed or names something unknown."""
