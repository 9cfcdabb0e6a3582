"""Load a config's model with its weights in its own registry scope, predict, and collect its
cluster maps (as ``mmdet.apis`` and ``mmseg.apis`` do for their models)."""
from .inference import (
    MAX_ASPECT,
    RANDOM_INIT,
    LoadedModel,
    Prediction,
    check_image,
    cluster_maps,
    load_model,
    predict,
    predict_folder,
)

__all__ = ['LoadedModel', 'MAX_ASPECT', 'Prediction', 'RANDOM_INIT', 'check_image',
           'cluster_maps', 'load_model', 'predict', 'predict_folder']
