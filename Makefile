# The course's commands. `make test` and `make execute` set themselves up on a fresh machine.
#   make setup                    the virtual environment (.venv) with the course's tools and a kernel
#   make test                     unit tests, then nbval on the notebooks (smoke profile)
#   make unit                     the unit tests only (tests/)
#   make unit-fp32                the training tests again as a CPU without AVX-512 runs them (fp32), as CI does
#   make unit-fp16                the training tests again in fp16 with a grad scaler: Colab's T4 path, on the CPU
#   make nbval                    the notebooks re-run headless under smoke, outputs compared
#   make colab-env                .venv-colab: Python 3.13 and Colab's own versions (tools/colab-requirements.txt)
#   make test-colab               `make test` again in .venv-colab: the course under Colab's versions
#   make execute PROFILE=quick    run every notebook with papermill, outputs kept in place
#   make bench                    training throughput: syllabus pipeline vs ours vs the limit
#   make gpu-check                the GPU path in one budgeted call (tools/gpu_check.py) [GPU_CHECK_ARGS=]
#   make lab                      JupyterLab on the course folder: student/ to work, notebooks/ solved
#   make test-browser             JupyterLab in Chromium: Run All, a slider moved (tests/browser)
#   make lint                     ruff: lint and format check
#   make format                   ruff: fix what it can and format
#   make sync                     each notebooks/NN_*.py and its .ipynb in line (refuses if both changed) [KEEP=py|ipynb]
#   make student                  student copies in student/: solutions replaced by hints
#   make colab-ref REF=v0.2.1     the ref Colab installs from (badges, set-up cells) [REPOSITORY=]
#   make clean-cache              delete the finished runs in the run cache (they retrain)
#   make clean-checkpoints        delete unfinished runs' checkpoints older than an hour (they start over)
#   make help                     this list
# CIFAR10_DIR=/path/to/copy points every command at a local CIFAR-10 copy.

PYTHON ?= python3
VENV ?= .venv
PROFILE ?= auto
NOTEBOOKS ?= $(sort $(wildcard notebooks/[0-9][0-9]_*.ipynb))

BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: setup test test-browser unit unit-fp32 unit-fp16 nbval colab-env test-colab execute bench gpu-check lab lint format sync student colab-ref clean-cache clean-checkpoints help

help:
	@sed -n '/^$$/q;p' Makefile

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet -e ".[dev]"
	$(BIN)/python -m ipykernel install --sys-prefix --name python3 --display-name "Python 3 (resnet-course)"
	touch $@

setup: $(STAMP)

test: unit nbval

unit: $(STAMP)
	$(BIN)/python -m pytest

# The tests that train, again as a CPU without AVX-512 (most laptops) runs them: torch held to
# its AVX2 kernels, so the course trains in fp32 (resnet_utils/training/hardware.py). .ci/run
# calls this on a CPU with bf16, so that both number formats are tested wherever CI runs.
# `ATEN_CPU_CAPABILITY=avx2 ONEDNN_MAX_CPU_ISA=AVX2 make test` runs all of it that way (docs/speed.md).
AS_AVX2 := ATEN_CPU_CAPABILITY=avx2 ONEDNN_MAX_CPU_ISA=AVX2
TRAINING_TESTS := tests/test_train.py tests/test_step.py tests/test_resume.py tests/test_cache.py \
	tests/test_faults_cache.py tests/test_faults_inputs.py tests/test_plan.py \
	tests/test_reference.py tests/test_variants.py tests/test_verdicts.py

# (The CIFAR-10 re-evaluation of a shipped net runs in fp32 whatever the setting: not repeated.)
unit-fp32: $(STAMP)
	$(AS_AVX2) RESNET_PRECISION=fp32 $(BIN)/python -m pytest -p no:cacheprovider $(TRAINING_TESTS) \
	  --deselect tests/test_reference.py::test_a_shipped_net_scores_on_cifar10_what_its_record_says

# The same tests in the format of Colab's free T4 (fp16 autocast and a grad scaler), which the
# course accepts on the CPU too (RESNET_PRECISION=fp16): the T4's path tested wherever CI runs.
# fp16 convolutions are slow on a CPU (no fast kernels): about 5 min on one thread.
unit-fp16: $(STAMP)
	RESNET_PRECISION=fp16 $(BIN)/python -m pytest -p no:cacheprovider $(TRAINING_TESTS) tests/test_precision.py \
	  --deselect tests/test_reference.py::test_a_shipped_net_scores_on_cifar10_what_its_record_says

