"""The course as a student meets it: JupyterLab in Chromium, notebook 1 and a student copy run
with Run All under the smoke profile, and the depth slider moved by the mouse.
Run with `make test-browser` (not part of `make test`)."""

from __future__ import annotations

import re
import time
from pathlib import Path

import pytest
from lab_server import chromium_binary, jupyter_lab
from notebook_page import open_notebook, outcome, run_all, save, unpaired_copy
from playwright.sync_api import expect, sync_playwright

REPO = Path(__file__).resolve().parents[2]
NOTEBOOK = REPO / "notebooks" / "01_degradation.py"  # the source: an .ipynb may be mid-run
STUDENT_COPY = REPO / "student" / "01_degradation.ipynb"
OFFLINE = re.compile(r"^https?://(?!127\.0\.0\.1[:/])")  # anything but the test's own server
RUN_ALL_S = 600  # a smoke run of notebook 1 takes 1-3 minutes on a 2-core CPU


@pytest.fixture(scope="module")
def lab(tmp_path_factory):
    root = tmp_path_factory.mktemp("lab")
    unpaired_copy(NOTEBOOK, root)
    (root / "student").mkdir()
    unpaired_copy(STUDENT_COPY, root / "student")
    with jupyter_lab(root) as server:
        yield server


@pytest.fixture(scope="module")
def browser():
    with sync_playwright() as p:
        chromium = p.chromium.launch(executable_path=chromium_binary())
        yield chromium
        chromium.close()


@pytest.fixture
def page(browser):
    context = browser.new_context(viewport={"width": 1400, "height": 1000})
    context.route(OFFLINE, lambda route: route.abort())  # the Colab badge: no wait for a timeout
    page = context.new_page()
    page.set_default_timeout(120_000)  # generous: a busy 2-core CPU makes Lab slow to respond
    expect.set_options(timeout=120_000)
    yield page
    context.close()


def move_slider(page, slider, fraction: float) -> None:
    """Drag the slider's handle with the mouse to ``fraction`` of its track, as a student would."""
    handle, track = slider.locator(".noUi-handle"), slider.locator(".noUi-target")
    handle.scroll_into_view_if_needed()
    box, bar = handle.bounding_box(), track.bounding_box()
    page.mouse.move(box["x"] + box["width"] / 2, box["y"] + box["height"] / 2)
    page.mouse.down()
    page.mouse.move(bar["x"] + fraction * bar["width"], bar["y"] + bar["height"] / 2, steps=12)
    page.mouse.up()


def test_notebook_1_runs_and_its_depth_slider_answers(lab, page):
    name = f"{NOTEBOOK.stem}.ipynb"
    open_notebook(page, lab, name)
    started = time.monotonic()
    run_all(page, RUN_ALL_S)
    unrun, errors, _ = outcome(save(page, lab.root / name))
    assert not errors, errors
    assert not unrun, f"code cells never ran (Run All stopped early): {unrun}"
    print(f"notebook 1: Run All took {time.monotonic() - started:.0f} s")

    slider = page.locator(".widget-slider", has_text="plain-net depth")
    readout = slider.locator(".widget-readout")
    expect(readout).to_have_text("20")
    track = slider.locator(".noUi-target").bounding_box()
    assert track["width"] >= 16 * 25, f"a 16-stop slider only {track['width']:.0f} px wide"

    move_slider(page, slider, 0.6)
    expect(readout).not_to_have_text("20")
    depth = readout.inner_text().strip()
    assert re.fullmatch(r"\d+", depth), depth
    # the kernel answered for that depth: the widget's output names the net it measured
    widget = page.locator(".jp-OutputArea-output", has=slider)
    expect(widget).to_contain_text(f"plain{depth}: ", timeout=60_000)
    expect(widget.locator("[data-mime-type='application/vnd.jupyter.stderr']")).to_have_count(0)


def test_a_student_copy_runs_to_the_end_and_reports_its_exercises(lab, page):
    name = f"student/{STUDENT_COPY.name}"
    open_notebook(page, lab, name)
    run_all(page, RUN_ALL_S)
    unrun, errors, text = outcome(save(page, lab.root / name))
    assert not errors, f"an unanswered exercise must not stop Run All: {errors}"
    assert not unrun, f"code cells never ran (Run All stopped early): {unrun}"
    assert "Unanswered:" in text, "the student copy's exercises were not reported as unanswered"
