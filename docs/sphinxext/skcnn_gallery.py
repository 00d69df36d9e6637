"""sphinx-gallery hooks: the examples' command line, figure capture and order.

Referred to by name in ``conf.py`` (sphinx-gallery imports them), so that the
configuration stays picklable.
"""

import os
from pathlib import Path

from sphinx_gallery.scrapers import matplotlib_scraper

DOCS = Path(__file__).resolve().parents[1]

ORDER = [
    "plot_knn.py",
    "plot_linear.py",
    "plot_mlp.py",
    "plot_lenet.py",
    "plot_convnet.py",
    "plot_modern_cnn.py",
    "search_and_compare.py",
]
"""The lecture's order: nearest neighbours, linear, MLP, LeNet-5, any CNN."""


def reset_argv(gallery_conf, script_vars):
    """Run each example in its fast mode, writing its files under ``_build``.

    The data come from ``$SKCNN_DATA`` when it is set, else from the examples'
    own default (skcnn's data home, downloading what is missing).
    """
    name = Path(script_vars["src_file"]).stem
    argv = ["--fast", "--out", str(DOCS / "_build" / "example_output" / name)]
    data_home = os.environ.get("SKCNN_DATA")
    if data_home:
        argv += ["--data-home", data_home]
    return argv


def matplotlib_scraper_tight(block, block_vars, gallery_conf, **kwargs):
    """matplotlib's scraper, cropping as the examples' own ``savefig`` calls do."""
    kwargs.setdefault("bbox_inches", "tight")
    return matplotlib_scraper(block, block_vars, gallery_conf, **kwargs)


class LectureOrder:
    """Sort key for the examples: :data:`ORDER`, then any other by file name."""

    def __init__(self, src_dir):
        self.src_dir = src_dir

    def __call__(self, filename):
        name = Path(filename).name
        return (ORDER.index(name) if name in ORDER else len(ORDER), name)

    def __repr__(self):
        return f"<{type(self).__name__}>"
