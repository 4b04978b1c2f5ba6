"""Order of the gallery: the quick start first, then the examples by file name."""

from pathlib import Path

from sphinx_gallery.sorting import FileNameSortKey

FIRST = ("plot_quick_start.py",)


class QuickStartFirst(FileNameSortKey):
    """Sort key for sphinx-gallery's ``within_subsection_order``."""

    def __call__(self, filename):
        name = Path(filename).name
        rank = FIRST.index(name) if name in FIRST else len(FIRST)
        return f"{rank:03d}-{name}"
