"""One error type for everything a user can cause or fix: the CLI prints it as one line."""


class QuantlabError(Exception):
    """A failure with a one-line, actionable message (what is wrong, which file, what to do)."""

    exit_code = 1

    def __init__(self, message: str, exit_code: int | None = None):
        super().__init__(message)
        if exit_code is not None:
            self.exit_code = exit_code


class DataError(QuantlabError):
    exit_code = 3


class ArtifactError(QuantlabError):
    exit_code = 4


class EvaluatorError(QuantlabError):
    exit_code = 5


class RuntimeUnavailable(EvaluatorError):
    """A runtime that cannot run on this machine (the message says why and how to install it):
    reported as unavailable, never as a pass or a failure of the model."""
