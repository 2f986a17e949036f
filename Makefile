# The course's commands. `make test` and `make execute` set themselves up on a fresh machine.
#   make test                     unit tests, then nbval on the notebooks (smoke profile)
#   make execute PROFILE=quick    run every notebook with papermill, outputs kept in place
#   make bench                    training throughput: syllabus pipeline vs ours vs the limit
#   make gpu-check                the GPU path in one budgeted call (tools/gpu_check.py) [GPU_CHECK_ARGS=]
#   make lab                      JupyterLab on the notebooks
#   make test-browser             JupyterLab in Chromium: Run All, a slider moved (tests/browser)
#   make student                  student copies in student/: solutions replaced by hints
#   make colab-ref REF=v0.2.1     the ref Colab installs from (badges, set-up cells) [REPOSITORY=]
# CIFAR10_DIR=/path/to/copy points every command at a local CIFAR-10 copy.

PYTHON ?= python3
VENV ?= .venv
PROFILE ?= auto
NOTEBOOKS ?= $(sort $(wildcard notebooks/[0-9][0-9]_*.ipynb))

BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: setup test test-browser unit nbval execute bench gpu-check lab lint format sync student colab-ref clean-cache help

help:
	@sed -n '1,11p' Makefile

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet -e ".[dev]"
	$(BIN)/python -m ipykernel install --sys-prefix --name python3 --display-name "Python 3 (resnet-course)"
	touch $@

setup: $(STAMP)

test: unit nbval

unit: $(STAMP)
	$(BIN)/python -m pytest

# The committed notebooks are re-run under the smoke profile in a throw-away cache;
# nbval compares only the cells marked NBVAL_CHECK_OUTPUT (counts, shapes).
nbval: $(STAMP)
	tmp=$$(mktemp -d) && \
	RESNET_PROFILE=smoke RESNET_CACHE_DIR=$$tmp RESNET_SUMMARY_DIR= \
	$(BIN)/python -m pytest -p no:cacheprovider --nbval-lax --nbval-current-env $(NOTEBOOKS); \
	status=$$?; rm -rf $$tmp; exit $$status

# Runs the notebooks in place, so the .ipynb files keep the outputs of this run, and writes
# each notebook's key numbers to results/<notebook>.json. PROFILE=auto picks by hardware.
# interactive=False: no widgets headless (a saved widget shows nothing, and nbclient can wait
# forever after a widget cell: jupyter/nbclient#312, nteract/papermill#723; seen here twice).
execute: $(STAMP) sync
	@for nb in $(NOTEBOOKS); do \
	  echo "== $$nb (profile $(PROFILE))"; \
	  RESNET_PROFILE=$(filter-out auto,$(PROFILE)) RESNET_SUMMARY_DIR=$(CURDIR)/results \
	  $(BIN)/papermill $$nb $$nb -p interactive False --cwd notebooks --kernel python3 || exit 1; \
	done
	$(BIN)/python tools/tidy_executed.py $(NOTEBOOKS)
	$(BIN)/jupytext --sync $(NOTEBOOKS) >/dev/null

# Training throughput: the syllabus' pipeline, ours, and the device's limit (see benchmarks/).
bench: $(STAMP)
	$(BIN)/python benchmarks/bench.py $(BENCH_ARGS)

# The GPU path in one call inside a hard budget: CUDA tests, a smoke notebook, resume, the
# bench, Colab timings, reference nets (README, "GPU check"). On a CPU: GPU_CHECK_ARGS="--device
# cpu --smoke". On the device machine, without make or network: python3 tools/gpu_check.py.
gpu-check: $(STAMP)
	$(BIN)/python tools/gpu_check.py $(GPU_CHECK_ARGS)

# As root (Docker, many cloud containers) Jupyter refuses to start without --allow-root.
ALLOW_ROOT := $(if $(filter 0,$(shell id -u)),--allow-root)

lab: $(STAMP)
	$(BIN)/python -m pip install --quiet -e ".[lab]"
	$(BIN)/jupyter lab notebooks/ $(ALLOW_ROOT)

# JupyterLab in Debian's Chromium (`apt-get install chromium`), driven by Playwright:
# notebook 1 and a student copy under Run All, the depth slider moved (tests/browser/).
BROWSER_STAMP := $(VENV)/.installed-browser

$(BROWSER_STAMP): $(STAMP)
	$(BIN)/python -m pip install --quiet -e ".[browser]"
	touch $@

test-browser: $(BROWSER_STAMP)
	$(BIN)/python -m pytest -p no:cacheprovider -v tests/browser

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

format: $(STAMP)
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

# Edit the .py files; this brings each .ipynb in line (keeping its outputs), or the
# reverse for a notebook edited in Jupyter.
sync: $(STAMP)
	$(BIN)/jupytext --sync notebooks/[0-9][0-9]_*.py
	@$(MAKE) --no-print-directory student >/dev/null

# The students' copies: each solution (between "# BEGIN SOLUTION" and "# END SOLUTION" in a
# cell tagged "solution") becomes a NotImplementedError with its hint; outputs cleared.
student: $(STAMP)
	$(BIN)/python tools/student.py --out student $(NOTEBOOKS)

# Colab installs resnet_utils from the repository at one ref ([tool.resnet-course] in
# pyproject.toml). This sets it (and REPOSITORY=https://github.com/OWNER/NAME if given) and
# rewrites the badges, the notebooks' Colab set-up cells and the README table. Tag that ref.
colab-ref: $(STAMP)
	$(BIN)/python tools/colab.py $(if $(REF),--ref $(REF)) $(if $(REPOSITORY),--repository $(REPOSITORY))
	$(MAKE) sync

clean-cache:
	rm -rf "$${RESNET_CACHE_DIR:-$$HOME/.cache/resnet-course}/runs"
