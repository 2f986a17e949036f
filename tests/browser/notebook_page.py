"""What a student does in JupyterLab, as Playwright steps: open a notebook, Run All, wait for
the last cell, save; and the saved notebook read back to judge what ran."""

from __future__ import annotations

import json
import re
import time
import urllib.request
from pathlib import Path

import jupytext
import nbformat
from playwright.sync_api import Page, expect

RUNNING = "[*]:"


def unpaired_copy(notebook: Path, folder: Path) -> Path:
    """The notebook (an .ipynb, or the jupytext .py it is made from) with no outputs and no
    jupytext pairing, so that everything the test reads was made by its own run in Lab."""
    nb = jupytext.read(notebook)
    nb.metadata.pop("jupytext", None)
    for cell in nb.cells:
        if cell.cell_type == "code":
            cell.outputs, cell.execution_count = [], None
    path = folder / f"{notebook.stem}.ipynb"
    nbformat.write(nb, path)
    return path


def wait_for_kernel(lab, path: str, timeout_s: float = 240) -> None:
    """Until the notebook's kernel has started and is idle (the server's view of it)."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        with urllib.request.urlopen(f"{lab.url}/api/sessions?token={lab.token}") as answer:
            sessions = json.load(answer)
        if any(s["path"] == path and s["kernel"]["execution_state"] == "idle" for s in sessions):
            return
        time.sleep(1)
    raise TimeoutError(f"the kernel of {path} did not start in {timeout_s:.0f} s")


def open_notebook(page: Page, lab, path: str) -> None:
    """Open it in a workspace of its own and wait for its kernel (Lab's first load can take
    a minute or two on a busy 2-core CPU)."""
    page.goto(lab.notebook_url(path), wait_until="domcontentloaded")
    expect(page.locator(".jp-NotebookPanel .jp-Cell").first).to_be_visible()
    wait_for_kernel(lab, path)


def menu(page: Page, title: str, command: str) -> None:
    """Open a menu of Lab's menu bar and click the item of a command once it is enabled."""
    page.get_by_role("menubar").get_by_role("menuitem", name=title, exact=True).click()
    item = page.locator(f".lm-Menu-item[data-command='{command}']")
    expect(item).not_to_have_class(re.compile("lm-mod-disabled"))
    item.click()


def run_all(page: Page, timeout_s: float) -> None:
    """Run All, then wait until no cell is queued or running. Lab clears the queue on an
    error, so this ends either way; the saved notebook says which."""
    page.locator(".jp-NotebookPanel .jp-Cell").first.click()  # Run All acts on this notebook
    menu(page, "Run", "runmenu:run-all")
    prompts = page.locator(".jp-CodeCell .jp-InputPrompt")
    expect(prompts.filter(has_text=RUNNING).first).to_be_attached()
    page.wait_for_function(
        "text => ![...document.querySelectorAll('.jp-CodeCell .jp-InputPrompt')]"
        ".some(p => p.textContent.includes(text))",
        arg=RUNNING,
        timeout=timeout_s * 1000,
        polling=1000,
    )


def save(page: Page, path: Path, timeout_s: float = 120) -> nbformat.NotebookNode:
    """Save from Lab and read the notebook back once the server has written it (it writes to
    a temporary file and renames it, so a new modification time means a whole file)."""
    before = path.stat().st_mtime_ns
    menu(page, "File", "docmanager:save")
    deadline = time.monotonic() + timeout_s
    while path.stat().st_mtime_ns == before:
        assert time.monotonic() < deadline, f"Lab did not save {path.name} in {timeout_s:.0f} s"
        time.sleep(0.5)
    return nbformat.read(path, as_version=4)


def outcome(nb: nbformat.NotebookNode) -> tuple[list[int], list[str], str]:
    """The indices of code cells that did not run, the errors (name: value), and all the text
    the cells printed."""
    unrun, errors, text = [], [], []
    for index, cell in enumerate(nb.cells):
        if cell.cell_type != "code" or not cell.source.strip():
            continue
        if cell.execution_count is None:
            unrun.append(index)
        for output in cell.outputs:
            if output.output_type == "error":
                errors.append(f"cell {index}: {output.ename}: {output.evalue}")
            text.append(output.get("text", "") or output.get("data", {}).get("text/plain", ""))
    return unrun, errors, "".join(text)
