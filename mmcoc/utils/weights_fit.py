"""Whether a checkpoint's weights fit a model: the one policy of every path that loads weights
(the runner's ``load_from``/``--resume``, a backbone's ``Pretrained`` init_cfg, ``tools/test.py``,
``mmcoc.apis`` and the demo, the exporter, the visualiser, timm's pretrained path, and mmseg's
``init_model`` / mmdet's ``init_detector`` through the backbone).

Counted in parameters, not tensors (a head of 14M weights weighs more than a hundred norms),
and per part: the model's top-level modules that hold weights (a detector's ``backbone``,
``neck``, ``rpn_head``, ``roi_head``; a segmentor's ``decode_head``; a classifier's ``head``),
or the module itself where a backbone alone is loaded. A part fits when the checkpoint holds at
least ``MIN_COVERAGE`` of its parameters and at most ``MAX_EXTRA`` of them more under its name
(weights of another family), every tensor in the model's shape and floating where the
model's is (``load_state_dict`` would cast integers silently). Parameters are the elements of
the floating tensors of the state dict, BN statistics included.
"""
import ast
import contextlib
import contextvars
import logging
from collections import OrderedDict
from typing import Callable, Dict, Iterable, List, NamedTuple, Optional, Sequence, Tuple

import torch
import torch.nn as nn
from mmengine.logging import print_log

from .checkpoint import WEIGHT_KEYS, load_checkpoint_file, unwrap_state_dict

MIN_COVERAGE = 0.99
MAX_EXTRA = 0.01
BACKBONE_ADVICE = (
    "pass it as the backbone's weights instead: --cfg-options "
    "model.backbone.init_cfg.type=Pretrained model.backbone.init_cfg.checkpoint={path} "
    '(mmcoc.apis.load_model does this by itself), or make a whole-model checkpoint of it with '
    'tools/model_converters/official2mmcoc.py')


# Set while a loader that has checked a checkpoint itself loads it (a backbone's own init_cfg
# may take part of a classifier's weights on purpose): the modules' own checks in
# ``_load_from_state_dict`` stand aside.
_CHECKED_LOAD = contextvars.ContextVar('mmcoc_checked_load', default=False)


@contextlib.contextmanager
def checked_load():
    token = _CHECKED_LOAD.set(True)
    try:
        yield
    finally:
        _CHECKED_LOAD.reset(token)


def is_checked_load() -> bool:
    return _CHECKED_LOAD.get()


class PartFit(NamedTuple):
    name: str
    size: int  # parameters of the part in the model
    found: int  # of those, in the checkpoint
    extra: int  # parameters in the checkpoint under the part's name that the model lacks
    missing: List[str]
    unexpected: List[str]

    @property
    def coverage(self) -> float:
        return self.found / self.size if self.size else 1.0

    @property
    def fits(self) -> bool:
        return self.coverage >= MIN_COVERAGE and self.extra <= MAX_EXTRA * self.size


def _size(value) -> int:
    return value.numel() if isinstance(value, torch.Tensor) and value.is_floating_point() else 0


def _millions(n: int) -> str:
    return f'{n / 1e6:.2f}M' if n >= 10**4 else str(n)


def model_parts(model: nn.Module) -> Dict[str, str]:
    """Part name -> key prefix: the top-level modules of ``model`` that hold weights, or the
    whole model (prefix ``''``) where it has none or holds weights of its own."""
    own = model.state_dict()
    parts = {name: name + '.' for name, _ in model.named_children()
             if any(k.startswith(name + '.') and _size(own[k]) for k in own)}
    if not parts or any(_size(v) and not k.startswith(tuple(parts.values()))
                        for k, v in own.items()):
        return {type(model).__name__: ''}
    return parts


def is_bare_backbone(keys: Iterable[str], backbone: nn.Module) -> bool:
    """Whether the weights named ``keys`` are ``backbone``'s own state dict (no ``backbone.``
    key, most of its parameters at the top level), given where a whole model's are
    expected."""
    keys = set(keys)
    if not keys or any(k.startswith('backbone.') for k in keys):
        return False
    own = backbone.state_dict()
    total = sum(_size(v) for v in own.values())
    return sum(_size(v) for k, v in own.items() if k in keys) > 0.5 * max(total, 1)


