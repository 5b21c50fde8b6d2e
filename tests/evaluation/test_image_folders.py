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


def test_a_class_held_out_of_the_fit_is_scored_as_a_new_class_among_all(tmp_path, cache, monkeypatch):
    monkeypatch.setattr(image_folders, "load_backbone", folder_backbone)
    folder = write_images(tmp_path / "photos", {"cat": 6, "dog": 5, "horse": 7})
    result = fit_image_folder(folder, tmp_path / "m.safetensors", shots=2, seed=3, progress=False,
                              hold_out_classes=["horse"])
    assert (result.classnames, result.held_out_classes, result.n_new) == (["cat", "dog"], ["horse"], 7)
    assert (result.n_fitted, result.n_held_out) == (4, 11 - 4)
    model = load_classifier(result.model_path)
    assert model.classnames_ == ["cat", "dog"]
    pool = embed_dataset(folder_backbone(), folder, progress=False)  # labels: cat 0, dog 1, horse 2: the same order
    horse = pool.train_y == 2
    assert result.llu_new == pytest.approx(100.0 * model.score(pool.train_X[horse], pool.train_y[horse], pool.text))
    trained = hold_out_shots(embed_dataset(folder_backbone(), folder, progress=False), 2, 3)
    kept = trained.test_y != 2
    assert result.llu == pytest.approx(100.0 * model.score(trained.test_X[kept], trained.test_y[kept], pool.text))
    summary = result.summary()
    assert "held out of the fit: 1 class (horse), 7 images" in summary and "(scored among all 3 classes)" in summary
    assert f"LLU {result.llu_new:.1f} %" in summary


def test_predict_scores_new_classes_named_at_prediction_time(fitted):
    folder, result = fitted
    images = sorted(folder.rglob("*.png"))[::3]
    model = load_classifier(result.model_path)
    names = [*model.classnames_, "giraffe", "okapi"]
    predictions = predict_images(result.model_path, images, backbone=folder_backbone(), classes=names[3:])
    data = embed_dataset(folder_backbone(), folder, centre=model.image_centre_, progress=False)
    T = FolderBackbone.encode_text(names, model.templates_).numpy()
    rows = [sorted(folder.rglob("*.png")).index(image) for image in images]
    scores = model.decision_function(data.train_X[rows], T)
    assert [p.classname for p in predictions] == [names[k] for k in scores.argmax(axis=1)]
    probabilities = np.exp(scores - scores.max(axis=1, keepdims=True))
    np.testing.assert_allclose([p.probability for p in predictions],
                               (probabilities / probabilities.sum(axis=1, keepdims=True)).max(axis=1), rtol=1e-5)


@pytest.mark.parametrize("classes, message", [
    ("zebra", "classes must be a list of class names, got 'zebra'"),
    (["cat"], "classes: 'cat' is already a class of the model"),
    (["zebra", "zebra"], "classes: 'zebra' is named twice"),
    ([None], "classes: item 0 \\(None\\) is not a class name"),
])
def test_new_classes_that_cannot_be_scored_are_refused(fitted, classes, message):
    folder, result = fitted
    with pytest.raises(ValueError, match=message):
        predict_images(result.model_path, sorted(folder.rglob("*.png"))[:1], backbone=folder_backbone(), classes=classes)


def test_a_model_that_scores_only_its_own_classes_takes_no_new_ones(fitted, tmp_path):
    from llu_core import LinearProbeClassifier

    folder, result = fitted
    data = hold_out_shots(embed_dataset(folder_backbone(), folder, progress=False), 2, 3)
    probe = LinearProbeClassifier().fit(data.train_X, data.train_y, data.text)
    save_classifier(probe, tmp_path / "probe.safetensors", image_centre=data.image_centre, classnames=data.classnames,
                    templates=data.templates, backbone=folder_backbone())
    with pytest.raises(ValueError, match="holds a LinearProbeClassifier, which scores only the classes it was fitted"):
        predict_images(tmp_path / "probe.safetensors", sorted(folder.rglob("*.png"))[:1], backbone=folder_backbone(),
                       classes=["zebra"])


@pytest.mark.parametrize("arguments, error, message", [
    ({"out": "model.pt"}, ValueError, "out .*model.pt must name a .safetensors file"),
    ({"gamma": "a"}, ValueError, "gamma must be a finite number, got .a."),
    ({"seed": None}, ValueError, "seed"),
    ({"pretrained": "/nowhere.pt"}, ValueError, "the offline backbone has its own weights"),
    ({"hold_out_classes": "cat"}, ValueError, "hold_out_classes must be a list of class names"),
    ({"hold_out_classes": ["cat", "cat"]}, ValueError, "hold_out_classes names class 'cat' twice"),
    ({"folder": None}, ValueError, "folder must be the path of a folder"),
])
def test_every_argument_is_checked_before_a_backbone_loads(tmp_path, monkeypatch, arguments, error, message):
    monkeypatch.setattr(image_folders, "load_backbone", lambda *a, **k: pytest.fail("a backbone was loaded"))
    folder = write_images(tmp_path / "photos", {"cat": 3, "dog": 3, "horse": 3})
    arguments = {"folder": folder, "out": tmp_path / "m.safetensors", "shots": 1, **arguments}
    if arguments["out"] == "model.pt":
        arguments["out"] = tmp_path / "model.pt"
    with pytest.raises(error, match=message):
        fit_image_folder(progress=False, **arguments)
