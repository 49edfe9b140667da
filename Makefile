# The two entry points of the README. Both install what they need first, pinned to the CPU build of torch.
PYTHON ?= python3
PIP_INSTALL = $(PYTHON) -m pip install -q --disable-pip-version-check -c constraints.txt

.PHONY: install demo test
install:
	$(PIP_INSTALL) -e ".[test]"

demo: install
	soundnet demo

test: install
	$(PYTHON) -m pytest -q