def recorded_backbone(checkpoint) -> Optional[Tuple[str, Optional[str]]]:
    """The backbone ``(type, arch)`` of the config an mmengine run recorded in the checkpoint's
    ``meta['cfg']``, read from the text's literals (the text is never executed)."""
    meta = checkpoint.get('meta') if isinstance(checkpoint, dict) else None
    text = meta.get('cfg') if isinstance(meta, dict) else None
    if not isinstance(text, str):
        return None
    try:
        tree = ast.parse(text)
    except (SyntaxError, ValueError):
        return None
    for node in ast.walk(tree):
        if isinstance(node, ast.keyword) and node.arg == 'backbone' and \
                isinstance(node.value, ast.Call):
            fields = {k.arg: k.value.value for k in node.value.keywords
                      if isinstance(k.value, ast.Constant)}
            if 'type' in fields:
                return str(fields['type']), fields.get('arch')
    return None


def _config_backbone(config) -> Optional[Tuple[str, Optional[str]]]:
    backbone = (config or {}).get('backbone') if hasattr(config, 'get') else None
    if not hasattr(backbone, 'get') or 'type' not in backbone:
        return None
    arch = backbone.get('arch')
    return str(backbone['type']), arch if isinstance(arch, str) else None


def _bare(type_name: str) -> str:
    return type_name.split('.')[-1]


def _architecture_note(checkpoint, config) -> str:
    recorded, expected = recorded_backbone(checkpoint), _config_backbone(config)
    if not recorded or not expected:
        return ''
    same_type = _bare(recorded[0]) == _bare(expected[0])
    if same_type and (recorded[1] is None or expected[1] is None or recorded[1] == expected[1]):
        return ''
    def name(t, arch):
        return f"{t}{f' arch {arch!r}' if arch else ''}"
    return (f"The checkpoint's recorded config names the backbone {name(*recorded)}; this "
            f'config names {name(*expected)}.')


def _percent(share: float) -> str:
    # rounded down, so that a part missing a few tensors never reads 100%
    return f'{int(share * 1000) / 10:g}%'


def _holder(key: str, modules) -> str:
    """The deepest module of the model that a checkpoint key would belong to."""
    path = key.rsplit('.', 1)[0] if '.' in key else ''
    while path and path not in modules:
        path = path.rsplit('.', 1)[0] if '.' in path else ''
    return path


def measure_fit(weights: Dict, model: nn.Module, parts: Dict[str, str],
                ignore: Sequence[str] = ()) -> List[PartFit]:
    """How much of each part of ``model`` the flat ``weights`` hold. A tensor the model lacks
    counts against a part (``extra``) where it would sit inside one of the part's modules
    (another family's layers); one naming a module the part does not have at all (a
    classifier's ``head`` given to a dense backbone) is left out by loading, and not counted."""
    own = {k: v for k, v in model.state_dict().items() if not k.startswith(tuple(ignore))}
    weights = {k: v for k, v in weights.items() if not k.startswith(tuple(ignore))}
    modules = {name for name, _ in model.named_modules()}
    fits = []
    for name, prefix in parts.items():
        keys = [k for k in own if k.startswith(prefix)]
        missing = [k for k in keys if k not in weights and _size(own[k])]
        unexpected = [k for k in weights if k.startswith(prefix) and k not in own
                      and len(_holder(k, modules)) > len(prefix.rstrip('.'))]
        fits.append(PartFit(
            name, sum(_size(own[k]) for k in keys),
            sum(_size(own[k]) for k in keys if k in weights),
            sum(_size(weights[k]) for k in unexpected), missing, unexpected))
    return fits


def current_layout(weights: Dict, model: nn.Module) -> Dict:
    """``weights`` (flat, in ``model``'s names) with the keys of older layouts of ``model``'s
    modules renamed to today's, as loading them renames them: each module that has an
    ``upgrade_state_dict(state_dict, prefix, version)`` renames the keys under its name, told
    the layout version the state dict records for it (torch's ``_metadata``), if any."""
    metadata = getattr(weights, '_metadata', None) or {}
    upgraded = None
    for name, module in model.named_modules():
        upgrade = getattr(module, 'upgrade_state_dict', None)
        if callable(upgrade):
            if upgraded is None:
                upgraded = OrderedDict(weights)
                upgraded._metadata = metadata
            upgrade(upgraded, f'{name}.' if name else '', metadata.get(name, {}).get('version'))
    return weights if upgraded is None else upgraded


