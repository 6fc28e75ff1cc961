"""Errors a user can cause and fix: printed as one clear message, never as a traceback."""


class UserError(Exception):
    """A problem in the user's config, data or environment, with the fix in the message.

    The CLI prints ``str(error)`` and exits with status 2; set ``HYDRA_FULL_ERROR=1`` to get the
    traceback as well.
    """


class DataError(UserError):
    """Unreadable, missing or inconsistent input data; the message names the file."""
