"""The lab layer is plain Python: importing it must not pull in Jupyter."""
import subprocess
import sys


def test_lab_imports_no_jupyter():
    code = ('import sys, braintrace_lab.lab; '
            'bad = [m for m in ("ipywidgets", "anywidget", "IPython", "plotly", "traitlets") if m in sys.modules]; '
            'assert not bad, bad')
    subprocess.run([sys.executable, '-c', code], check=True, timeout=120)
