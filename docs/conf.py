"""Sphinx configuration of skcnn's documentation.

Build from the repository's root (warnings are errors; the gallery runs every
example in its fast mode, reading MNIST from ``$SKCNN_DATA``)::

    SKCNN_DATA=/path/to/data python -m sphinx -W --keep-going -b html \
        docs docs/_build/html
"""

import re
import sys
from pathlib import Path

DOCS = Path(__file__).resolve().parent
sys.path.insert(0, str(DOCS.parent))  # document the checkout, not another install
sys.path.insert(0, str(DOCS / "sphinxext"))

import skcnn  # noqa: E402

project = "skcnn"
author = "The skcnn developers"
copyright = "the skcnn developers"
version = release = skcnn.__version__

extensions = [
    "sphinx.ext.autodoc",
    "sphinx.ext.autosummary",
    "sphinx.ext.mathjax",
    "numpydoc",
    "sphinx_gallery.gen_gallery",
]
# No intersphinx: the build must work offline, and fetching other projects'
# inventories would fail (a warning, hence an error under -W) without a network.

templates_path = ["_templates"]
exclude_patterns = ["_build", "Thumbs.db", ".DS_Store"]
root_doc = "index"
default_role = "literal"
nitpicky = False

# -- API reference ---------------------------------------------------------------

autosummary_generate = True
autodoc_typehints = "none"  # the numpydoc sections say the types
autodoc_member_order = "groupwise"
autodoc_inherit_docstrings = True

# Members inherited from scikit-learn and documented there; their docstrings
# refer to scikit-learn's own user guide, which is not part of this site.
_SKLEARN_MEMBERS_SHOWN = {
    "get_params",
    "set_params",
    "score",
    "fit_transform",
    "get_feature_names_out",
}


def _skip_foreign_members(app, what, name, obj, skip, options):
    """Document the members skcnn defines, and a few universal ones it inherits."""
    if skip or what != "class":
        return None
    function = getattr(obj, "fget", obj)  # properties: their getter
    module = getattr(function, "__module__", None) or ""
    if module.split(".")[0] == "skcnn" or name in _SKLEARN_MEMBERS_SHOWN:
        return None
    return True


_SKLEARN_ROLE = re.compile(r":(?:ref|term):`([^`<]*?)\s*(?:<[^>`]*>)?`")


def _unlink_sklearn_roles(app, what, name, obj, options, lines):
    """Plain text for the references of inherited scikit-learn docstrings.

    They point into scikit-learn's user guide and glossary (``:ref:``,
    ``:term:``), which are not part of this site.
    """
    module = getattr(getattr(obj, "fget", obj), "__module__", None) or ""
    if module.split(".")[0] == "sklearn":
        lines[:] = [_SKLEARN_ROLE.sub(r"\1", line) for line in lines]


numpydoc_show_class_members = False  # autodoc documents the members instead
numpydoc_class_members_toctree = False
numpydoc_attributes_as_param_list = True
numpydoc_xref_param_type = False

# -- The gallery -----------------------------------------------------------------

sphinx_gallery_conf = {
    "examples_dirs": "../examples",
    "gallery_dirs": "auto_examples",
    "filename_pattern": r".*\.py$",  # run every example, not only plot_*.py
    "within_subsection_order": "skcnn_gallery.LectureOrder",
    "reset_argv": "skcnn_gallery.reset_argv",
    "image_scrapers": ("skcnn_gallery.matplotlib_scraper_tight",),
    "backreferences_dir": "gen_modules/backreferences",
    "doc_module": ("skcnn",),
    "reference_url": {"skcnn": None},
    "remove_config_comments": True,
    "abort_on_example_error": False,
    "only_warn_on_example_error": False,
    "min_reported_time": 0,
    "show_memory": False,
    "download_all_examples": False,
}

# -- HTML ------------------------------------------------------------------------

html_theme = "pydata_sphinx_theme"
html_title = f"skcnn {version}"
html_static_path = []
html_show_sourcelink = False
html_theme_options = {
    "navbar_align": "left",
    "show_toc_level": 2,
    "secondary_sidebar_items": ["page-toc"],
    "footer_start": ["copyright"],
    "footer_end": ["sphinx-version"],
}
html_sidebars = {"index": []}


def setup(app):
    app.connect("autodoc-skip-member", _skip_foreign_members)
    # before numpydoc (priority 500) parses the docstring
    app.connect("autodoc-process-docstring", _unlink_sklearn_roles, priority=400)
