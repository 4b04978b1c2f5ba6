# The README's two commands: `make demo` and `make test` (`make test-fast` for the
# loop while editing). Both create .venv and reinstall whenever pyproject.toml,
# the constraints or the dev requirements change.
PYTHON_BOOT ?= python3
VENV := .venv
PY := $(VENV)/bin/python
PIP := $(PY) -m pip
INSTALL_INPUTS := pyproject.toml constraints.txt requirements-dev.txt
DEMO_OUTPUT ?= polymodal-results

.PHONY: demo test test-fast test-minimums lint bench docs clean

$(PY):
	$(PYTHON_BOOT) -m venv $(VENV)
	$(PIP) install --quiet --upgrade pip

$(VENV)/.installed-demo: $(PY) $(INSTALL_INPUTS)
	$(PIP) install --quiet -c constraints.txt -r requirements-dev.txt -e ".[image]"
	touch $@

# The test install adds scikit-survival (the real-data loader) on top of `test`:
# it pins scikit-learn narrowly, so test-minimums leaves it out. It also adds
# pyradiomics, the reference the radiomics features are checked against (a test
# and benchmark dependency, never a runtime one): it ships only an sdist, which
# builds without build isolation once setuptools, wheel and versioneer are there.
$(VENV)/.installed-test: $(PY) $(INSTALL_INPUTS)
	$(PIP) install --quiet -c constraints.txt -r requirements-dev.txt -e ".[test,survival]"
	$(PIP) install --quiet -c constraints.txt setuptools wheel versioneer
	$(PIP) install --quiet -c constraints.txt --no-build-isolation pyradiomics==3.0.1
	touch $@

$(VENV)/.installed-docs: $(PY) $(INSTALL_INPUTS)
	$(PIP) install --quiet -c constraints.txt -r requirements-dev.txt -e ".[docs]"
	touch $@

demo: $(VENV)/.installed-demo
	$(VENV)/bin/polymodal compare --out $(DEMO_OUTPUT)

lint: $(VENV)/.installed-test
	$(VENV)/bin/ruff check src tests benchmarks examples docs conftest.py
	$(VENV)/bin/ruff format --check src tests benchmarks examples docs conftest.py

# The property tests run in one process of their own, so that their example
# count covers the whole file (xdist would split it between workers).
test: lint
	$(PY) -m pytest -n 2 --ignore tests/test_properties.py
	$(PY) -m pytest tests/test_properties.py

# The loop to run while editing: the same suite less the tests marked slow (the
# command line end to end, the examples, the ColumnTransformer parity run, ...).
# `make test` still runs everything.
test-fast: lint
	$(PY) -m pytest -n 2 -m "not slow" --ignore tests/test_properties.py
	$(PY) -m pytest -m "not slow" tests/test_properties.py

# The suite against the lowest versions pyproject.toml declares (in its own venv).
test-minimums:
	$(PYTHON_BOOT) -m venv .venv-minimums
	.venv-minimums/bin/python -m pip install --quiet -c constraints.txt \
		-c constraints-minimums.txt -r requirements-dev.txt -e ".[test]"
	.venv-minimums/bin/python -m pytest -n 2 --ignore tests/test_properties.py
	.venv-minimums/bin/python -m pytest tests/test_properties.py

bench: $(VENV)/.installed-test
	for script in benchmarks/*.py; do $(PY) $$script || exit 1; done

# Warnings are errors: a broken reference or a failing gallery example fails the build.
docs: $(VENV)/.installed-docs
	$(VENV)/bin/sphinx-build -W --keep-going -b html docs docs/_build/html

clean:
	rm -rf $(VENV) .venv-minimums $(DEMO_OUTPUT) .pytest_cache .ruff_cache docs/_build \
		docs/auto_examples docs/api/generated docs/sg_execution_times.rst
