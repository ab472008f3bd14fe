"""User-facing errors: one clear sentence, exit code 2 at the command line."""


class SeedscopeError(Exception):
    """Bad input or state the user can fix; its message is one sentence that says what to do."""
