# The two commands of the README: `make demo` and `make test` (each sets up .venv first).
PYTHON := .venv/bin/python
ARCH ?= small

.PHONY: setup demo test benchmark benchmark-detector

setup:
	@bash tools/setup_env.sh

demo: setup
	$(PYTHON) tools/demo_backbone.py --arch $(ARCH) --out work_dirs/demo

test: setup
	$(PYTHON) -m pytest -q tests

benchmark: setup
	$(PYTHON) tools/benchmark_backbone.py

benchmark-detector: setup
	$(PYTHON) tools/benchmark_detector.py