# The committed notebooks are re-run under the smoke profile in a throw-away cache;
# nbval compares only the cells marked NBVAL_CHECK_OUTPUT (counts, shapes).
nbval: $(STAMP)
	tmp=$$(mktemp -d) && \
	RESNET_PROFILE=smoke RESNET_CACHE_DIR=$$tmp RESNET_SUMMARY_DIR= \
	$(BIN)/python -m pytest -p no:cacheprovider --nbval-lax --nbval-current-env $(NOTEBOOKS); \
	status=$$?; rm -rf $$tmp; exit $$status

# Colab's own versions (issue 28): .venv-colab on Python 3.13 (Colab's minor version; pyenv's if
# there, COLAB_PYTHON= names another) with every package the course and its tests import pinned
# as tools/colab-requirements.txt says (Colab's published pip freeze; papermill and nbval, not on
# Colab, at releases that work with its IPython 7.34 and ipykernel 6.17.1). The package goes in
# with --no-deps and editable, as Colab's set-up cell installs it (without deps), so only a new
# requirements file rebuilds the env. torch 2.11.0 is PyPI's CUDA build: about
# 2.8 GB to download from scratch, 5 GB installed; about 3 min here (2-core CPU, no pip cache).
COLAB_VENV := .venv-colab
COLAB_STAMP := $(COLAB_VENV)/.installed
COLAB_REQUIREMENTS := tools/colab-requirements.txt
COLAB_PYTHON ?= $(or $(lastword $(wildcard $(HOME)/.pyenv/versions/3.13.*/bin/python3.13)),python3.13)

$(COLAB_STAMP): $(COLAB_REQUIREMENTS)
	@$(COLAB_PYTHON) -c 'import sys; sys.exit(sys.version_info[:2] != (3, 13))' || { \
	  echo "make colab-env: needs Python 3.13 (Colab's); COLAB_PYTHON=$(COLAB_PYTHON) is not. Name one: make colab-env COLAB_PYTHON=/path/to/python3.13"; exit 1; }
	rm -rf $(COLAB_VENV)
	$(COLAB_PYTHON) -m venv $(COLAB_VENV)
	$(COLAB_VENV)/bin/python -m pip install --quiet --progress-bar off -r $(COLAB_REQUIREMENTS)
	$(COLAB_VENV)/bin/python -m pip install --quiet --no-deps -e .
	$(COLAB_VENV)/bin/python -m ipykernel install --sys-prefix --name python3 --display-name "Python 3 (resnet-course, Colab's versions)"
	touch $@

colab-env: $(COLAB_STAMP)

# The same `test` (unit tests, with the student copies run by papermill; then nbval on the
# teacher copies) in the Colab env. STAMP= : the sub-make never builds that env with setup's
# recipe (which would install the newest of everything); colab-env built it. The sub-make keeps
# VENV and STAMP to itself: the tests that run `make -n` (tests/test_teacher_tools.py) would
# otherwise inherit them through MAKEFLAGS and the environment.
test-colab: $(COLAB_STAMP)
	@echo "make test-colab: make test in $(COLAB_VENV) ($$($(COLAB_VENV)/bin/python -c 'import sys, torch, IPython, ipywidgets, numpy; print(f"Python {sys.version.split()[0]}, torch {torch.__version__}, IPython {IPython.__version__}, ipywidgets {ipywidgets.__version__}, numpy {numpy.__version__}")'))"
	$(MAKE) --no-print-directory test VENV=$(COLAB_VENV) STAMP= COLAB_SUBMAKE=1

ifdef COLAB_SUBMAKE
MAKEOVERRIDES :=
unexport VENV STAMP COLAB_SUBMAKE
endif

