# The README's entry points. Each installs what it needs first (torch pinned to the CPU build, tools pinned,
# all in constraints.txt).
PYTHON ?= python3
PIP_INSTALL = $(PYTHON) -m pip install -q --disable-pip-version-check -c constraints.txt
# `make test` is the proof the README claims: without the Torch7 files (../shared) or the test tools a test
# fails instead of skipping (tests/ground_truth.py). Bare `pytest` and `make test-fast` skip them.
REQUIRE_EVERYTHING = SOUNDNET_REQUIRE_TORCH7=1 SOUNDNET_REQUIRE_TEST_TOOLS=1

.PHONY: demo test test-fast lint test-tools

demo:
	$(PIP_INSTALL) -e ".[eval]"
	$(PYTHON) -m soundnet demo

test: lint test-tools
	$(PIP_INSTALL) -e ".[test]"
	# hearvalidator declares TensorFlow, but a torch model only takes its torch path: tests/hear gives it a
	# stand-in tensorflow module instead of a 500 MB TensorFlow.
	$(PIP_INSTALL) --no-deps "hearvalidator==2021.0.2"
	$(REQUIRE_EVERYTHING) $(PYTHON) -m pytest -q

# The suite without the tests marked slow (a few minutes less); skips what is not installed.
test-fast:
	$(PIP_INSTALL) -e ".[test]"
	$(PYTHON) -m pytest -q -m "not slow"

# ruff (lint + format check) over the repository, mypy over convert/ and soundnet/model (pyproject.toml).
lint:
	$(PIP_INSTALL) -e ".[lint]"
	$(PYTHON) -m ruff check .
	$(PYTHON) -m ruff format --check .
	$(PYTHON) -m mypy

# Debian packages some tests use (chromium, luajit, the Torch7 runtime's libraries); needs root or sudo.
test-tools:
	bash scripts/install_test_tools.sh
