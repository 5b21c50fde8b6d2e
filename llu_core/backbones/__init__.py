"""Image-text backbones behind one factory, :func:`load_backbone`: open_clip's models and the offline model.

The offline model (:mod:`llu_core.backbones.offline`) and open_clip (:mod:`llu_core.backbones.openclip`)
load their packages only when they are asked for; :mod:`llu_core.backbones.prompt_towers` holds
their text towers with learned context, through which prompt learners train.
"""

from .factory import OFFLINE, REGISTRY, load_backbone

__all__ = ["OFFLINE", "REGISTRY", "load_backbone"]
