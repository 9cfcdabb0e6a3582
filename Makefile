# The two commands of the README: `make demo` and `make test` (each sets up .venv first).
PYTHON := .venv/bin/python
ARCH ?= small
DEMO_CONFIG := configs/demo/coc_tiny_maskrcnn_demo.py
DEMO_WORK_DIR := work_dirs/coc_tiny_maskrcnn_demo

.PHONY: setup demo demo-data demo-backbone test benchmark benchmark-detector

setup:
	@bash tools/setup_env.sh

demo-data: setup
	$(PYTHON) tools/generate_demo_data.py --out data/demo_shapes

# train Mask R-CNN (CoC-tiny) on the demo shapes, evaluate it, draw its predictions
demo: demo-data
	$(PYTHON) tools/train.py $(DEMO_CONFIG) --work-dir $(DEMO_WORK_DIR)
	$(PYTHON) tools/test.py $(DEMO_CONFIG) "$$(cat $(DEMO_WORK_DIR)/last_checkpoint)" \
		--work-dir $(DEMO_WORK_DIR) --show-dir $(abspath $(DEMO_WORK_DIR))/predictions

demo-backbone: setup
	$(PYTHON) tools/demo_backbone.py --arch $(ARCH) --out work_dirs/demo_backbone

test: setup
	$(PYTHON) -m pytest -q tests

benchmark: setup
	$(PYTHON) tools/benchmark_backbone.py

benchmark-detector: setup
	$(PYTHON) tools/benchmark_detector.py
