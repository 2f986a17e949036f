"""Drop the empty ``tags`` lists papermill adds to every cell, so the paired .py stays clean.

Usage: python tools/tidy_executed.py notebooks/01_degradation.ipynb [...]
"""

import sys

import nbformat

for path in sys.argv[1:]:
    notebook = nbformat.read(path, as_version=4)
    for cell in notebook.cells:
        if cell.metadata.get("tags") == []:
            del cell.metadata["tags"]
    nbformat.write(notebook, path)
