"""The clusters web demo (``python -m mmcoc.demo``; needs the ``demo`` extra, Gradio)."""
