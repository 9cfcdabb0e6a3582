"""Load a config's model with its weights in its own registry scope, predict, and collect its
cluster maps (as ``mmdet.apis`` and ``mmseg.apis`` do for their models)."""
from .inference import RANDOM_INIT, LoadedModel, Prediction, cluster_maps, load_model, predict

__all__ = ['LoadedModel', 'Prediction', 'RANDOM_INIT', 'cluster_maps', 'load_model', 'predict']
