"""Static images inside the views' outputs, so that exported notebooks show a figure, not an empty cell.

A view's mime bundle carries, next to the live widget, an image of its current data
(``image/png`` drawn with matplotlib, or ``image/svg+xml``). Front ends that run widgets
(JupyterLab, Voila, VS Code) show the widget; nbconvert without saved widget state,
GitHub and other static viewers show the image. A view shown with ``display(view)`` (or
as a cell's last value) remembers its display id; when a job started from a running
cell ends (training, a recompute), :meth:`StaticImage.refresh_static` re-sends the image
into those outputs, so an executed notebook keeps the final state. Jobs started from the
browser (a button, a slider) skip it: nobody reads the image there, and it costs a figure.

>>> import anywidget
>>> from braintrace_lab.lab import figures
>>> from braintrace_lab.widgets._base import SafeView
>>> class View(StaticImage, SafeView, anywidget.AnyWidget):
...     def static_image(self): return figures.png_of(self.to_figure())
"""
from __future__ import annotations

import base64
import time

from IPython.display import display, update_display
from ipykernel.kernelbase import Kernel

__all__ = ['StaticImage', 'in_running_cell']


def in_running_cell() -> bool:
    """Whether the kernel is executing a cell now (not answering a widget message)."""
    try:
        if not Kernel.initialized():
            return False
        parent = Kernel.instance().get_parent()
    except Exception:              # no kernel or an unfamiliar one: behave as outside a cell
        return False
    return (parent or {}).get('header', {}).get('msg_type') == 'execute_request'


class StaticImage:
    """Mixin for a widget: ``static_image()`` goes into its mime bundle (see the module docstring)."""
    static_mime = 'image/png'

    def static_image(self):
        """PNG bytes (or an SVG string when ``static_mime`` is ``'image/svg+xml'``) of the current data."""
        raise NotImplementedError

    def _static_data(self) -> dict:
        t0 = time.perf_counter()
        data = {}
        with self.guarded('drawing the static image'):
            image = self.static_image()
            if self.static_mime == 'image/png':
                data = {'image/png': base64.b64encode(image).decode('ascii')}
            else:
                data = {self.static_mime: image}
        self.static_seconds = getattr(self, 'static_seconds', 0.0) + time.perf_counter() - t0
        return data

    def _repr_mimebundle_(self, **kwargs):
        bundle = super()._repr_mimebundle_(**kwargs)          # a dict (ipywidgets) or (data, metadata) (anywidget)
        data = bundle[0] if isinstance(bundle, tuple) else bundle
        if isinstance(data, dict):
            data.update(self._static_data())
        return bundle

    def mime_bundle(self) -> tuple:
        """``(data, metadata)`` of this view's output: the live widget and its static image."""
        bundle = self._repr_mimebundle_()
        return bundle if isinstance(bundle, tuple) else (bundle, {})

    @property
    def display_id(self) -> str:
        return f'btl-{self.model_id}'

    def _ipython_display_(self):
        data, metadata = self.mime_bundle()
        display(data, raw=True, metadata=metadata, display_id=self.display_id)
        self._static_shown = True

    def refresh_static(self, force: bool = False) -> bool:
        """Re-send the static image into this view's outputs; only from a running cell unless ``force``.

        Returns whether an update was sent.
        """
        if not getattr(self, '_static_shown', False) or not (force or in_running_cell()):
            return False
        data, metadata = self.mime_bundle()
        update_display(data, raw=True, metadata=metadata, display_id=self.display_id)
        return True
