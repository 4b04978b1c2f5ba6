"""The installed versions of polymodal and the libraries a model depends on.

Model files (:mod:`polymodal.io`) and comparison reports
(:mod:`polymodal.model_selection`) record them, so a result can be traced to
the versions that produced it.
"""

import importlib.metadata

__all__ = ["RECORDED_PACKAGES", "differing_versions", "installed_versions"]

#: Recorded name -> the distributions that provide it.
RECORDED_PACKAGES = {
    "polymodal": ("polymodal",),
    "scikit-learn": ("scikit-learn",),
    "numpy": ("numpy",),
    "scipy": ("scipy",),
    "torch": ("torch",),
    "skorch": ("skorch",),
    # The CPU-only wheel installs the same xgboost package.
    "xgboost": ("xgboost", "xgboost-cpu"),
}


def installed_versions():
    """``{name: version}`` of :data:`RECORDED_PACKAGES`, None where not installed.

    Examples
    --------
    >>> from polymodal.utils._versions import installed_versions
    >>> sorted(installed_versions())
    ['numpy', 'polymodal', 'scikit-learn', 'scipy', 'skorch', 'torch', 'xgboost']
    """
    versions = {}
    for package, distributions in RECORDED_PACKAGES.items():
        versions[package] = None
        for distribution in distributions:
            try:
                versions[package] = importlib.metadata.version(distribution)
            except importlib.metadata.PackageNotFoundError:
                continue
            break
    return versions


def differing_versions(recorded, current):
    """``{name: (recorded, current)}`` where a recorded version is not current.

    Names recorded as None (not installed then) are left out.

    Examples
    --------
    >>> differing_versions({"numpy": "2.0", "torch": None}, {"numpy": "2.1"})
    {'numpy': ('2.0', '2.1')}
    """
    return {
        package: (saved, current.get(package))
        for package, saved in recorded.items()
        if saved is not None and saved != current.get(package)
    }
