"""Import optional dependencies when first needed, naming the extra that installs them."""

import importlib

__all__ = ["import_optional"]


def import_optional(module, *, extra, needed_for, package=None):
    """Import ``module``, or raise an ImportError that says how to install it.

    Parameters
    ----------
    module : str
        Dotted module name, e.g. ``"skimage.feature"``.
    extra : str
        The polymodal extra that installs it, e.g. ``"image"``.
    needed_for : str
        What needs it, completing "<needed_for> needs <package>", e.g.
        ``"ImageFeatures"`` or ``"Reading DICOM files"``.
    package : str, optional
        The distribution name when it differs from the top-level module
        (``"scikit-image"`` for ``skimage``).

    Returns
    -------
    module

    Examples
    --------
    >>> from polymodal.utils._optional import import_optional
    >>> import_optional("json", extra="core", needed_for="Reports").__name__
    'json'
    >>> import_optional("not_a_module", extra="image", needed_for="ImageFeatures")
    Traceback (most recent call last):
    ...
    ImportError: ImageFeatures needs not_a_module; install it with: pip install "polymodal[image]"
    """
    try:
        return importlib.import_module(module)
    except ImportError as exc:
        name = package or module.split(".")[0]
        raise ImportError(
            f'{needed_for} needs {name}; install it with: pip install "polymodal[{extra}]"'
        ) from exc


def import_plotting(module, needed_for):
    """A matplotlib module, imported only when a plot is drawn or saved.

    Parameters
    ----------
    module : str
        ``"matplotlib"``, ``"matplotlib.pyplot"``, ...
    needed_for : str
        The method that draws, for the message ("ModalityImportance.plot").

    Returns
    -------
    module
    """
    return import_optional(
        module, extra="plot", needed_for=needed_for, package="matplotlib"
    )


def plot_axes(ax, needed_for):
    """``ax``, or the Axes of a new matplotlib figure when ``ax`` is None.

    matplotlib is imported either way, so that a plot method without it
    fails with the install hint whatever ``ax`` it was given.

    Parameters
    ----------
    ax : matplotlib Axes or None
        The caller's ``ax`` argument.
    needed_for : str
        The method that draws, for the message ("ModalityImportance.plot").

    Returns
    -------
    matplotlib Axes
    """
    plt = import_plotting("matplotlib.pyplot", needed_for)
    if ax is None:
        _, ax = plt.subplots()
    return ax
