"""tools/train.py, tools/test.py and tools/dist_train.sh on a tiny COCO set, on the CPU."""
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from mmengine.config import Config

from tests.helpers import import_tool
from tests.tools.tool_runner import PYTHONPATH, ROOT, coco_options, free_port, run

pytestmark = pytest.mark.slow  # subprocesses, exports, compiles or docs: make test-fast skips

CONFIG = str(Path(__file__).parent / 'tiny_maskrcnn.py')


def last_metrics(work_dir):
    logs = sorted(Path(work_dir).glob('*/vis_data/scalars.json'))
    lines = [json.loads(line) for line in logs[-1].read_text().splitlines()]
    return [line for line in lines if 'coco/bbox_mAP' in line][-1]


@pytest.fixture(scope='module')
def trained(tiny_coco, tmp_path_factory):
    work_dir = tmp_path_factory.mktemp('train')
    run([sys.executable, 'tools/train.py', CONFIG, '--work-dir', str(work_dir),
         *coco_options(tiny_coco), 'train_cfg.max_epochs=1', 'train_cfg.val_interval=1'])
    return work_dir


def test_train_saves_checkpoint_and_evaluates(trained):
    assert (trained / 'epoch_1.pth').is_file()
    metrics = last_metrics(trained)
    assert 0 <= metrics['coco/bbox_mAP'] <= 1 and 'coco/segm_mAP' in metrics


def test_resume_continues_from_the_last_checkpoint(trained, tiny_coco):
    result = run([sys.executable, 'tools/train.py', CONFIG, '--work-dir', str(trained),
                  '--resume', *coco_options(tiny_coco), 'train_cfg.max_epochs=2',
                  'train_cfg.val_interval=2'])
    log = result.stdout + result.stderr
    assert 'resumed epoch: 1' in log
    assert (trained / 'epoch_2.pth').is_file()
    ckpt = torch.load(trained / 'epoch_2.pth', weights_only=False)
    assert ckpt['meta']['epoch'] == 2 and ckpt['meta']['iter'] == 4  # 2 iterations per epoch


def test_test_tool_writes_metrics_drawings_and_results(trained, tiny_coco, tmp_path):
    out = tmp_path / 'results.pkl'
    run([sys.executable, 'tools/test.py', CONFIG, str(trained / 'epoch_1.pth'), '--work-dir',
         str(tmp_path), '--out', str(out), '--show-dir', 'drawn', *coco_options(tiny_coco)])
    metrics = json.loads(sorted(tmp_path.glob('*/*.json'))[-1].read_text())
    assert 'coco/bbox_mAP' in metrics
    assert out.is_file()
    assert len(list(tmp_path.glob('*/drawn/*.png'))) == 2


def test_test_tool_refuses_tta_on_mask_rcnn_and_sets_show(trained, tiny_coco, tmp_path):
    result = run([sys.executable, 'tools/test.py', CONFIG, str(trained / 'epoch_1.pth'), '--tta',
                  '--work-dir', str(tmp_path), *coco_options(tiny_coco)], check=False)
    assert result.returncode == 1
    assert result.stderr.strip().splitlines()[-1].startswith(
        "--tta: mmdet's DetTTAModel merges boxes only and this detector predicts masks")
    tool = import_tool('tools/test.py')
    for scope, key in (('mmdet', 'draw'), ('mmseg', 'draw'), ('mmpretrain', 'enable')):
        cfg = Config(dict(default_scope=scope, visualizer=dict(),
                          default_hooks=dict(visualization=dict(type='VisualizationHook'))))
        tool.enable_drawing(cfg, None, show=True, wait_time=0.5)
        hook = cfg.default_hooks.visualization
        assert hook.show is True and hook.wait_time == 0.5 and hook[key] is True


RANKS_CONFIG = str(Path(__file__).parent / 'tiny_maskrcnn_ranks.py')


def assert_ranks_agree(work_dir, world_size):
    weights = [torch.load(work_dir / f'rank{r}.pth') for r in range(world_size)]
    assert set(weights[0]) == set(weights[1])
    for key in weights[0]:
        assert torch.equal(weights[0][key], weights[1][key]), key


