"""model-index.yml and the metafiles: OpenMMLab's format, every config listed, numbers counted."""
import sys

import pytest
import yaml

from tests.tools.tool_runner import ROOT, run

pytestmark = pytest.mark.slow  # subprocesses, exports, compiles or docs: make test-fast skips


def test_model_index_loads_with_modelindex_and_lists_every_config():
    from modelindex.load_model_index import load
    index = load(str(ROOT / 'model-index.yml'))
    index.build_models_with_collections()
    configs = {m.config for m in index.models}
    families = {(ROOT / path).parent for path in yaml.safe_load(
        (ROOT / 'model-index.yml').read_text())['Import']}
    assert {ROOT / 'configs' / name for name in (
        'context_cluster', 'deepcluster', 'fec', 'pointcloud', 'secvit')} <= families
    assert configs == {str(p.relative_to(ROOT)) for family in families
                       for p in family.glob('*.py')}
    for model in index.models:
        assert (ROOT / model.config).is_file()
        assert model.metadata.parameters > 0 and model.metadata.flops > 0
        assert all(r.metrics for r in model.results or ())
    # every model has its published result, but where none was published: SecViT's dense
    # models, the demos, DeepCluster's pretraining runs and its CoC probe, and the FSDP setting
    # of CoC-medium's Mask R-CNN (the published model trained another way)
    assert {m.name for m in index.models if not m.results} == {
        f'secvit_{arch}_{task}' for arch in 'ts' for task in ('maskrcnn_coco', 'fpn_ade20k')} | {
        'pointmlp_coc_demo', 'linear_probe_coc_small_in1k', 'coc_medium_maskrcnn_coco_fsdp'} | {
        p.stem for p in (ROOT / 'configs/deepcluster').glob('*.py')
        if p.stem.startswith('deepcluster_') or 'demo' in p.stem}
    published = {m.name: m.results[0].metrics for m in index.models if m.results}
    assert published['pointmlp_coc_scanobjectnn'] == {'Overall Accuracy': 86.2,
                                                      'Mean Accuracy': 84.4}
    assert published['linear_probe_resnet50_sobel_in1k'] == {'Top 1 Accuracy': 46.92}


def test_classification_numbers_are_what_mmengine_analysis_counts():
    # the check recounts; a changed model or a typed number fails it
    names = ['coc_tiny_in1k', 'coc_small_in1k', 'fec_small_in1k', 'secvit_t_in1k',
             'pointmlp_coc_scanobjectnn', 'linear_probe_coc_tiny_plain_sobel_demo']
    result = run([sys.executable, 'tools/analysis_tools/model_zoo.py', '--check', '--only', *names])
    assert result.stdout.count('parameters') == len(names)
    params = {}
    for family in ('context_cluster', 'fec', 'secvit', 'pointcloud'):
        meta = yaml.safe_load((ROOT / f'configs/{family}/metafile.yml').read_text())
        params.update({m['Name']: m['Metadata']['Parameters'] for m in meta['Models']})
    # the reference implementations' counts with a 1000-class head
    assert params['coc_tiny_in1k'] == 5_570_584 and params['coc_small_in1k'] == 14_657_024
    assert params['fec_small_in1k'] == 5_727_528
    assert params['secvit_t_in1k'] == 14_981_800
    assert params['pointmlp_coc_scanobjectnn'] == 15_326_815  # docs/pointcloud.md: 15.33 M


def test_every_release_named_in_the_index_is_documented():
    weights = {}
    for family in ('context_cluster', 'deepcluster', 'fec', 'pointcloud', 'secvit'):
        meta = yaml.safe_load((ROOT / f'configs/{family}/metafile.yml').read_text())
        weights.update({m['Name']: m['Weights'] for m in meta['Models'] if 'Weights' in m})
    # the dense CoC models, FEC, SecViT and the point clouds have public releases
    assert {n for n in weights if n.startswith('coc_')} == {
        f'coc_{size}{centers}_{task}' for size in ('small', 'medium')
        for centers in ('', '_25', '_49') for task in ('maskrcnn_coco', 'fpn_ade20k')}
    assert {'secvit_t_in1k', 'fec_small_in1k', 'pointmlp_coc_scanobjectnn',
            'deepcluster_resnet50_sobel_in1k'} <= set(weights)
    assert len(set(weights[f'coc_small{c}_maskrcnn_coco'] for c in ('', '_25', '_49'))) == 3
    assert all(url.startswith('https://') for url in weights.values())
    assert '## Official releases' in (ROOT / 'docs' / 'weights.md').read_text()
