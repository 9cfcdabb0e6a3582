from .fpn_head import StableResizeFPNHead

__all__ = ['StableResizeFPNHead']
