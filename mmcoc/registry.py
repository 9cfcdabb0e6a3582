"""mmcoc's registry scope.

Configs of any OpenMMLab package refer to our modules as ``type='mmcoc.ContextCluster'`` and pull
the package in with ``custom_imports=dict(imports=['mmcoc'], allow_failed_imports=False)``:
mmengine resolves the ``mmcoc.`` prefix to this child of its root ``MODELS`` registry, whichever
scope (mmdet, mmseg, mmpretrain) builds the model.
"""
from mmengine.registry import DATA_SAMPLERS as MMENGINE_DATA_SAMPLERS
from mmengine.registry import DATASETS as MMENGINE_DATASETS
from mmengine.registry import FUNCTIONS as MMENGINE_FUNCTIONS
from mmengine.registry import HOOKS as MMENGINE_HOOKS
from mmengine.registry import LOOPS as MMENGINE_LOOPS
from mmengine.registry import METRICS as MMENGINE_METRICS
from mmengine.registry import MODELS as MMENGINE_MODELS
from mmengine.registry import OPTIM_WRAPPERS as MMENGINE_OPTIM_WRAPPERS
from mmengine.registry import RUNNERS as MMENGINE_RUNNERS
from mmengine.registry import STRATEGIES as MMENGINE_STRATEGIES
from mmengine.registry import TRANSFORMS as MMENGINE_TRANSFORMS
from mmengine.registry import Registry

# Every module that registers a model: imported when the scope is first asked for one
MODEL_MODULES = ['mmcoc.models.backbones', 'mmcoc.models.backbones.vgg',
                 'mmcoc.models.decode_heads', 'mmcoc.models.necks',
                 'mmcoc.models.pointcloud', 'mmcoc.models.segmentors', 'mmcoc.models.selfsup',
                 'mmcoc.models.timm_models']
MODELS = Registry('model', parent=MMENGINE_MODELS, scope='mmcoc', locations=MODEL_MODULES)
OPTIM_WRAPPERS = Registry('optim_wrapper', parent=MMENGINE_OPTIM_WRAPPERS, scope='mmcoc',
                          locations=['mmcoc.engine'])
HOOKS = Registry('hook', parent=MMENGINE_HOOKS, scope='mmcoc', locations=['mmcoc.engine'])
DATA_SAMPLERS = Registry('data sampler', parent=MMENGINE_DATA_SAMPLERS, scope='mmcoc',
                         locations=['mmcoc.datasets'])
LOOPS = Registry('loop', parent=MMENGINE_LOOPS, scope='mmcoc', locations=['mmcoc.engine'])
TRANSFORMS = Registry('transform', parent=MMENGINE_TRANSFORMS, scope='mmcoc',
                      locations=['mmcoc.datasets'])
RUNNERS = Registry('runner', parent=MMENGINE_RUNNERS, scope='mmcoc', locations=['mmcoc.engine'])
FUNCTIONS = Registry('function', parent=MMENGINE_FUNCTIONS, scope='mmcoc',
                     locations=['mmcoc.engine'])
STRATEGIES = Registry('strategy', parent=MMENGINE_STRATEGIES, scope='mmcoc',
                      locations=['mmcoc.engine'])
DATASETS = Registry('dataset', parent=MMENGINE_DATASETS, scope='mmcoc',
                    locations=['mmcoc.datasets'])
METRICS = Registry('metric', parent=MMENGINE_METRICS, scope='mmcoc',
                   locations=['mmcoc.evaluation'])
