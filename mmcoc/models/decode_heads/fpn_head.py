"""mmseg's Semantic FPN head with its scale heads' maps added at exact bilinear weights."""
from mmseg.models.decode_heads import FPNHead

from mmcoc.models.layers.resize import stable_bilinear_resize
from mmcoc.registry import MODELS


@MODELS.register_module()
class StableResizeFPNHead(FPNHead):
    """mmseg's ``FPNHead`` (same arguments, same weights and checkpoints) whose coarser scale
    heads are resized to the finest one by :func:`~mmcoc.models.layers.resize.
    stable_bilinear_resize` instead of a float32 ``F.interpolate``.

    At an input no stride divides, the stride-8 head's map is one pixel wider than the
    stride-4 one (e.g. 61x69 -> 122x138 against 122x137) and is resized at a ratio that is no
    power of two, where float32 source coordinates cost up to 1e-3 of logits of random
    weights; computed this way the head's output stays within the rounding of its maps, in
    PyTorch and in an ONNX export alike.
    """

    def forward(self, inputs):
        x = self._transform_inputs(inputs)
        output = self.scale_heads[0](x[0])
        for i in range(1, len(self.feature_strides)):
            output = output + stable_bilinear_resize(
                self.scale_heads[i](x[i]), output.shape[2:], self.align_corners)
        return self.cls_seg(output)
