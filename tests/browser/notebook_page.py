"""What a student does in JupyterLab, as Playwright steps: open a notebook, Run All, wait for
the last cell, save; and the saved notebook read back to judge what ran."""

from __future__ import annotations

from pathlib import Path

import nbformat
from playwright.sync_api import Page, expect

RUNNING = "[*]:"


def copy_without_outputs(notebook: Path, folder: Path) -> Path:
    """The notebook with no outputs, so that everything the test reads was made by its run."""
    nb = nbformat.read(notebook, as_version=4)
    for cell in nb.cells:
        if cell.cell_type == "code":
            cell.outputs, cell.execution_count = [], None
    path = folder / notebook.name
    nbformat.write(nb, path)
    return path


def open_notebook(page: Page, url: str, timeout_s: float = 240) -> None:
    """Open it and wait for its kernel (Lab's first load takes a minute on a busy 2-core CPU)."""
    page.goto(url, wait_until="domcontentloaded", timeout=timeout_s * 1000)
    idle = page.locator(".jp-Notebook-ExecutionIndicator[data-status='idle']")
    expect(idle).to_be_attached(timeout=timeout_s * 1000)


def menu(page: Page, title: str, command: str) -> None:
    """Open a menu of Lab's menu bar and click the item of a command, e.g.
    menu(page, "Run", "notebook:run-all-cells")."""
    page.get_by_role("menubar").get_by_role("menuitem", name=title, exact=True).click()
    page.locator(f".lm-Menu-item[data-command='{command}']").click()


def run_all(page: Page, timeout_s: float) -> None:
    """Run All, then wait until no cell is queued or running (Lab clears the queue on an error,
    so this ends either way; the saved notebook says which)."""
    menu(page, "Run", "notebook:run-all-cells")
    prompts = page.locator(".jp-CodeCell .jp-InputPrompt")
    expect(prompts.filter(has_text=RUNNING).first).to_be_attached()
    page.wait_for_function(
        "text => ![...document.querySelectorAll('.jp-CodeCell .jp-InputPrompt')]"
        ".some(p => p.textContent.includes(text))",
        arg=RUNNING,
        timeout=timeout_s * 1000,
        polling=1000,
    )


def save(page: Page, path: Path) -> nbformat.NotebookNode:
    """Save from Lab and read the notebook back from disk."""
    menu(page, "File", "docmanager:save")
    expect(page.locator(".jp-DocumentTab.jp-mod-current.jp-mod-dirty")).to_have_count(0)
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