def test_two_process_gloo_ddp_on_cpu(tiny_coco, tmp_path):
    work_dir = tmp_path / 'ddp'
    # with_cp: activation checkpointing under DDP (non-reentrant) keeps the ranks in step
    result = run(['bash', 'tools/dist_train.sh', RANKS_CONFIG, '2', '--work-dir', str(work_dir),
                  *coco_options(tiny_coco), 'model.backbone.with_cp=True'], timeout=600)
    assert 'Distributed launcher: pytorch' in result.stdout + result.stderr
    dumped = (work_dir / 'tiny_maskrcnn_ranks.py').read_text()  # the config the run used
    assert "backend='gloo'" in dumped and 'device_ids=None' in dumped and 'with_cp=True' in dumped
    assert (work_dir / 'epoch_1.pth').is_file()
    assert_ranks_agree(work_dir, 2)


def test_two_nodes_on_one_machine(tiny_coco, tmp_path):
    work_dir = tmp_path / 'nodes'
    env = dict(os.environ, PYTHONPATH=PYTHONPATH, OMP_NUM_THREADS='1', NNODES='2',
               PORT=str(free_port()))
    cmd = ['bash', 'tools/dist_train.sh', RANKS_CONFIG, '1', '--work-dir', str(work_dir),
           *coco_options(tiny_coco)]
    nodes = [subprocess.Popen(cmd, env=dict(env, NODE_RANK=str(rank)), cwd=ROOT,
                              stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
             for rank in (0, 1)]
    outputs = [node.communicate(timeout=600)[0] for node in nodes]
    assert [node.returncode for node in nodes] == [0, 0], outputs[0][-2000:] + outputs[1][-2000:]
    assert_ranks_agree(work_dir, 2)


def test_configs_run_from_mmdet_own_train_tool(tiny_coco, tmp_path):
    import mmdet
    mmdet_train = Path(mmdet.__file__).parent / '.mim' / 'tools' / 'train.py'
    run([sys.executable, str(mmdet_train), CONFIG, '--work-dir', str(tmp_path),
         *coco_options(tiny_coco), 'train_cfg.max_epochs=1', 'train_cfg.val_interval=1'])
    # the config's runner_type reached mmdet's script: exact resume, atomic checkpoints, and a
    # checkpoint of plain data that torch reads weights-only with no allow-list at all
    dumped = (tmp_path / 'tiny_maskrcnn.py').read_text()
    assert "'mmcoc.ExactResumeHook'" in dumped
    assert "backend='mmcoc_atomic_local'" in dumped
    assert torch.load(tmp_path / 'epoch_1.pth', weights_only=True)['meta']['epoch'] == 1


class Payload:
    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        return (os.system, (f'touch {self.marker}',))


def test_a_planted_pickle_in_the_work_dir_never_runs(tiny_coco, tmp_path):
    marker = tmp_path / 'pwned'
    work_dir = tmp_path / 'run'
    work_dir.mkdir()
    torch.save({'state_dict': {}, 'meta': {'epoch': 1, 'iter': 2}, 'x': Payload(marker)},
               work_dir / 'epoch_1.pth')
    (work_dir / 'last_checkpoint').write_text(str(work_dir / 'epoch_1.pth'))
    for resume in (['--resume'], ['--resume', str(work_dir / 'epoch_1.pth')]):
        result = run([sys.executable, 'tools/train.py', CONFIG, '--work-dir', str(work_dir),
                      *resume, *coco_options(tiny_coco)], check=False)
        assert result.returncode != 0 and not marker.exists()
        assert 'pickled posix.system' in result.stderr and '--trust-checkpoint' in result.stderr



def tool(args, tiny_coco, *extra):
    return run([sys.executable, *args, *coco_options(tiny_coco), *extra], check=False)


def test_planted_init_cfg_and_load_from_in_the_work_dir_never_run(tiny_coco, tmp_path):
    marker = tmp_path / 'pwned'
    work_dir = tmp_path / 'run'
    work_dir.mkdir()
    planted = work_dir / 'backbone.pth'
    torch.save({'state_dict': {}, 'x': Payload(marker)}, planted)
    for option in (f'model.backbone.init_cfg.type=Pretrained '
                   f'model.backbone.init_cfg.checkpoint={planted}', f'load_from={planted}'):
        result = tool(['tools/train.py', CONFIG, '--work-dir', str(work_dir)], tiny_coco,
                      *option.split(), 'train_cfg.max_epochs=1')
        assert result.returncode != 0 and not marker.exists(), result.stderr[-2000:]
        assert 'pickled posix.system' in result.stderr and '--trust-checkpoint' in result.stderr


def test_trusted_mmengine_checkpoint_tests_and_converts(trained, tiny_coco, tmp_path):
    """A plain mmengine checkpoint (pickled HistoryBuffer) loads with --trust-checkpoint, and
    once converted by tools/model_converters/weights_only.py it loads and resumes without."""
    from mmengine.logging import HistoryBuffer

    from mmcoc.utils import from_plain
    checkpoint = torch.load(trained / 'epoch_1.pth', weights_only=True)
    checkpoint['message_hub'] = from_plain(checkpoint['message_hub'])  # as mmengine saves it
    assert any(isinstance(v, HistoryBuffer)
               for v in checkpoint['message_hub']['log_scalars'].values())
    plain = tmp_path / 'mmengine.pth'
    torch.save(checkpoint, plain)
    refused = tool(['tools/test.py', CONFIG, str(plain), '--work-dir', str(tmp_path)],
                   tiny_coco)
    assert refused.returncode != 0 and 'HistoryBuffer' in refused.stderr
    assert 'weights_only.py' in refused.stderr
    trusted = tool(['tools/test.py', CONFIG, str(plain), '--work-dir', str(tmp_path),
                    '--trust-checkpoint'], tiny_coco)
    assert trusted.returncode == 0, trusted.stderr[-2000:]
    converted = tmp_path / 'converted.pth'
    run([sys.executable, 'tools/model_converters/weights_only.py', str(plain), str(converted)])
    torch.load(converted, weights_only=True)
    work_dir = tmp_path / 'resumed'
    resumed = tool(['tools/train.py', CONFIG, '--work-dir', str(work_dir), '--resume',
                    str(converted)], tiny_coco, 'train_cfg.max_epochs=2')
    assert resumed.returncode == 0, resumed.stderr[-2000:]
    assert (work_dir / 'epoch_2.pth').is_file() and not (work_dir / 'epoch_1.pth').exists()


def test_test_tool_stops_on_a_checkpoint_of_another_architecture(tiny_coco, tmp_path):
    from mmcoc.models import ContextCluster, SecViT
    other = tmp_path / 'other.pth'  # another architecture: few keys in common
    torch.save({'state_dict': {f'backbone.{k}': v for k, v in
                               SecViT('t').state_dict().items()}}, other)
    variant = tmp_path / 'variant.pth'  # another variant: the same names, other shapes
    torch.save({'state_dict': {f'backbone.{k}': v for k, v in
                               ContextCluster('small').state_dict().items()}}, variant)
    bare = tmp_path / 'bare.pth'
    torch.save({'model': ContextCluster('tiny').state_dict()}, bare)
    result = tool(['tools/test.py', CONFIG, str(other), '--work-dir', str(tmp_path)], tiny_coco)
    assert result.returncode != 0 and 'parameters are in the checkpoint' in result.stderr
    assert 'first missing' in result.stderr
    result = tool(['tools/test.py', CONFIG, str(variant), '--work-dir', str(tmp_path)], tiny_coco)
    assert result.returncode != 0 and 'differ in shape' in result.stderr
    result = tool(['tools/test.py', CONFIG, str(bare), '--work-dir', str(tmp_path)], tiny_coco)
    assert result.returncode != 0 and 'backbone alone' in result.stderr
    assert 'model.backbone.init_cfg' in result.stderr

@pytest.mark.skipif(torch.cuda.is_available(), reason='--amp is float16 AMP on a GPU')
def test_train_with_amp_is_bf16_autocast_on_cpu(tiny_coco, tmp_path):
    run([sys.executable, 'tools/train.py', CONFIG, '--amp', '--work-dir', str(tmp_path),
         *coco_options(tiny_coco), 'train_cfg.max_epochs=1', 'train_cfg.val_interval=2'])
    assert "type='mmcoc.CPUAutocastOptimWrapper'" in (tmp_path / 'tiny_maskrcnn.py').read_text()
    logs = sorted(tmp_path.glob('*/vis_data/scalars.json'))[-1].read_text().splitlines()
    steps = [json.loads(line) for line in logs if '"loss"' in line]
    assert [step['iter'] for step in steps] == [1, 2]  # 4 images, batches of 2
    assert all(torch.isfinite(torch.tensor(step['loss'])) for step in steps)
    assert all(0 < step['grad_norm'] < float('inf') for step in steps)