def check_fit(source: str, checkpoint: Dict, model: nn.Module, *, whole: bool = True,
              ignore: Sequence[str] = (), config=None, fix: Optional[str] = None,
              subject: Optional[str] = None) -> List[PartFit]:
    """Raise unless ``checkpoint`` (a loaded checkpoint or a flat state dict, in ``model``'s
    names) fits ``model``; one message names every part that falls short, in parameters, the
    first tensors of another shape or an integer dtype, the architecture the checkpoint's
    recorded config names where it differs from ``config`` (the model's config dict), and the
    fix.

    ``whole``: ``model`` is a whole model, checked per part, and a backbone's bare state dict
    is refused as such; otherwise ``model`` is one part (a backbone for its ``init_cfg``).
    ``ignore``: key prefixes left out on both sides (timm adapts its classifier itself; a
    backbone checks its own part). ``subject``: how the message starts.
    """
    weights = current_layout(unwrap_state_dict(checkpoint, WEIGHT_KEYS), model)
    name = type(model).__name__
    subject = subject or f'checkpoint {source!r} does not fit this {name}'
    backbone = getattr(model, 'backbone', None)
    if whole and isinstance(backbone, nn.Module) and is_bare_backbone(weights, backbone):
        raise ValueError(
            f'checkpoint {source!r} holds the weights of a {type(backbone).__name__} backbone '
            "alone (no key starts with 'backbone.'), where a whole model's are expected; "
            + BACKBONE_ADVICE.format(path=source))
    own = {k: v for k, v in model.state_dict().items() if not k.startswith(tuple(ignore))}
    kept = [k for k in weights if not k.startswith(tuple(ignore))]
    if not whole and own and kept and not any(k in own for k in kept):
        raise ValueError(
            f'no key of checkpoint {source!r} matches {name} (first keys: {list(weights)[:5]}). '
            'Is it a checkpoint of this architecture?')
    wrong_shape = [k for k, v in weights.items() if k in own and hasattr(v, 'shape')
                   and tuple(v.shape) != tuple(own[k].shape)]
    wrong_dtype = [k for k, v in weights.items() if k in own and isinstance(v, torch.Tensor)
                   and own[k].is_floating_point() and not v.is_floating_point()]
    parts = model_parts(model) if whole else {name: ''}
    fits = measure_fit(weights, model, parts, ignore)
    short = [f for f in fits if not f.fits]
    note = _architecture_note(checkpoint, config)
    if not (wrong_shape or wrong_dtype or short):
        if note:
            print_log(f'checkpoint {source}: {note}', logger='current', level=logging.WARNING)
        return fits
    problems = []
    if wrong_shape:
        key = wrong_shape[0]
        problems.append(
            f'{key!r} has shape {tuple(weights[key].shape)} in the checkpoint but '
            f'{tuple(own[key].shape)} in the model ({len(wrong_shape)} tensor(s) of another '
            'shape: checkpoint and model differ in shape where their variants differ)')
    if wrong_dtype:
        key = wrong_dtype[0]
        problems.append(
            f'{key!r} is {weights[key].dtype} in the checkpoint where the model holds '
            f'{own[key].dtype} ({len(wrong_dtype)} such tensor(s)): loading would cast them '
            'silently, so the file holds no trained floating-point weights')
    for f in short:
        text = (f'{f.name + ": " if whole else ""}{_percent(f.coverage)} of its '
                f'{_millions(f.size)} parameters are in the checkpoint')
        if f.missing:
            text += f' (first missing: {f.missing[:3]})'
        if f.extra > MAX_EXTRA * f.size:
            text += (f', and {_millions(f.extra)} parameters not in this '
                     f'{f.name if whole else "backbone"} (first: {f.unexpected[:3]})')
        problems.append(text)
    fitting = [f'{f.name} {_percent(f.coverage)}' for f in fits if f.fits]
    if whole and short and fitting:
        problems.append('complete: ' + ', '.join(fitting))
    if fix is None:
        fix = ('Use a checkpoint of this config (architecture and variant)'
               + ('; to start from its backbone alone, pass it as the backbone\'s weights: '
                  '--cfg-options model.backbone.init_cfg.type=Pretrained '
                  f'model.backbone.init_cfg.checkpoint={source}' if whole and backbone is not None
                  else '') + '.')
    raise ValueError(subject + ': ' + '; '.join(problems) + '. ' + (note + ' ' if note else '')
                     + fix)


def under_prefix(weights: Dict, prefix: str) -> Dict:
    """The weights whose names start with ``prefix``, named without it."""
    return {k[len(prefix):]: v for k, v in weights.items() if k.startswith(prefix)}


