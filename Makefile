# The two entry points of the README. Each installs what it needs first, torch pinned to the CPU build.
PYTHON ?= python3
PIP_INSTALL = $(PYTHON) -m pip install -q --disable-pip-version-check -c constraints.txt

.PHONY: demo test
demo:
	$(PIP_INSTALL) -e .
	$(PYTHON) -m soundnet demo

test:
	$(PIP_INSTALL) -e ".[test]"
	PYTHON=$(PYTHON) bash scripts/install_test_tools.sh
	$(PYTHON) -m pytest -q
