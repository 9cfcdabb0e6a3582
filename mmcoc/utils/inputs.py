"""Checking images where they enter a run, once, rather than inside every forward pass."""
import torch


def check_finite_images(images, where: str):
    """Raise when a float image (or batch, or list of them) holds NaN or Inf values.

    Integer images (everything decoded from 8- or 16-bit files) cannot, and cost nothing. The
    check belongs where data enters, on the CPU: inside a model's forward it would wait for the
    GPU on every step, and a NaN spreads through every cluster of its region without an error.
    """
    tensors = images if isinstance(images, (list, tuple)) else [images]
    for tensor in tensors:
        if isinstance(tensor, torch.Tensor) and tensor.is_floating_point() \
                and not torch.isfinite(tensor).all():
            bad = int((~torch.isfinite(tensor)).sum())
            raise ValueError(
                f'{where}: an input image holds {bad} NaN or Inf values (of {tensor.numel()}). '
                'Check the image file, the data pipeline and its normalisation (mean/std), or '
                'the layer feeding this backbone.')
