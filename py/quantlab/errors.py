"""One error type for everything a user can cause or fix: the CLI prints it as one line."""

import errno


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


CANNOT_WRITE_EXIT = 8
_CANNOT_WRITE = {errno.ENOSPC: "the disk is full", errno.EDQUOT: "the disk quota is used up",
                 errno.EROFS: "read-only file system", errno.EACCES: "permission denied"}  # fmt: skip


def cannot_write(e: BaseException) -> str | None:
    """The one line for an output that cannot be written (disk full, quota, read-only, no
    permission), naming the file; None for any other failure. TensorFlow's writers raise their
    own ResourceExhaustedError with the OS text inside."""
    fix = "free space or choose another --out/--models-dir"
    if isinstance(e, OSError) and e.errno in _CANNOT_WRITE:
        return f"{e.filename or 'an output file'}: cannot write: {_CANNOT_WRITE[e.errno]}; {fix}"
    text = str(e).strip()
    if "No space left on device" in text:  # tf.errors.ResourceExhaustedError and the like
        return f"cannot write: the disk is full ({text.splitlines()[0][:200]}); {fix}"
    return None