# Runs the notebooks in place, so the .ipynb files keep the outputs of this run, and writes
# each notebook's key numbers to results/<notebook>.json. PROFILE=auto picks by hardware.
# interactive=False: no widgets headless (a saved widget shows nothing, and nbclient can wait
# forever after a widget cell: jupyter/nbclient#312, nteract/papermill#723; seen here twice).
# Each runs into a temporary file first: a failed run leaves the notebook and results/ as they
# were (its partial output goes to build/failed/, named in the message). Only the notebooks in
# notebooks/ are run: a student copy (made from them by `make student`) is refused.
execute: $(STAMP) sync
	RESNET_PROFILE=$(filter-out auto,$(PROFILE)) \
	$(BIN)/python tools/execute.py --profile $(PROFILE) --results $(CURDIR)/results $(NOTEBOOKS)
	$(BIN)/python tools/tidy_executed.py $(NOTEBOOKS)
	$(BIN)/python tools/sync.py $(NOTEBOOKS) >/dev/null

# Training throughput: the syllabus' pipeline, ours, and the device's limit (see benchmarks/).
bench: $(STAMP)
	$(BIN)/python benchmarks/bench.py $(BENCH_ARGS)

# The GPU path in one call inside a hard budget: pytest --device, a smoke notebook, the bench,
# Colab timings, reference nets by tools/train_references.py (docs/gpu-check.md). On a CPU:
# GPU_CHECK_ARGS="--device cpu --smoke". On the device machine, without make or network:
# python3 tools/gpu_check.py.
gpu-check: $(STAMP)
	$(BIN)/python tools/gpu_check.py $(GPU_CHECK_ARGS)

# As root (Docker, many cloud containers) Jupyter refuses to start without --allow-root.
ALLOW_ROOT := $(if $(filter 0,$(shell id -u)),--allow-root)

# Opens the course folder: a student works in student/ (exercises open), notebooks/ holds the
# solved notebooks with their outputs.
lab: $(STAMP)
	$(BIN)/python -m pip install --quiet -e ".[lab]"
	$(BIN)/jupyter lab $(ALLOW_ROOT)

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
# reverse for a notebook edited in Jupyter. When both changed since the last sync it
# refuses and says how to keep one (tools/sync.py; the other side is backed up):
# KEEP=py or KEEP=ipynb, the side kept in each pair where both changed.
sync: $(STAMP)
	$(BIN)/python tools/sync.py notebooks/[0-9][0-9]_*.py $(if $(KEEP),--keep '$(KEEP)')
	@$(MAKE) --no-print-directory student >/dev/null

# The students' copies: each solution (between "# BEGIN SOLUTION" and "# END SOLUTION" in a
# cell tagged "solution") becomes a NotImplementedError with its hint; outputs cleared.
student: $(STAMP)
	$(BIN)/python tools/student.py --out student $(NOTEBOOKS)

# Colab installs resnet_utils from the repository at one ref ([tool.resnet-course] in
# pyproject.toml). This sets it (and REPOSITORY=https://github.com/OWNER/NAME if given) and
# rewrites the badges, the notebooks' Colab set-up cells and the README table. Tag that ref.
# A malformed value is refused before anything is written; a ref git does not know is warned of.
# REF and REPOSITORY reach the tool quoted, as one word each. Only [tool.resnet-course] changed
# in pyproject.toml, which installs nothing: the stamp is touched so `sync` keeps the venv.
colab-ref: $(STAMP)
	$(BIN)/python tools/colab.py $(if $(REF),--ref='$(subst ','\'',$(REF))') $(if $(REPOSITORY),--repository='$(subst ','\'',$(REPOSITORY))')
	touch $(STAMP)
	$(MAKE) sync

clean-cache:
	rm -rf "$${RESNET_CACHE_DIR:-$$HOME/.cache/resnet-course}/runs"

# An unfinished run's checkpoint is runs/<key>.resume.pt. A run still training rewrites its own
# at the end of every epoch (a large one at least every few minutes), so one written in the
# last hour may belong to a live run: it is kept, and named (delete it by hand to start over).
clean-checkpoints:
	@runs="$${RESNET_CACHE_DIR:-$$HOME/.cache/resnet-course}/runs"; \
	if [ -d "$$runs" ]; then \
	  find "$$runs" -maxdepth 1 -name '*.resume.pt' -mmin +60 -exec printf 'removed %s\n' {} \; -exec rm -f {} \; ; \
	  find "$$runs" -maxdepth 1 -name '*.resume.pt' ! -mmin +60 \
	    -exec printf 'kept %s: written in the last hour, its run may still be training\n' {} \; ; \
	fi
