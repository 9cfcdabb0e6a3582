"""``import mmcoc`` registers modules and changes no object of its hosts.

A fresh interpreter imports every host module that ``import mmcoc`` would import, takes the
identity of every attribute of those modules and of every class defined in them, imports
mmcoc, and compares. Registration (a child registry, a timm entry, a named file backend) adds
entries to registries; it replaces nothing, which is what is checked.
"""
import json
import subprocess
import sys
import textwrap

HOSTS = ('mmengine', 'mmcv', 'mmdet', 'mmseg', 'mmpretrain', 'torch', 'torchvision', 'copyreg')

SCRIPT = textwrap.dedent('''
    import copyreg, importlib, inspect, json, sys
    names = json.loads(sys.argv[1])
    for name in names:
        try:
            importlib.import_module(name)
        except Exception:
            pass

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
    after, after_registries = snapshot(), registries()
    changed = sorted(k for k in before if k in after and before[k] != after[k])
    print(json.dumps(dict(changed=changed, checked=len(before),
                          registries=[k for k in before_registries
                                      if before_registries[k] != after_registries[k]])))
''')


def host_modules():
    listing = subprocess.run(
        [sys.executable, '-c', 'import json, sys; import mmcoc; print(json.dumps(sorted(sys.modules)))'],
        check=True, capture_output=True, text=True).stdout
    return [m for m in json.loads(listing.splitlines()[-1])
            if m.split('.')[0] in HOSTS and not m.startswith('mmcoc')]


def test_import_mmcoc_replaces_no_host_object():
    modules = host_modules()
    assert any(m.startswith('mmdet') for m in modules) and 'mmcv.ops.nms' in modules
    out = subprocess.run([sys.executable, '-c', SCRIPT, json.dumps(modules)], check=True,
                         capture_output=True, text=True).stdout
    result = json.loads(out.splitlines()[-1])
    assert result['checked'] > 100_000  # every attribute of every host module mmcoc uses
    assert result['registries'] == []  # checkpoint schemes, file backends, copyreg untouched
    assert result['changed'] == [], result['changed'][:20]
