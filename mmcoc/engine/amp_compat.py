"""mmcv's compiled ops under CPU autocast: computed in float32, as torchvision's ops are.

``torch.autocast`` casts inputs only for torch's own ops. mmcv's ``NMSop`` and
``RoIAlignFunction`` are ``torch.autograd.Function`` subclasses calling pybind kernels that
autocast never sees, and their CPU kernels take float32 (RoIAlign also float64/float16), not
bfloat16: under ``torch.autocast('cpu', bfloat16)`` the RPN's boxes are bfloat16 (mmdet makes
anchors in the scores' dtype, and unlike CUDA autocast the CPU one keeps ``exp`` in bfloat16, so
the decoded boxes stay bfloat16) and ``nms`` stops with "expected scalar type Float but found
BFloat16"; mmcv's RoIAlign fails the same way on bfloat16 features.

torch's mechanism for custom Functions is ``torch.amp.custom_fwd(device_type=...,
cast_inputs=torch.float32)`` on ``forward``: inside an autocast region it casts the
floating-point tensor arguments to float32 and runs the kernel with autocast off; outside one
it calls ``forward`` unchanged, so float32 training and inference are untouched. On top of it,
a floating output is returned in its input's dtype (and its gradient taken back to float32 for
the float32-only backward kernel), which is what torchvision's autocast kernel of ``roi_align``
does: mmdet's RoI extractor writes each level's RoI features into a tensor of the features'
dtype. Autograd casts the input gradients back to the inputs' own dtypes.

Only ``device_type='cpu'``: on CUDA, autocast decodes boxes in float32 (``exp`` is a float32
op there) and mmcv's CUDA RoIAlign takes float16, so GPU AMP runs as mmdet's AMP configs expect.
"""
import functools
import importlib

import torch

# (module, Function): both lie on the Mask R-CNN path: NMSop in the RPN and the test-time box
# NMS, RoIAlignFunction in the RoI extractors (mmdet's default; use_torchvision=True takes
# torchvision's, which casts for autocast itself)
_FLOAT32_ONLY_ON_CPU = (
    ('mmcv.ops.nms', 'NMSop'),
    ('mmcv.ops.roi_align', 'RoIAlignFunction'),
)
_MARK = '_mmcoc_float32_under_cpu_autocast'


def _first_floating_dtype(args):
    return next((a.dtype for a in args if isinstance(a, torch.Tensor) and a.is_floating_point()),
                None)


def _float32_forward(forward):
    cast_forward = torch.amp.custom_fwd(forward, device_type='cpu', cast_inputs=torch.float32)

    @functools.wraps(forward)
    def run(ctx, *args, **kwargs):
        ctx.mmcoc_output_dtype = None
        if not torch.is_autocast_enabled('cpu'):
            return forward(ctx, *args, **kwargs)
        output = cast_forward(ctx, *args, **kwargs)
        dtype = _first_floating_dtype(args)
        if (isinstance(output, torch.Tensor) and output.is_floating_point()
                and dtype is not None and output.dtype != dtype):
            ctx.mmcoc_output_dtype = dtype
            output = output.to(dtype)
        return output

    return run


def _float32_backward(backward):

    @functools.wraps(backward)
    def run(ctx, *grads):
        if getattr(ctx, 'mmcoc_output_dtype', None) is not None:
            grads = [g.float() if isinstance(g, torch.Tensor) else g for g in grads]
        return backward(ctx, *grads)

    return run


def cast_mmcv_ops_to_float32_under_cpu_autocast() -> list:
    """Make mmcv's float32-only CPU Functions compute in float32 under CPU autocast.

    Idempotent (a patched Function is marked and skipped). Returns the names of the Functions
    patched now or before; an mmcv without compiled ops (mmcv-lite) has none.
    """
    patched = []
    for module_name, class_name in _FLOAT32_ONLY_ON_CPU:
        try:  # import_module: `mmcv.ops.nms` as an attribute is the function, not the module
            function = getattr(importlib.import_module(module_name), class_name)
        except (ImportError, AttributeError):
            continue
        if not getattr(function, _MARK, False):
            function.forward = staticmethod(_float32_forward(function.forward))
            if 'backward' in vars(function):  # NMSop has none (not differentiable)
                function.backward = staticmethod(_float32_backward(function.backward))
            setattr(function, _MARK, True)
        patched.append(f'{module_name}.{class_name}')
    return patched
