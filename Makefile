# Two commands (see README.md):
#   make book   set up .venv if needed, execute every notebook, build the HTML book
#   make test   set up .venv if needed, run every test (lib, nbval twice, page build, browser)
#   make lab    set up .venv with JupyterLab (requirements-lab.txt) and open the book live

PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
NOTEBOOKS := $(shell $(PYTHON) tools/toc_notebooks.py)

# One BLAS thread: deterministic sums, and on 2 cores two processes beat two threads.
export OPENBLAS_NUM_THREADS := 1
export OMP_NUM_THREADS := 1
export MKL_NUM_THREADS := 1
export PYDEVD_DISABLE_FILE_VALIDATION := 1

.PHONY: book test test-lib test-notebooks test-notebooks-reference test-pages test-browser execute bench lab clean
LAB_STAMP := $(VENV)/.lab-installed

$(STAMP): requirements.txt lib/pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -r requirements.txt
	$(BIN)/pip check
	$(BIN)/python -m linres.engine.warm  # compile the book's numba kernels into the cache (linres/engine/warm.py)
	touch $@

book: $(STAMP)
	$(BIN)/jupyter-book build . -W -n --keep-going
	@echo "The book is in _build/html/index.html"

test: $(STAMP)
	$(MAKE) test-lib test-notebooks test-notebooks-reference test-pages test-browser

# Unit and property tests of linres, and every example in its docstrings.
test-lib: $(STAMP)
	$(BIN)/python -m pytest lib -q -p no:cacheprovider --doctest-modules -n 2

# Re-run every notebook and compare each stored text output (strict nbval).
NBVAL = $(BIN)/python -m pytest -q -p no:cacheprovider --nbval --nbval-current-env \
	  --nbval-sanitize-with book/nbval-sanitize.cfg -n 2 --dist loadfile
test-notebooks: $(STAMP)
	$(NBVAL) $(NOTEBOOKS)

# The same outputs as another machine computes them: the pure-numpy reference engine
# on a different OpenBLAS kernel (CONTRIBUTING.md, "What a notebook may print").
test-notebooks-reference: $(STAMP)
	LINRES_BACKEND=numpy OPENBLAS_CORETYPE=Prescott $(NBVAL) $(NOTEBOOKS)

# Build the pages from the stored outputs (no second execution); warnings fail.
# --all reads every page again: an incremental build does not repeat the warnings of
# pages it considers up to date, so a second run would pass where the first failed.
test-pages: $(STAMP)
	mkdir -p _build
	$(BIN)/python tools/stored_config.py _config.yml _build/stored-config.yml
	$(BIN)/jupyter-book build . --all --config _build/stored-config.yml -W -n --keep-going

# Every built page in headless Chromium (needs test-pages or book first).
test-browser: $(STAMP)
	$(BIN)/python -m pytest tests -q -p no:cacheprovider -n 2

execute: $(STAMP)
	$(BIN)/python tools/execute.py $(or $(NB),$(NOTEBOOKS))

# The engine's benchmark (README, "Benchmark"): writes bench/results/latest.{json,md},
# then re-executes the appendix page that shows the table. BENCH_ARGS=--quick for a smoke run.
bench: $(STAMP)
	$(BIN)/pip install --quiet -r requirements-bench.txt
	$(BIN)/python bench/run.py $(BENCH_ARGS)
	$(BIN)/python tools/execute.py book/appendix_performance.ipynb

# The live path: JupyterLab from the project's environment, pinned in requirements-lab.txt.
$(LAB_STAMP): $(STAMP) requirements-lab.txt
	$(BIN)/pip install --quiet -r requirements-lab.txt
	$(BIN)/pip check
	touch $@

lab: $(LAB_STAMP)
	$(BIN)/jupyter lab $(if $(filter 0,$(shell id -u)),--allow-root) book/

clean:
	rm -rf _build
