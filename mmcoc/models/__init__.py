"""mmcoc's models. Importing this package imports none of them: each name below loads its module
when first used, and the registry scope ``mmcoc`` imports its modules when a config first names
one (``mmcoc.registry``: the registries' ``locations``)."""
from mmcoc.utils.lazy import lazy_exports

_EXPORTS = {
    **dict.fromkeys(['ContextCluster', 'FEC', 'SecViT', 'checkpoint_filter_fn'], '.backbones'),
    **dict.fromkeys(['ContextClusterMixer', 'context_cluster'], '.layers'),
    'SecViTNeck': '.necks',
    'StableResizeFPNHead': '.decode_heads',
    **dict.fromkeys(['PointCloudDataPreprocessor', 'PointMLP', 'PointMLPClsHead'], '.pointcloud'),
    'MemoryBoundedEncoderDecoder': '.segmentors',
    **dict.fromkeys(['DeepCluster', 'SobelDataPreprocessor'], '.selfsup'),
    **dict.fromkeys(['ContextClusterClassifier', 'FECClassifier', 'SecViTClassifier'],
                    '.timm_models'),
    **dict.fromkeys(['LAYOUTS', 'convert_checkpoint'], '.weight_layouts'),
}
__all__ = sorted(_EXPORTS)
__getattr__ = lazy_exports(__name__, _EXPORTS)
