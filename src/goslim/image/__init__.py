"""The image stage: a ``Binary`` and its ``BinaryReport`` on a base -> ``AssembledImage``.

``assemble(binary, report, base_spec, options)`` is what the pipeline calls; ``compare``
builds the same binary on several bases and measures each.
"""

from goslim.image.assemble import AssembledImage, EntrypointCollisionError, assemble, resolve_base
from goslim.image.inspect import ImageStats, LayerStats, image_stats
from goslim.image.options import DEFAULT_APP_DIR, ImageOptions

__all__ = [
    "DEFAULT_APP_DIR",
    "AssembledImage",
    "EntrypointCollisionError",
    "ImageOptions",
    "ImageStats",
    "LayerStats",
    "assemble",
    "image_stats",
    "resolve_base",
]
