"""Stand-ins for a backbone in the tests: no weights to download, numbers known in advance."""

import numpy as np
import torch

#: A tiny open_clip model configuration: a real open_clip model, small enough to build in a second.
TINY_OPEN_CLIP = {"embed_dim": 16,
                  "vision_cfg": {"image_size": 32, "layers": 1, "width": 32, "head_width": 16, "patch_size": 8},
                  "text_cfg": {"context_length": 77, "vocab_size": 49408, "width": 32, "heads": 2, "layers": 1}}


class CountingBackbone:
    """A deterministic stand-in backbone that counts the images and prompts it encodes."""

    centre_images = False
    logit_scale = 100.0
    name = "counting"

    def __init__(self, cache_key="counting-v1"):
        self.cache_key = cache_key
        self.images_seen = 0
        self.texts_seen = 0

    @staticmethod
    def preprocess(image):
        return torch.from_numpy(np.asarray(image, dtype=np.float32)).permute(2, 0, 1) / 255.0

    def encode_image(self, images):
        self.images_seen += len(images)
        return images.flatten(1)[:, :8] + images.mean(dim=(1, 2, 3))[:, None]

    def encode_text(self, classnames, templates):
        self.texts_seen += len(classnames)
        rows = torch.tensor([[len(name), len(templates), 1.0] for name in classnames])
        return torch.nn.functional.normalize(rows, dim=1)


class FolderBackbone:
    """A deterministic backbone for image folders: images of any size (resized to 8 x 6), 16 features,
    the images it encodes counted."""

    centre_images = False
    logit_scale = 100.0
    name = "toy"
    cache_key = "toy-v1"

    def __init__(self):
        self.images_seen = 0

    @staticmethod
    def preprocess(image):
        return torch.from_numpy(np.asarray(image.resize((8, 6)), dtype=np.float32)).permute(2, 0, 1) / 255.0

    def encode_image(self, images):
        self.images_seen += len(images)
        return images.flatten(1)[:, :16] + 0.1

    @staticmethod
    def embed_images(features, centre):
        return torch.nn.functional.normalize(features - centre, dim=1)

    @staticmethod
    def encode_text(classnames, templates):
        rows = torch.tensor([[len(name), sum(map(ord, name)) % 7, 1.0] + [0.0] * 13 for name in classnames])
        return torch.nn.functional.normalize(rows, dim=1)

    @staticmethod
    def context_tower():
        return None


class CentringBackbone:
    """A deterministic stand-in backbone: 6 raw features per image, centring like the offline model."""

    centre_images = True
    logit_scale = 100.0
    name = cache_key = "tiny-transfer-v1"

    @staticmethod
    def preprocess(image):
        return torch.from_numpy(np.asarray(image, dtype=np.float32)).permute(2, 0, 1) / 255.0

    def encode_image(self, images):
        return torch.cat([images.mean(dim=(2, 3)), images.std(dim=(2, 3))], dim=1) + 1.0

    @staticmethod
    def embed_images(features, centre):
        """A toy cone: backbones may embed centred features otherwise than by normalising them."""
        return torch.nn.functional.normalize(features - centre + 0.5, dim=1)

    def encode_text(self, classnames, templates):
        rows = torch.tensor([[len(name), 1.0, float(sum(map(ord, name)) % 7), 0.0, 1.0, float(sum(map(ord, name)) % 97)]
                             for name in classnames])  # distinct classes, distinct rows
        return torch.nn.functional.normalize(rows, dim=1)

    @staticmethod
    def context_tower():
        return None  # no text tower for prompt learners
