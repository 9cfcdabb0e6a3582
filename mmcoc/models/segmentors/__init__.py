from .memory_bounded import MemoryBoundedEncoderDecoder

__all__ = ['MemoryBoundedEncoderDecoder']
