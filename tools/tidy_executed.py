"""Tidy notebooks executed in place by papermill, so the paired .py stays the source:
drop the cell papermill injects for ``-p`` parameters (``make execute`` passes
``interactive=False``; the committed source keeps the defaults) and the empty ``tags`` lists
it adds to every cell.

Usage: python tools/tidy_executed.py notebooks/01_degradation.ipynb [...]
"""

import sys

import nbformat

for path in sys.argv[1:]:
    notebook = nbformat.read(path, as_version=4)
    notebook.cells = [
        cell for cell in notebook.cells if "injected-parameters" not in cell.metadata.get("tags", [])
    ]
    for cell in notebook.cells:
        if cell.metadata.get("tags") == []:
            del cell.metadata["tags"]
    nbformat.write(notebook, path)
