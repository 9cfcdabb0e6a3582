"""Cluster maps of clustering backbones, recorded from the models' real forward passes and
drawn over the image. Loading a model from a config and checkpoint lives in ``mmcoc.apis``."""
from .cluster_maps import ClusterMaps, loader_layout, maps_from_inputs
from .clusters import (
    ClusterSite,
    ImageError,
    add_caption,
    clusters_in_view,
    draw_cluster_map,
    find_cluster_sites,
    palette,
    read_image,
    record_assignments,
    resize_longer_side,
    safe_name,
    select_site,
    tile_grid,
)

__all__ = ['ClusterMaps', 'ClusterSite', 'ImageError', 'add_caption', 'clusters_in_view',
           'draw_cluster_map', 'find_cluster_sites', 'loader_layout', 'maps_from_inputs',
           'palette', 'read_image', 'record_assignments', 'resize_longer_side', 'safe_name',
           'select_site', 'tile_grid']
