# tests/tools/tiny_cls.py with tests/tools/exit_probe.py, which records whether each rank's
# process group was destroyed before the interpreter shut down.
_base_ = 'tiny_cls.py'
custom_imports = dict(imports=['mmcoc', 'exit_probe'], allow_failed_imports=False)
