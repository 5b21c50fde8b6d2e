"""Your own images end to end (llu_core.evaluation.image_folders): fit LLU on a folder and report what
the saved model scores on the images held out; classify image files with the saved model. On a
stand-in backbone (tests/cli/ runs the same on the offline model, through the command line)."""

import numpy as np
import pytest

from llu_core import embed_dataset, hold_out_shots, load_classifier, save_classifier
from llu_core.evaluation import image_folders
from llu_core.evaluation.image_folders import fit_image_folder, predict_images
from llu_core.method.defaults import GAMMA
from image_sets import write_images
from stand_in_backbones import FolderBackbone


def folder_backbone(name=None, pretrained=None, device=None):
    """The stand-in as load_backbone would return it, with the origin a saved model keeps."""
    backbone = FolderBackbone()
    backbone.origin = {"name": "folder-stand-in", "pretrained": None}
    return backbone


@pytest.fixture
def fitted(tmp_path, cache, monkeypatch):
    monkeypatch.setattr(image_folders, "load_backbone", folder_backbone)
    folder = write_images(tmp_path / "photos", {"cat": 6, "dog": 5, "horse": 7})
    result = fit_image_folder(folder, tmp_path / "model.safetensors", shots=2, seed=3, progress=False)
    return folder, result


def test_the_report_is_what_the_saved_model_scores_on_the_images_held_out(fitted):
    folder, result = fitted
    assert (result.classnames, result.shots, result.seed, result.gamma) == (["cat", "dog", "horse"], 2, 3, GAMMA)
    assert (result.n_fitted, result.n_held_out) == (3 * 2, 18 - 3 * 2)
    held_out = hold_out_shots(embed_dataset(folder_backbone(), folder, progress=False), 2, 3)
    model = load_classifier(result.model_path)
    assert result.llu == pytest.approx(100.0 * model.score(held_out.test_X, held_out.test_y, held_out.text))
    assert model.classnames_ == ["cat", "dog", "horse"] and model.backbone_["cache_key"] == FolderBackbone.cache_key
    np.testing.assert_array_equal(model.image_centre_, held_out.image_centre)
    assert set(result.statistics) >= {"median_distance_base", "mean_alpha_base"} and result.suggested_gamma > 0
    summary = result.summary()
    assert f"{result.n_held_out} held out" in summary and f"LLU {result.llu:.1f} %" in summary


def test_a_gamma_given_is_the_gamma_fitted(tmp_path, cache, monkeypatch):
    monkeypatch.setattr(image_folders, "load_backbone", folder_backbone)
    folder = write_images(tmp_path / "photos", {"cat": 3, "dog": 3})
    result = fit_image_folder(folder, tmp_path / "m.safetensors", shots=1, gamma=7.5, progress=False)
    assert result.gamma == 7.5 and load_classifier(tmp_path / "m.safetensors").gamma == 7.5
    with pytest.raises(ValueError, match="shots=3: class 'cat' has 3 image\\(s\\); it needs 4"):
        fit_image_folder(folder, tmp_path / "n.safetensors", shots=3, progress=False)
    assert not (tmp_path / "n.safetensors").exists()


def test_predictions_are_the_saved_models_most_probable_classes(fitted, tmp_path):
    folder, result = fitted
    images = sorted(folder.rglob("*.png"))[::4]
    predictions = predict_images(result.model_path, images, backbone=folder_backbone())
    model = load_classifier(result.model_path)
    data = embed_dataset(folder_backbone(), folder, centre=model.image_centre_, progress=False)
    rows = [sorted(folder.rglob("*.png")).index(image) for image in images]
    scores = model.decision_function(data.train_X[rows], data.text)
    probabilities = np.exp(scores - scores.max(axis=1, keepdims=True))
    probabilities /= probabilities.sum(axis=1, keepdims=True)
    assert [p.path for p in predictions] == [str(image) for image in images]
    assert [p.classname for p in predictions] == [model.classnames_[k] for k in scores.argmax(axis=1)]
    np.testing.assert_allclose([p.probability for p in predictions], probabilities.max(axis=1), rtol=1e-5)


def test_an_unreadable_image_is_named_and_skipped_and_a_model_without_its_classes_refused(fitted, tmp_path):
    folder, result = fitted
    (tmp_path / "broken.png").write_bytes(b"not an image")
    good = sorted(folder.rglob("*.png"))[0]
    with pytest.warns(UserWarning, match="broken.png"):
        predictions = predict_images(result.model_path, [tmp_path / "broken.png", good], backbone=folder_backbone())
    assert [p.path for p in predictions] == [str(good)]
    with pytest.warns(UserWarning), pytest.raises(ValueError, match="none of the 1 image\\(s\\) could be read"):
        predict_images(result.model_path, [tmp_path / "broken.png"], backbone=folder_backbone())
    save_classifier(load_classifier(result.model_path), tmp_path / "bare.safetensors")  # no classes, no backbone
    with pytest.raises(ValueError, match="bare.safetensors does not say which classes and backbone it is for"):
        predict_images(tmp_path / "bare.safetensors", [good], backbone=folder_backbone())
