# marsspec — every command a user or CI needs. `make demo` and `make test` do all set-up
# themselves (Debian packages, .venv, pinned Python packages, isolated QGIS profile), once:
# stamps make a second run skip it. Facts behind the choices: ../shared/ENVIRONMENT.md.

SHELL := /bin/bash
.SHELLFLAGS := -eu -o pipefail -c
.DEFAULT_GOAL := help

ROOT    := $(abspath .)
VENV    := $(ROOT)/.venv
PY      := $(VENV)/bin/python
SITE    := $(VENV)/lib/python3.11/site-packages
BUILD   := $(ROOT)/build
PLUGINS := $(BUILD)/plugins
PROFILE := $(BUILD)/qgis-profile
QGIS_PROCESS := /usr/bin/qgis_process.bin
VERSION := $(shell sed -n 's/^version=//p' metadata.txt)

# The environment every run needs (ENVIRONMENT.md): no user site, headless Qt, PROJ's data,
# an isolated QGIS profile, the plugin found as the package `marsspec`, and the venv's packages
# visible to qgis_process.bin (which embeds /usr/bin/python3, not the venv).
export PYTHONNOUSERSITE := 1
export QT_QPA_PLATFORM  := offscreen
export PROJ_DATA        := /usr/share/proj
export XDG_DATA_HOME    := $(PROFILE)/data
export XDG_CONFIG_HOME  := $(PROFILE)/config
export XDG_RUNTIME_DIR  := $(PROFILE)/runtime
export QGIS_PLUGINPATH  := $(PLUGINS)
export PYTHONPATH       := $(PLUGINS):$(SITE)
export MARSSPEC_QGIS_PROCESS := $(QGIS_PROCESS)

STAMP_SYSTEM := $(BUILD)/.stamp-system
STAMP_VENV   := $(VENV)/.stamp-requirements
STAMP_PLUGIN := $(PROFILE)/.stamp-plugin-enabled

.PHONY: env help setup test test-fast lint format demo package check-plugin qgis-process bench-tiling bench-scale
.PHONY: eval eval-spectra eval-coreg eval-sr eval-real eval-determinism screenshots clean distclean

help:
	@echo "make demo          set up, then run marsspec on the embedded sample scene -> demo-output/"
	@echo "make test          set up, lint, check-plugin, run the whole test suite"
	@echo "make package       build dist/marsspec-$(VERSION).zip for QGIS's plugin installer"
	@echo "make check-plugin  build the zip and check what the QGIS plugin repository checks"
	@echo "make qgis-process ARGS='list'   qgis_process with marsspec enabled in an isolated profile"
	@echo "make lint          ruff check + format check + Qt6 readiness (scripts/lint_qt6.py)"
	@echo "make bench-tiling  tiled-inference benchmark (key=value lines)"
	@echo "make bench-scale   Dask scale-out benchmark: 2 workers vs 1 (key=value lines)"
	@echo "make eval          eval-spectra + eval-coreg + eval-sr"
	@echo "make eval-coreg    co-registration residuals on a simulated 2048 px scene (key=value)"
	@echo "make eval-sr       super-resolution on the test split: gains over bicubic x4, artefact ratios"
	@echo "make eval-spectra  bundled EVC/FC models on held-out simulated scenes (key=value)"
	@echo "make eval-real     train on real CRISM browse pairs, held-out products vs linear (key=value)"
	@echo "make eval-determinism  20 identical predict --precision auto calls: same tags, pixels"
	@echo "make screenshots   PNGs of marsspec in the QGIS desktop (Xvfb) -> docs/img/"

# ---- set-up -------------------------------------------------------------------------------
setup: $(STAMP_PLUGIN)

$(STAMP_SYSTEM): scripts/setup_system.sh
	bash scripts/setup_system.sh
	@mkdir -p $(BUILD) && touch $@

$(STAMP_VENV): $(STAMP_SYSTEM) requirements.txt constraints.txt scripts/setup_venv.sh
	bash scripts/setup_venv.sh "$(VENV)" "$(PLUGINS)"
	@touch $@

$(STAMP_PLUGIN): $(STAMP_VENV)
	@mkdir -p $(XDG_DATA_HOME) $(XDG_CONFIG_HOME) $(XDG_RUNTIME_DIR) && chmod 700 $(XDG_RUNTIME_DIR)
	@# enable fails when the profile already has it enabled: accept that state, nothing else
	$(QGIS_PROCESS) plugins enable marsspec >/dev/null 2>&1 || \
	  $(QGIS_PROCESS) plugins 2>/dev/null | grep -Eq '^\* marsspec$$'
	@touch $@

# ---- everyday commands --------------------------------------------------------------------
test: setup lint check-plugin
	$(PY) -m pytest -ra

test-fast: setup
	$(PY) -m pytest -ra -x -q -m "not slow"

lint: $(STAMP_VENV)
	$(PY) -m ruff check .
	$(PY) -m ruff format --check .
	$(PY) scripts/lint_qt6.py

format: $(STAMP_VENV)
	$(PY) -m ruff format .
	$(PY) -m ruff check --fix .

demo: setup
	$(PY) scripts/demo.py --out demo-output

package: $(STAMP_VENV)
	$(PY) scripts/package.py --out dist

check-plugin: $(STAMP_VENV)
	$(PY) scripts/check_plugin.py

qgis-process: setup
	$(QGIS_PROCESS) $(ARGS)

bench-tiling: setup
	$(PY) benchmarks/bench_tiling.py

bench-scale: setup
	$(PY) benchmarks/bench_scale.py

eval: eval-spectra eval-coreg eval-sr

eval-coreg: setup
	$(PY) -m marsspec eval coreg

eval-sr: setup
	$(PY) -m marsspec eval sr

eval-spectra: setup
	$(PY) -m marsspec eval spectra

eval-real: setup
	$(PY) -m marsspec eval real

eval-determinism: setup
	$(PY) -m marsspec eval determinism --calls 20

screenshots: setup
	$(PY) scripts/screenshots.py --out docs/img

clean:
	rm -rf $(BUILD) dist demo-output .pytest_cache .ruff_cache

distclean: clean
	rm -rf $(VENV)

# `eval "$(make -s env)"` gives a shell the same environment as the targets above.
env:
	@for v in PYTHONNOUSERSITE QT_QPA_PLATFORM PROJ_DATA XDG_DATA_HOME XDG_CONFIG_HOME \
	          XDG_RUNTIME_DIR QGIS_PLUGINPATH PYTHONPATH MARSSPEC_QGIS_PROCESS; do \
	    echo "export $$v='$${!v}'"; done
