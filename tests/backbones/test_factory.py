"""The one factory (llu_core.backbones.factory): names dispatched to the registry or to open_clip,
checked without loading anything, and the origin each backbone keeps for a saved model."""

from types import SimpleNamespace

import pytest
import torch

from llu_core.backbones import factory
from llu_core.backbones.factory import OFFLINE, check_backbone_arguments, check_backbone_name, load_backbone


@pytest.fixture
def stand_in(monkeypatch):
    """A registry of one stand-in backbone in place of the offline model; the calls it gets."""
    calls = []

    def load(pretrained, device):
        calls.append((pretrained, device))
        return SimpleNamespace(name="stand-in")

    monkeypatch.setattr(factory, "REGISTRY", {OFFLINE: load, "stand-in": load})
    return calls


def test_the_default_is_the_offline_model_loaded_by_its_registry_entry(stand_in):
    backbone = load_backbone(device="cpu")
    assert backbone.name == "stand-in" and stand_in == [(None, torch.device("cpu"))]
    assert backbone.origin == {"name": OFFLINE, "pretrained": None}


def test_the_origin_names_a_checkpoint_file_by_its_absolute_path_and_a_tag_as_given(stand_in, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "weights.pt").write_bytes(b"weights")
    assert load_backbone("stand-in", pretrained="weights.pt", device="cpu").origin["pretrained"] == str(
        tmp_path / "weights.pt")
    assert load_backbone("stand-in", pretrained="openai", device="cpu").origin == {"name": "stand-in",
                                                                                  "pretrained": "openai"}
    assert [pretrained for pretrained, _ in stand_in] == ["weights.pt", "openai"]  # the loader gets them as given


def test_a_name_outside_the_registry_is_an_open_clip_model(stand_in, monkeypatch):
    import llu_core.backbones.openclip as openclip

    created = []
    monkeypatch.setattr(openclip, "OpenCLIPBackbone",
                        lambda name, pretrained, device: created.append((name, pretrained, device)) or
                        SimpleNamespace(name=name))
    backbone = load_backbone("ViT-B-16", pretrained="openai", device="cpu")
    assert created == [("ViT-B-16", "openai", torch.device("cpu"))] and stand_in == []
    assert backbone.origin == {"name": "ViT-B-16", "pretrained": "openai"}


def test_the_offline_model_refuses_weights_and_a_missing_checkpoint_is_named_before_loading(stand_in, tmp_path):
    with pytest.raises(ValueError, match="pretrained='/nowhere/ViT.pt': the offline backbone has its own weights"):
        load_backbone(OFFLINE, pretrained="/nowhere/ViT.pt", device="cpu")
    with pytest.raises(FileNotFoundError, match="checkpoint .*missing.pt does not exist"):
        check_backbone_arguments("ViT-B-16", tmp_path / "missing.pt")
    with pytest.raises(ValueError, match="is a directory"):
        check_backbone_arguments("ViT-B-16", tmp_path)
    with pytest.raises(ValueError, match="open_clip has no pretrained tag 'no-such-tag' for ViT-B-16"):
        check_backbone_arguments("ViT-B-16", "no-such-tag")
    check_backbone_arguments("ViT-B-16", "openai")
    check_backbone_arguments(OFFLINE)
    assert stand_in == []  # nothing was loaded


def test_a_backbone_name_is_checked_without_loading_anything(stand_in):
    check_backbone_name(OFFLINE)
    check_backbone_name("ViT-B-16")
    with pytest.raises(ValueError, match="unknown backbone 'ViT-B-99': use 'offline' or one of open_clip's [0-9]+ "
                                         "models \\(open_clip.list_models\\(\\) lists them\\); the closest: .*ViT-B-16"):
        check_backbone_name("ViT-B-99")
    assert stand_in == []


def test_a_device_the_machine_lacks_is_refused_before_loading(stand_in):
    with pytest.raises(ValueError, match="device 'cuda:99' is not available"):
        load_backbone(device="cuda:99")
    assert stand_in == []
