"""open_clip's models as backbones (llu_core.backbones.openclip), on a tiny real open_clip model:
encoding, seeded random weights, local checkpoints, and what to do when weights are missing."""

import json

import pytest
import torch
from PIL import Image
from safetensors.torch import save_file

from llu_core import load_backbone
from our_errors import assert_raises_ours, our_error_cases
from stand_in_backbones import TINY_OPEN_CLIP


@pytest.fixture(scope="module")
def tiny_model_name(tmp_path_factory):
    """Register a tiny open_clip configuration (a real open_clip model, just small)."""
    import open_clip

    config = tmp_path_factory.mktemp("open_clip") / "llu-tiny-test.json"
    config.write_text(json.dumps(TINY_OPEN_CLIP))
    open_clip.add_model_config(config)
    return "llu-tiny-test"


def test_open_clip_model_runs_end_to_end(tiny_model_name):
    with pytest.warns(UserWarning, match="random weights"):
        backbone = load_backbone(tiny_model_name, device="cpu")
    images = torch.stack([backbone.preprocess(Image.new("RGB", (48, 40), colour)) for colour in ("red", "blue")])
    features = backbone.encode_image(images)
    assert features.shape == (2, 16) and torch.isfinite(features).all()
    text = backbone.encode_text(["cat", "dog", "car"], ["a photo of a {}.", "a {}."])
    assert text.shape == (3, 16)
    assert torch.allclose(text.norm(dim=1), torch.ones(3), atol=1e-5)
    assert backbone.logit_scale == pytest.approx(1 / 0.07, rel=1e-4)  # open_clip's initial temperature
    assert backbone.centre_images is False


def test_random_weights_are_reproducible(tiny_model_name):
    with pytest.warns(UserWarning):
        first, second = load_backbone(tiny_model_name, device="cpu"), load_backbone(tiny_model_name, device="cpu")
    assert first.cache_key == second.cache_key
    assert torch.equal(first.encode_text(["cat"], ["{}"]), second.encode_text(["cat"], ["{}"]))


def test_local_checkpoint_file_loads_its_weights(tiny_model_name, tmp_path):
    with pytest.warns(UserWarning):
        original = load_backbone(tiny_model_name, device="cpu")
    state = {name: value + 0.01 for name, value in original.model.state_dict().items()}
    checkpoint = tmp_path / "tiny.safetensors"
    save_file({name: value.contiguous() for name, value in state.items()}, str(checkpoint))
    loaded = load_backbone(tiny_model_name, pretrained=checkpoint, device="cpu")
    assert loaded.cache_key != original.cache_key and "file-" in loaded.cache_key
    assert torch.equal(loaded.model.state_dict()["text_projection"], state["text_projection"])


def test_bad_names_and_missing_weights_say_what_to_do(tiny_model_name, tmp_path, monkeypatch):
    with pytest.raises(ValueError, match="ViT-B-16"):
        load_backbone("ViT-B-17")
    with pytest.raises(ValueError, match="known tags: .*openai"):
        load_backbone("ViT-B-16", pretrained="no-such-tag")
    with pytest.raises(FileNotFoundError, match="does not exist"):
        load_backbone(tiny_model_name, pretrained=tmp_path / "missing.pt")
    # A known tag whose weights are neither cached nor downloadable here.
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("HF_HOME", str(tmp_path / "hf"))
    with pytest.raises(RuntimeError, match="pretrained='/path/to/RN50.pt'"):
        load_backbone("RN50", pretrained="openai", device="cpu")


# --- A checkpoint that is not one is refused, naming the file -------------------------------------


def _tiny_open_clip(tmp):
    import open_clip

    config = tmp / "llu-tiny-reliability.json"
    config.write_text(json.dumps(TINY_OPEN_CLIP))
    open_clip.add_model_config(config)
    return "llu-tiny-reliability"


def _text_checkpoint(tmp):
    (tmp / "weights.pt").write_text("these are not weights\n")
    return load_backbone(_tiny_open_clip(tmp), pretrained=tmp / "weights.pt", device="cpu")


BAD_INPUT = [
    ("directory as checkpoint", lambda tmp: load_backbone("RN50", pretrained=tmp, device="cpu"), ValueError,
     "checkpoint {tmp} is a directory"),
    ("text file as checkpoint", _text_checkpoint, ValueError, "checkpoint {tmp}/weights.pt cannot be loaded"),
]


@our_error_cases(BAD_INPUT)
def test_bad_input_raises_our_error_naming_the_argument_or_file(call, error, message, tmp_path, cache):
    assert_raises_ours(call, error, message, tmp_path)
