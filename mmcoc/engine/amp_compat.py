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

mmcv offers no hook for this, so it is a patch, and a scoped one: ``float32_mmcv_ops()`` applies
it for the length of a ``with`` block and restores mmcv's own Functions after it.
``mmcoc.CPUAutocastOptimWrapper`` (``--amp`` on a CPU) opens one around each training step's
forward (its ``optim_context``) and one around its backward (autograd looks the backward up on
the Function when the backward runs, after the autocast region has closed), so outside a
training step, and after the run, mmcv is untouched. The patch checks the mmcv version it was
written for and says once per process in the log that it is used.

Only ``device_type='cpu'``: on CUDA, autocast decodes boxes in float32 (``exp`` is a float32
op there) and mmcv's CUDA RoIAlign takes float16, so GPU AMP runs as mmdet's AMP configs expect.
"""
import functools
import importlib
from contextlib import contextmanager

import torch
from mmengine.logging import print_log

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


# the mmcv releases whose NMSop/RoIAlignFunction (staticmethod forward/backward, the
# arguments above) this was written for; mmdet 3.3 and mmseg 1.2 require mmcv < 2.2
MMCV_VERSIONS = ('2.0', '2.1')
_originals = {}


def _functions():
    for module_name, class_name in _FLOAT32_ONLY_ON_CPU:
        try:  # import_module: `mmcv.ops.nms` as an attribute is the function, not the module
            yield f'{module_name}.{class_name}', getattr(importlib.import_module(module_name),
                                                         class_name)
        except (ImportError, AttributeError):  # mmcv-lite: no compiled ops
            continue


_depth = 0  # open float32_mmcv_ops blocks
_logged = False


def check_mmcv_version():
    """Stop, naming the fix, on an mmcv whose Functions the patch was not written for."""
    import mmcv
    if not mmcv.__version__.startswith(MMCV_VERSIONS):
        raise RuntimeError(
            f'CPU autocast (--amp on a CPU) runs mmcv\'s NMS and RoIAlign in float32 through a '
            f'patch written for mmcv {" / ".join(MMCV_VERSIONS)}.x; this is mmcv '
            f'{mmcv.__version__}. Install mmcv 2.1.0 (requirements/stack.txt) or train in float32.')


def apply_float32_mmcv_ops() -> list:
    """Make mmcv's float32-only CPU Functions compute in float32 under CPU autocast; outside an
    autocast region they compute as before. Idempotent; returns the Functions' names. Undone by
    ``restore_mmcv_ops``; ``float32_mmcv_ops`` does both around a block."""
    global _logged
    check_mmcv_version()
    patched = []
    for name, function in _functions():
        if name not in _originals:
            _originals[name] = (function, dict(vars(function)))
            function.forward = staticmethod(_float32_forward(function.forward))
            if 'backward' in vars(function):  # NMSop has none (not differentiable)
                function.backward = staticmethod(_float32_backward(function.backward))
            setattr(function, _MARK, True)
        patched.append(name)
    if patched and not _logged:
        _logged = True
        print_log(f'CPU autocast: {", ".join(patched)} compute in float32 inside autocast '
                  'regions during each training step (mmcoc.engine.amp_compat)',
                  logger='current')
    return patched


def restore_mmcv_ops():
    """Undo ``apply_float32_mmcv_ops``: mmcv's own Functions again."""
    for name, (function, attributes) in _originals.items():
        for key in ('forward', 'backward', _MARK):
            if key in attributes:
                setattr(function, key, attributes[key])
            elif key in vars(function):
                delattr(function, key)
    _originals.clear()


@contextmanager
def float32_mmcv_ops():
    """``apply_float32_mmcv_ops`` for the length of the block (nested blocks: the outermost
    restores), mmcv's own Functions after it, also when the block raises."""
    global _depth
    if _depth == 0:
        apply_float32_mmcv_ops()
    _depth += 1
    try:
        yield
    finally:
        _depth -= 1
        if _depth == 0:
            restore_mmcv_ops()
