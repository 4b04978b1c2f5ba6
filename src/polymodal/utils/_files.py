"""Writing files atomically: a reader sees the old file or the new one."""

import os
import tempfile
from pathlib import Path

__all__ = ["write_atomic"]


def write_atomic(path, write, *, mode=0o644):
    """Run ``write(binary_file)`` on a temporary file, then rename it onto path.

    The temporary file sits in the same directory, so ``os.replace`` is an
    atomic rename: a reader, or a run interrupted half-way, sees the old file
    or the new one, never a part-written one; the temporary file is removed
    when ``write`` fails.

    Parameters
    ----------
    path : str or path-like
        The file to write; its folder must exist.
    write : callable
        Called with the open binary file.
    mode : int, default=0o644
        The permission bits of the file written. The default makes it
        readable by everyone, for a report to share; ``0o600`` keeps it to
        its owner.

    Examples
    --------
    >>> import pathlib, tempfile
    >>> from polymodal.utils._files import write_atomic
    >>> path = pathlib.Path(tempfile.mkdtemp()) / "notes.txt"
    >>> write_atomic(path, lambda file: file.write(b"done"))
    >>> path.read_bytes()
    b'done'
    """
    path = Path(path)
    descriptor, temporary = tempfile.mkstemp(
        dir=path.parent, prefix=f".{path.name}.", suffix=".tmp"
    )
    try:
        with os.fdopen(descriptor, "wb") as file:
            write(file)
            file.flush()
            os.fsync(file.fileno())
        # mkstemp creates the file owner-only (0o600).
        os.chmod(temporary, mode)
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
