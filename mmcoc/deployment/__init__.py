"""Deployment: ONNX export checked against PyTorch (:mod:`mmcoc.deployment.onnx`) and
``torch.compile`` checks (:mod:`mmcoc.deployment.compile`)."""
