# The two commands of the README: `make demo` and `make browser test` (each sets up .venv first;
# `browser` installs Debian's chromium for the web demo's browser test, `test` installs nothing
# outside .venv).
PYTHON := .venv/bin/python
ARCH ?= small
DEMO_CONFIG := configs/demo/coc_tiny_maskrcnn_demo.py
DEMO_WORK_DIR := work_dirs/coc_tiny_maskrcnn_demo
SEG_CONFIG := configs/demo/coc_tiny_fpn_demo.py
SEG_WORK_DIR := work_dirs/coc_tiny_fpn_demo
CLS_CONFIG := configs/demo/coc_tiny_plain_cls_demo.py
CLS_WORK_DIR := work_dirs/coc_tiny_plain_cls_demo
DC_CONFIG := configs/deepcluster/deepcluster_coc_tiny_plain_sobel_demo.py
DC_PROBE_CONFIG := configs/deepcluster/linear_probe_coc_tiny_plain_sobel_demo.py
DC_PROBE_RANDOM_CONFIG := configs/deepcluster/linear_probe_coc_tiny_plain_sobel_demo_random_init.py
DC_WORK_DIR := work_dirs/deepcluster_coc_tiny_plain_sobel_demo
PC_CONFIG := configs/pointcloud/pointmlp_coc_demo.py
PC_WORK_DIR := work_dirs/pointmlp_coc_demo
PC_DATA := data/synthetic_scanobjectnn

.PHONY: setup browser demo demo-data demo-seg demo-seg-data demo-cls demo-cls-data \
	demo-backbone test test-fast \
	benchmark benchmark-detector benchmark-segmentor benchmark-classifier model-zoo \
	benchmark-compile benchmark-onnx gpu-check \
	demo-deepcluster demo-pointcloud demo-pointcloud-data

setup:
	@bash tools/setup_env.sh

demo-data: setup
	$(PYTHON) tools/generate_demo_data.py --out data/demo_shapes

# train Mask R-CNN (CoC-tiny) on the demo shapes, evaluate it, draw its predictions
demo: demo-data
	$(PYTHON) tools/train.py $(DEMO_CONFIG) --work-dir $(DEMO_WORK_DIR)
	$(PYTHON) tools/test.py $(DEMO_CONFIG) "$$(cat $(DEMO_WORK_DIR)/last_checkpoint)" \
		--work-dir $(DEMO_WORK_DIR) --show-dir $(abspath $(DEMO_WORK_DIR))/predictions

demo-seg-data: setup
	$(PYTHON) tools/generate_demo_data.py --format ade --out data/demo_shapes_ade

# train Semantic FPN (CoC-tiny) on the demo shapes, evaluate it (mIoU), draw its predictions
demo-seg: demo-seg-data
	$(PYTHON) tools/train.py $(SEG_CONFIG) --work-dir $(SEG_WORK_DIR)
	$(PYTHON) tools/test.py $(SEG_CONFIG) "$$(cat $(SEG_WORK_DIR)/last_checkpoint)" \
		--work-dir $(SEG_WORK_DIR) --show-dir $(abspath $(SEG_WORK_DIR))/predictions

demo-cls-data: setup
	$(PYTHON) tools/generate_demo_data.py --format imagenet --out data/demo_shapes_cls

# train an image classifier (CoC-tiny_plain) on one-shape images, evaluate it (top-1), draw it
demo-cls: demo-cls-data
	$(PYTHON) tools/train.py $(CLS_CONFIG) --work-dir $(CLS_WORK_DIR)
	$(PYTHON) tools/test.py $(CLS_CONFIG) "$$(cat $(CLS_WORK_DIR)/last_checkpoint)" \
		--work-dir $(CLS_WORK_DIR) --show-dir $(abspath $(CLS_WORK_DIR))/predictions

