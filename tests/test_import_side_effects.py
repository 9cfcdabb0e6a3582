"""``import mmcoc`` registers modules and changes no object of its hosts.

A fresh interpreter imports every host module that ``import mmcoc`` and its registry scope
(every module a config can name) would import, takes the identity of every attribute of those
modules and of every class defined in them, imports mmcoc with every module of its scope (and,
in the second case, trains a step of the demo detector with ``--amp`` on the CPU, whose optim
wrapper patches mmcv's NMS and RoIAlign within the step), and compares. Registration (a child
registry, a timm entry, a named file backend) adds entries to registries; it replaces nothing,
which is what is checked.
"""
import json
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow  # subprocesses, exports, compiles or docs: make test-fast skips

ROOT = Path(__file__).parents[1]

HOSTS = ('mmengine', 'mmcv', 'mmdet', 'mmseg', 'mmpretrain', 'torch', 'torchvision', 'copyreg')

SCRIPT = textwrap.dedent('''
    import copyreg, importlib, inspect, json, sys
    names = json.loads(sys.argv[1])
    for name in names:
        try:
            importlib.import_module(name)
        except Exception:
            pass

    def import_every_module():
        # what the registry scope imports when configs name mmcoc's modules
        from mmengine.registry import Registry
        import mmcoc.registry
        for registry in vars(mmcoc.registry).values():
            if isinstance(registry, Registry):
                registry.import_from_location()

    def snapshot():
        seen = {}
        for name in names:
            module = sys.modules.get(name)
            if module is None:
                continue
            for attr, value in list(vars(module).items()):
                seen[f'{name}.{attr}'] = id(value)
                if inspect.isclass(value) and value.__module__ == name:
                    for key, member in list(vars(value).items()):
                        seen[f'{name}.{attr}.{key}'] = id(member)
        return seen

    def registries():
        from mmengine.fileio.backends import registry_utils
        from mmengine.fileio import io as file_io
        from mmengine.runner import CheckpointLoader
        return dict(
            schemes={k: id(v) for k, v in CheckpointLoader._schemes.items()},
            prefixes={k: id(v) for k, v in registry_utils.prefix_to_backends.items()},
            local=id(registry_utils.backends['local']),
            instances={k: id(v) for k, v in file_io.backend_instances.items()},
            copyreg={repr(k): id(v) for k, v in copyreg.dispatch_table.items()})

    before, before_registries = snapshot(), registries()
    import mmcoc  # noqa: F401
    import_every_module()
    if sys.argv[2] == 'cpu_amp_step':  # --amp on a CPU patches mmcv within each step only
        import torch
        from mmdet.testing import demo_mm_inputs
        from mmengine.config import Config
        from mmengine.optim import build_optim_wrapper
        from mmcoc.engine import use_amp
        from mmcoc.utils.config import build_model
        cfg = use_amp(Config.fromfile('configs/demo/coc_tiny_maskrcnn_demo.py'))
        for extractor in ('bbox_roi_extractor', 'mask_roi_extractor'):
            cfg.model.roi_head[extractor].roi_layer.use_torchvision = False  # mmcv's RoIAlign
        torch.manual_seed(0)
        model = build_model(cfg).train()
        batch = demo_mm_inputs(2, [[3, 64, 80], [3, 72, 64]], num_items=[3, 2],
                               num_classes=4, with_mask=True)
        model.train_step(batch, build_optim_wrapper(model, cfg.optim_wrapper))
    after, after_registries = snapshot(), registries()
    # a run's own state (the current default scope, message hub, logger: mmengine's
    # ManagerMixin instances) is not a patch
    run_state = sys.argv[2] == 'cpu_amp_step'
    changed = sorted(k for k in before if k in after and before[k] != after[k]
                     and not (run_state and k.endswith('._instance_dict')))
    print(json.dumps(dict(changed=changed, checked=len(before),
                          registries=[k for k in before_registries
                                      if before_registries[k] != after_registries[k]])))
''')


IMPORT_EVERY_MODULE = ('from mmengine.registry import Registry; import mmcoc.registry; '
                       '[r.import_from_location() for r in vars(mmcoc.registry).values() '
                       'if isinstance(r, Registry)]; ')


def host_modules():
    listing = subprocess.run(
        [sys.executable, '-c',
         'import json, sys; import mmcoc; ' + IMPORT_EVERY_MODULE +
         'print(json.dumps(sorted(sys.modules)))'],
        check=True, capture_output=True, text=True).stdout
    return [m for m in json.loads(listing.splitlines()[-1])
            if m.split('.')[0] in HOSTS and not m.startswith('mmcoc')]


@pytest.mark.parametrize('after', ['import', 'cpu_amp_step'])
def test_import_mmcoc_replaces_no_host_object(after):
    modules = host_modules()
    assert any(m.startswith('mmdet') for m in modules) and 'mmcv.ops.nms' in modules
    out = subprocess.run([sys.executable, '-c', SCRIPT, json.dumps(modules), after], check=True,
                         capture_output=True, text=True, cwd=ROOT).stdout
    result = json.loads(out.splitlines()[-1])
    assert result['checked'] > 100_000  # every attribute of every host module mmcoc uses
    assert result['registries'] == []  # checkpoint schemes, file backends, copyreg untouched
    assert result['changed'] == [], result['changed'][:20]


def test_import_and_a_timm_model_leave_the_detection_hosts_unimported():
    # what makes `import mmcoc` light: the hosts come in when a config names an mmcoc module
    code = ("import sys, timm, mmcoc; timm.create_model('coc_tiny'); "
            "print(sorted(h for h in ('mmdet', 'mmseg', 'mmpretrain') if h in sys.modules)); "
            "from mmengine.registry import MODELS; "
            "MODELS.build(dict(type='mmcoc.MemoryBoundedEncoderDecoder', backbone=dict("
            "type='mmcoc.ContextCluster', arch='tiny'), decode_head=dict(type='mmseg.FPNHead', "
            "in_channels=[32, 64, 196, 320], in_index=[0, 1, 2, 3], feature_strides=[4, 8, 16, "
            "32], channels=8, num_classes=2))); print('mmseg' in sys.modules)")
    out = subprocess.run([sys.executable, '-c', code], check=True, capture_output=True,
                         text=True, cwd=ROOT).stdout.split('\n')
    assert out[0] == '[]'  # none of mmdet, mmseg, mmpretrain
    assert out[1] == 'True'  # and a config naming an mmcoc module brings them in
