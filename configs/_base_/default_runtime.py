# What every mmcoc config adds to its host's runtime (mmdet's, mmseg's or mmpretrain's
# default_runtime.py): mmcoc registered, and the runner that brings exact resume, atomic
# plain-data checkpoints, weights-only reading and the CPU adaptation (mmcoc.RecoverableRunner).
custom_imports = dict(imports=['mmcoc'], allow_failed_imports=False)
runner_type = 'mmcoc.RecoverableRunner'