# DeepCluster: pretrain CoC-tiny_plain on the demo images without their labels, then train a
# linear probe on the frozen backbone, and on the same backbone at random initialisation
demo-deepcluster: demo-cls-data
	$(PYTHON) tools/train.py $(DC_CONFIG) --work-dir $(DC_WORK_DIR)
	$(PYTHON) tools/train.py $(DC_PROBE_CONFIG) --work-dir $(DC_WORK_DIR)/probe_pretrained \
		--cfg-options model.backbone.init_cfg.checkpoint="$$(cat $(DC_WORK_DIR)/last_checkpoint)"
	$(PYTHON) tools/train.py $(DC_PROBE_RANDOM_CONFIG) --work-dir $(DC_WORK_DIR)/probe_random_init
	@grep -h "DeepCluster epoch" "$$(ls -t $(DC_WORK_DIR)/*/*.log | head -1)" | sed 's/.*DeepCluster/DeepCluster/'
	@for probe in pretrained random_init; do \
		echo "linear probe, $$probe: $$(grep -h 'accuracy/top1' $(DC_WORK_DIR)/probe_$$probe/*/*.log | tail -1 | sed 's/.*accuracy/accuracy/')"; done

demo-pointcloud-data: setup
	$(PYTHON) tools/generate_pointcloud_data.py --out $(PC_DATA)

# point clouds: train PointMLP_CoC (scaled down) on synthetic scans in ScanObjectNN's layout,
# evaluate it (OA, mAcc), draw the clusters of a test object
demo-pointcloud: demo-pointcloud-data
	$(PYTHON) tools/train.py $(PC_CONFIG) --work-dir $(PC_WORK_DIR)
	$(PYTHON) tools/test.py $(PC_CONFIG) "$$(cat $(PC_WORK_DIR)/last_checkpoint)" \
		--work-dir $(PC_WORK_DIR)
	$(PYTHON) tools/visualize_clusters.py --config $(PC_CONFIG) \
		--checkpoint "$$(cat $(PC_WORK_DIR)/last_checkpoint)" --stage 0 --groups 6 \
		--out $(PC_WORK_DIR)/clusters \
		--points $(PC_DATA)/main_split/test_objectdataset_augmentedrot_scale75.h5 --index 0

demo-backbone: setup
	$(PYTHON) tools/analysis_tools/demo_backbone.py --arch $(ARCH) --out work_dirs/demo_backbone

# the browser test needs Debian's chromium and chromium-driver (installed once, then checked)
browser:
	@bash tools/setup_browser.sh

# the suite in TEST_WORKERS processes (pytest-xdist), a test file to a process: its module
# fixtures (a built wheel, trained runs) are made once; each process takes up to ~5 GB. The
# suite is CPU-bound: 3 processes on 2 cores took 1500 s where 2 took 1183 s (2026-12-06).
TEST_WORKERS ?= 2
PYTEST := $(PYTHON) -m pytest -q -n $(TEST_WORKERS) --dist loadfile --durations=25

test: setup
	$(PYTEST) tests

# the quick suite while working: everything but the tests marked slow (subprocesses, ONNX,
# compile, docs); `make test` (the README's command, CI's) runs them all
test-fast: setup
	$(PYTEST) -m "not slow" tests

benchmark: setup
	$(PYTHON) tools/analysis_tools/benchmark_backbone.py

benchmark-detector: setup
	$(PYTHON) tools/analysis_tools/benchmark_detector.py

benchmark-segmentor: setup
	$(PYTHON) tools/analysis_tools/benchmark_segmentor.py

benchmark-classifier: setup
	$(PYTHON) tools/analysis_tools/benchmark_classifier.py

# torch.compile vs eager: compile time and step time (CoC-small, FEC-small, SecViT-T)
benchmark-compile: setup
	$(PYTHON) tools/analysis_tools/benchmark_compile.py

# ONNX export of the full variants: onnxruntime vs PyTorch difference and CPU latency
benchmark-onnx: setup
	$(PYTHON) tools/analysis_tools/benchmark_onnx.py

# on a GPU machine: the CUDA tests and the throughput table (docs/deploy.md)
gpu-check: setup
	bash tools/analysis_tools/gpu_check.sh

# recount parameters and FLOPs of every config into the metafiles
model-zoo: setup
	$(PYTHON) tools/analysis_tools/model_zoo.py
