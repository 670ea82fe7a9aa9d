"""Sphinx configuration of the course site; ``docs/site/build.py`` (``make site``) runs Sphinx with it.

The pages come from ``build/site-src/``, assembled by the build script from the executed
tutorials, the course map, the compatibility notes and the generated API pages. Nothing
is executed here (the notebooks arrive executed) and nothing is loaded from the network
when a page is read: MathJax is served from the site itself (``sphinx-mathjax-offline``),
and each widget shows the static image its output carries instead of the live view.
"""
import os
import re
import subprocess
from importlib.metadata import version as _version

project = 'braintrace-lab'
author = 'the braintrace-lab authors'
copyright = 'the braintrace-lab authors, Apache-2.0'
release = _version('braintrace-lab')
version = release


def _github_origin() -> str | None:
    """``https://github.com/OWNER/NAME`` of this clone's ``origin`` remote, if it is on GitHub."""
    try:
        url = subprocess.run(['git', 'config', '--get', 'remote.origin.url'], capture_output=True, text=True,
                             cwd=os.path.dirname(os.path.abspath(__file__)), timeout=10).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return None
    match = re.match(r'^(?:https://|git@|ssh://git@)github\.com[:/]([^/]+)/([^/]+?)(?:\.git)?/?$', url)
    return f'https://github.com/{match[1]}/{match[2]}' if match else None


# The repository that Binder builds (the launch buttons on the tutorial pages point there):
# BTL_REPOSITORY_URL, else this clone's GitHub origin, else the project's name on GitHub.
REPOSITORY_URL = (os.environ.get('BTL_REPOSITORY_URL') or _github_origin()
                  or 'https://github.com/braintrace-lab/braintrace-lab')
REPOSITORY_BRANCH = os.environ.get('BTL_REPOSITORY_BRANCH', 'main')

extensions = [
    'myst_nb',
    'sphinx.ext.autodoc',
    'sphinx.ext.mathjax',
    'sphinx-mathjax-offline',         # copies MathJax 3 into _static/mathjax and points mathjax_path at it
]

exclude_patterns = ['**.ipynb_checkpoints']
suppress_warnings = ['mystnb.unknown_mime_type']

# MyST: $...$ and $$...$$ in the notebooks' Markdown, fenced directives, heading anchors.
myst_enable_extensions = ['dollarmath', 'amsmath', 'colon_fence', 'deflist']
myst_heading_anchors = 3

# myst-nb: the notebooks are executed copies; show every output as stored.
nb_execution_mode = 'off'
nb_merge_streams = True
# No saved widget state: drop the live view and fall back to the static image in the same output.
nb_mime_priority_overrides = [('html', 'application/vnd.jupyter.widget-view+json', None)]
nb_ipywidgets_js = {}                 # and never ask a CDN for the widget manager

# API reference from the docstrings (pages written by docs/site/api_pages.py).
autodoc_member_order = 'bysource'
autodoc_typehints = 'description'
autodoc_default_options = {'show-inheritance': True}

html_theme = 'sphinx_book_theme'
html_title = 'braintrace-lab'
html_static_path = []
html_last_updated_fmt = None
html_context = {'default_mode': 'light'}   # the figures are drawn on white
html_theme_options = {
    'repository_url': REPOSITORY_URL,
    'repository_branch': REPOSITORY_BRANCH,
    'path_to_docs': '',               # build/site-src mirrors the repository: tutorials/NN_name.ipynb
    'use_repository_button': True,
    'use_download_button': True,
    'home_page_in_toc': True,
    'show_toc_level': 2,
    'launch_buttons': {'binderhub_url': 'https://mybinder.org', 'notebook_interface': 'jupyterlab'},
}
