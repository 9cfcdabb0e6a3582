"""model-index.yml and the metafiles: OpenMMLab's format, every config listed, numbers counted."""
import sys

import yaml
from tool_runner import ROOT, run


def test_model_index_loads_with_modelindex_and_lists_every_config():
    from modelindex.load_model_index import load
    index = load(str(ROOT / 'model-index.yml'))
    index.build_models_with_collections()
    configs = {m.config for m in index.models}
    family = ROOT / 'configs' / 'context_cluster'
    assert configs == {str(p.relative_to(ROOT)) for p in family.glob('*.py')}
    for model in index.models:
        assert (ROOT / model.config).is_file()
        assert model.metadata.parameters > 0 and model.metadata.flops > 0
        assert model.results and all(r.metrics for r in model.results)


def test_classification_numbers_are_what_mmengine_analysis_counts():
    # the check recounts; a changed model or a typed number fails it
    names = ['coc_tiny_in1k', 'coc_small_in1k']
    result = run([sys.executable, 'tools/model_zoo.py', '--check', '--only', *names])
    assert result.stdout.count('parameters') == len(names)
    meta = yaml.safe_load((ROOT / 'configs/context_cluster/metafile.yml').read_text())
    params = {m['Name']: m['Metadata']['Parameters'] for m in meta['Models']}
    assert params['coc_tiny_in1k'] == 5_570_584 and params['coc_small_in1k'] == 14_657_024
