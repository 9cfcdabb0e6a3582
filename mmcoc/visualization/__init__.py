"""Cluster maps of clustering backbones, drawn from the models' real forward passes."""
from .clusters import (ClusterSite, ImageError, add_caption, clusters_in_view, draw_cluster_map,
                       find_cluster_sites, palette, read_image, record_assignments,
                       resize_longer_side, safe_name, select_site, tile_grid)
from .inference import (RANDOM_INIT, ClusterMaps, LoadedModel, Prediction, cluster_maps,
                        load_model, maps_from_inputs, predict)

__all__ = ['ClusterMaps', 'ClusterSite', 'ImageError', 'LoadedModel', 'Prediction', 'RANDOM_INIT',
           'add_caption', 'cluster_maps', 'clusters_in_view', 'draw_cluster_map',
           'find_cluster_sites', 'load_model', 'maps_from_inputs', 'palette', 'predict',
           'read_image', 'record_assignments', 'resize_longer_side', 'safe_name', 'select_site',
           'tile_grid']
