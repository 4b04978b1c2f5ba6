"""Errors told in one line, for the command line and model-file messages."""

__all__ = ["one_line"]


def one_line(error):
    """``error``'s message on one line (its type's name when it has none).

    Examples
    --------
    >>> from polymodal.utils._messages import one_line
    >>> one_line(ValueError("bad value\\n  in row 3"))
    'bad value in row 3'
    >>> one_line(KeyError())
    'KeyError'
    """
    return " ".join(str(error).split()) or type(error).__name__