def load_weights(model: nn.Module,
                 checkpoint: str,
                 filter_fn: Callable[[Dict, nn.Module], Dict],
                 prefix: Optional[str] = None,
                 logger=None,
                 loaded: Optional[Dict] = None) -> Dict[str, list]:
    """Load ``checkpoint`` into ``model`` (one part: a backbone's ``Pretrained`` weights) after
    ``filter_fn``, under the fit policy: a checkpoint that does not fit raises; what is left
    out is logged. ``loaded``: the checkpoint already read from ``checkpoint``."""
    state_dict = load_checkpoint_file(checkpoint) if loaded is None else loaded
    if prefix:
        source = unwrap_state_dict(state_dict, WEIGHT_KEYS)
        if any(k.startswith(prefix) for k in source):
            state_dict = under_prefix(source, prefix)
        else:
            print_log(f'no key of {checkpoint} starts with prefix {prefix!r}; reading its '
                      'layout automatically', logger=logger, level=logging.WARNING)
    state_dict = filter_fn(state_dict, model)
    check_fit(checkpoint, state_dict, model, whole=False,
              fix='The checkpoint is of another architecture or variant: check the arch of '
                  'the config.')
    own = model.state_dict()
    matched = [k for k in state_dict if k in own]
    missing = [k for k in own if k not in state_dict]
    unexpected = [k for k in state_dict if k not in own]
    model.load_state_dict({k: state_dict[k] for k in matched}, strict=False)
    print_log(f'loaded {len(matched)}/{len(own)} tensors of {type(model).__name__} from '
              f'{checkpoint}', logger=logger)
    if missing:
        print_log(f'missing in the checkpoint (left as initialised): {missing}', logger=logger,
                  level=logging.WARNING)
    if unexpected:
        print_log(f'in the checkpoint but not in the model (ignored): {unexpected}',
                  logger=logger, level=logging.WARNING)
    return dict(missing_keys=missing, unexpected_keys=unexpected)


def read_host_pretrained(model: nn.Module, trust: bool = False) -> None:
    """Check the ``Pretrained`` init_cfg of the hosts' modules in ``model`` (mmpretrain's
    ResNet, mmdet's or mmseg's backbones) under the project's reader and fit policy before
    mmengine initialises them, and point it at a file mmengine reads weights-only.

    mmcoc's backbones read their own ``Pretrained`` weights; a host module's are read by
    mmengine's ``PretrainedInit``, whose http loader (also for ``torchvision://``-like index
    names) unpickles in full with no fit check. Here each such checkpoint is read once by
    :func:`load_checkpoint_file` (a URL is downloaded into torch's hub cache there), its
    weights under the init_cfg's ``prefix`` must fit the module, and a remote name is replaced
    by the checked local copy, which mmengine reads with ``torch.load``'s weights-only
    default. Called by mmcoc's runners when they build the model (before ``init_weights``).
    """
    from .checkpoint import download_to_cache, resolve_url
    for module in model.modules():
        if hasattr(module, 'checkpoint_filter'):
            continue  # an mmcoc backbone: its own init_weights reads and checks
        cfgs = getattr(module, 'init_cfg', None)
        for cfg in (cfgs if isinstance(cfgs, list) else [cfgs]):
            if not isinstance(cfg, dict) or cfg.get('type') != 'Pretrained':
                continue
            source = cfg.get('checkpoint')
            if not source:
                continue
            checkpoint = load_checkpoint_file(source, trust=trust)
            prefix = cfg.get('prefix')
            weights = unwrap_state_dict(checkpoint, WEIGHT_KEYS)
            if prefix:
                prefix = prefix if prefix.endswith('.') else prefix + '.'
                weights = under_prefix(weights, prefix)
            check_fit(source, weights, module, whole=False,
                      subject=f'the init_cfg checkpoint {source!r} does not fit '
                              f'{type(module).__name__}',
                      fix='Give the weights of this module (and the prefix they are under in '
                          'the checkpoint, e.g. prefix=\'backbone.\').')
            if '://' in source:
                url = resolve_url(source)
                if url.startswith(('http://', 'https://')):
                    cfg['checkpoint'] = download_to_cache(url)  # read above: cached, checked
                    if source.startswith('mmcls://') and not prefix:
                        cfg['prefix'] = 'backbone.'  # what mmengine's mmcls loader strips
