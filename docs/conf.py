"""Sphinx configuration of the polymodal documentation.

Build with ``make docs``: ``sphinx-build -W --keep-going -b html docs
docs/_build/html``. Warnings are errors, and every gallery example runs
during the build. Nothing is fetched from the network while building.
"""

import os
import sys
from pathlib import Path

import polymodal

# Local extensions: the gallery's sort order.
sys.path.insert(0, str(Path(__file__).resolve().parent / "sphinxext"))

# -- Project -----------------------------------------------------------------

project = "polymodal"
author = "polymodal developers"
copyright = "polymodal developers"
version = polymodal.__version__
release = polymodal.__version__

# -- General -----------------------------------------------------------------

extensions = [
    "sphinx.ext.autodoc",
    "sphinx.ext.autosummary",
    "sphinx.ext.mathjax",
    "numpydoc",
    "sphinx_gallery.gen_gallery",
]

templates_path = ["_templates"]
exclude_patterns = ["_build", "Thumbs.db", ".DS_Store", "**.ipynb_checkpoints"]
source_suffix = {".rst": "restructuredtext"}
root_doc = "index"
language = "en"

# Single backquotes mark code, as in scikit-learn's documentation:
# ``(n_samples, `n_features_in_`)`` in a docstring's type line.
default_role = "literal"

# -- autodoc / autosummary ---------------------------------------------------

autosummary_generate = True
autosummary_imported_members = False
autodoc_default_options = {"members": True}
autodoc_typehints = "none"
autoclass_content = "class"
# The classes' members are listed by the class template, not by numpydoc.
numpydoc_show_class_members = False
numpydoc_show_inherited_class_members = False
numpydoc_class_members_toctree = False
numpydoc_attributes_as_param_list = True
numpydoc_xref_param_type = False

# -- HTML --------------------------------------------------------------------

html_theme = "pydata_sphinx_theme"
html_title = f"polymodal {release}"
html_static_path = ["_static"]
html_theme_options = {
    "navigation_with_keys": False,
    "show_toc_level": 2,
    "header_links_before_dropdown": 6,
    "footer_start": ["copyright"],
    "footer_end": ["sphinx-version"],
}
html_sidebars = {"index": [], "getting_started": [], "cli": []}
html_show_sourcelink = False

# -- sphinx-gallery ----------------------------------------------------------

# Examples run with a non-interactive matplotlib backend.
os.environ.setdefault("MPLBACKEND", "agg")

sphinx_gallery_conf = {
    "examples_dirs": "../examples",
    "gallery_dirs": "auto_examples",
    "filename_pattern": r"/plot_",
    "abort_on_example_error": True,
    "image_scrapers": ("matplotlib",),
    "download_all_examples": False,
    "remove_config_comments": True,
    "within_subsection_order": "gallery_order.QuickStartFirst",
    "matplotlib_animations": False,
}


# -- Members shown on the API pages --------------------------------------------


def _skip_foreign_member(app, what, name, obj, skip, options):
    """Show the members polymodal defines, and the metadata-request setters.

    Classes document their inherited members so that methods of polymodal's
    private base classes appear; the generic methods inherited from
    scikit-learn (``get_params``, ``fit_transform``, ...) and from Python's
    exceptions are left to their own documentation. The ``set_*_request``
    methods stay: they are how ``groups`` reaches a step inside a pipeline.
    """
    if what not in ("class", "exception") or skip:
        return None
    if name.startswith("set_") and name.endswith("_request"):
        return None
    target = getattr(obj, "fget", obj)
    module = getattr(target, "__module__", None) or ""
    if module == "polymodal" or module.startswith("polymodal."):
        return None
    return True


def setup(app):
    app.connect("autodoc-skip-member", _skip_foreign_member)
