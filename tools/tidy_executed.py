"""Tidy notebooks executed in place by papermill, so the paired .py stays the source:
drop the cell papermill injects for ``-p`` parameters (``make execute`` passes
``interactive=False``; the committed source keeps the defaults) and the empty ``tags`` lists
it adds to every cell.

Progress bars go too: they belong to a live run. Saved, a tqdm widget shows only its first
frame ("lesions: 0%| | 0/25") or a stale copy of its state, which a reader has to read past.

Usage: python tools/tidy_executed.py notebooks/01_degradation.ipynb [...]
"""

import re
import sys

import nbformat

WIDGET_VIEW = "application/vnd.jupyter.widget-view+json"
WIDGET_STATE = "application/vnd.jupyter.widget-state+json"
# what tqdm prints: "desc:  40%|####      | 2/5 [00:01<00:02, 1.2it/s]"
BAR = re.compile(r"\d+%\|.*\|\s*\d+(\.\d+)?[kMG]?/\d+")


def is_progress_bar(output) -> bool:
    """A tqdm bar: a widget view whose text form is a bar, or a stderr stream of bar frames."""
    if output.get("output_type") == "display_data" and WIDGET_VIEW in output.get("data", {}):
        return bool(BAR.search(str(output["data"].get("text/plain", ""))))
    if output.get("output_type") == "stream" and output.get("name") == "stderr":
        frames = [f for f in re.split(r"[\r\n]+", output.get("text", "")) if f.strip()]
        return bool(frames) and all(BAR.search(f) for f in frames)
    return False


def tidy(notebook) -> None:
    """Drop papermill's injected cell, its empty tags, and every saved progress bar (in place)."""
    notebook.cells = [
        cell for cell in notebook.cells if "injected-parameters" not in cell.metadata.get("tags", [])
    ]
    views = 0
    for cell in notebook.cells:
        if cell.metadata.get("tags") == []:
            del cell.metadata["tags"]
        if cell.cell_type == "code":
            cell.outputs = [o for o in cell.outputs if not is_progress_bar(o)]
            views += sum(WIDGET_VIEW in o.get("data", {}) for o in cell.outputs)
    if not views:  # no widget left to show: their saved state is the bars' state, dead weight
        notebook.metadata.get("widgets", {}).pop(WIDGET_STATE, None)
        if "widgets" in notebook.metadata and not notebook.metadata["widgets"]:
            del notebook.metadata["widgets"]


if __name__ == "__main__":
    for path in sys.argv[1:]:
        notebook = nbformat.read(path, as_version=4)
        tidy(notebook)
        nbformat.write(notebook, path)
