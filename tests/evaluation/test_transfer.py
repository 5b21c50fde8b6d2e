"""The transfer protocols (cross-dataset, Table 2; domain generalisation, Table 3) on synthetic
embeddings and a tiny ImageNet: what each scores, the records the tables read, and targets refused
when they cannot be scored."""

from types import SimpleNamespace

import numpy as np
import pytest
from PIL import Image

from llu_core import LLUClassifier, TipAdapterClassifier, ZeroShotClassifier
from llu_core.data.embedded import embed_dataset, embed_target
from llu_core.estimators.prompt_learners import CoOpClassifier
from llu_core.evaluation.summary import add_average, summarise
from llu_core.evaluation.transfer import check_target, fit_on_source, gains_over_zero_shot, run_transfer, score_target
from llu_core.report.labels import METHOD_LABELS
from llu_core.report.tables import TRANSFER_COLUMNS as COLUMNS
from llu_core.report.tables import format_table_2, format_table_3, records_to_csv
from our_errors import assert_raises_ours, our_error_cases
from stand_in_backbones import CentringBackbone
from synthetic import small_problem, unit_rows

X, y, T = small_problem()


DIM, N_CLASSES = 32, 5


def _images(rng, directions, labels, noise):
    return unit_rows(directions[labels] + noise * rng.normal(size=(len(labels), directions.shape[1])) / np.sqrt(DIM))


def make_source(seed=0):
    """Classes in the first half of the coordinates; images lean towards the next class's text,
    so zero-shot errs and fitting has something to learn."""
    rng = np.random.default_rng(seed)
    text = np.zeros((N_CLASSES, DIM), dtype=np.float32)
    text[:, :DIM // 2] = rng.normal(size=(N_CLASSES, DIM // 2))
    text = unit_rows(text)
    directions = unit_rows(0.5 * text + 0.6 * np.roll(text, 1, axis=0))
    train_y, test_y = np.repeat(np.arange(N_CLASSES), 20), np.repeat(np.arange(N_CLASSES), 30)
    return SimpleNamespace(name="source", train_X=_images(rng, directions, train_y, 0.3), train_y=train_y,
                           test_X=_images(rng, directions, test_y, 0.3), test_y=test_y, text=text,
                           classnames=[f"class {c}" for c in range(N_CLASSES)], directions=directions)


def far_target(seed=1, n_classes=4):
    """Another data set: its classes and images live in the other half of the coordinates."""
    rng = np.random.default_rng(seed)
    text = np.zeros((n_classes, DIM), dtype=np.float32)
    text[:, DIM // 2:] = rng.normal(size=(n_classes, DIM // 2))
    text = unit_rows(text)
    test_y = np.repeat(np.arange(n_classes), 25)
    test_X = unit_rows(text[test_y] + 1.5 * rng.normal(size=(len(test_y), DIM)) * (np.arange(DIM) >= DIM // 2)
                       / np.sqrt(DIM))
    return SimpleNamespace(name="far", test_X=test_X, test_y=test_y, text=text,
                           classnames=[f"far {c}" for c in range(n_classes)])


def shifted_subset(source, classes=(0, 2, 3), seed=2):
    """The source's classes ``classes`` in a noisier domain: a domain-generalisation target."""
    rng = np.random.default_rng(seed)
    classes = np.asarray(classes)
    test_y = np.repeat(np.arange(len(classes)), 30)
    return SimpleNamespace(name="shifted", test_X=_images(rng, source.directions[classes], test_y, 0.6),
                           test_y=test_y, text=source.text[classes],
                           classnames=[source.classnames[c] for c in classes])


@pytest.fixture(scope="module")
def source():
    return make_source()


# --- What each protocol scores --------------------------------------------------------------------


def test_llu_scores_a_far_target_exactly_like_zero_shot_when_alpha_underflows(source):
    target = far_target()
    fit = {name: fit_on_source(estimator, source.train_X, source.train_y, source.text, shots=8, seed=1)
           for name, estimator in (("zero_shot", ZeroShotClassifier()),
                                   ("llu", LLUClassifier(gamma=1e4, lam=0.0, epochs=20, n_clusters=None)),
                                   ("no_mask", LLUClassifier(gamma=1e4, lam=0.0, epochs=20, n_clusters=None,
                                                             mask="global")))}
    on_source, on_target = ({name: score_target(model, data) for name, model in fit.items()}
                            for data in (source, target))
    # The fit changed the model where it was trained...
    assert on_source["llu"]["accuracy"] > on_source["zero_shot"]["accuracy"] + 20
    # ... and left it zero-shot far away: α underflows to exactly 0 on both sides.
    assert on_target["llu"]["mean_alpha"] == 0.0 and on_target["llu"]["mean_alpha_text"] == 0.0
    assert on_target["llu"]["accuracy"] == on_target["zero_shot"]["accuracy"]
    reference = fit["zero_shot"].decision_function(target.test_X, target.text)
    np.testing.assert_allclose(fit["llu"].decision_function(target.test_X, target.text), reference, atol=1e-4)
    np.testing.assert_array_equal(fit["llu"].predict(target.test_X, target.text),
                                  fit["zero_shot"].predict(target.test_X, target.text))
    # Without the mask, α = β everywhere and the update reaches the far target's scores.
    assert on_target["no_mask"]["mean_alpha"] == pytest.approx(0.5)
    assert np.abs(fit["no_mask"].decision_function(target.test_X, target.text) - reference).max() > 1.0


def test_domain_generalisation_scores_a_class_subset_against_that_subset_only(source):
    target = shifted_subset(source)
    methods = {"tip_adapter": TipAdapterClassifier(alpha=5.0), "llu": LLUClassifier(epochs=3)}
    records = run_transfer(methods, source, domain_generalisation=[target], shots=[4], seeds=[1], progress=False)
    models = {name: fit_on_source(estimator, source.train_X, source.train_y, source.text, 4, 1)
              for name, estimator in methods.items()}
    for method, model in models.items():
        record = next(r for r in records if r["method"] == method and r["dataset"] == "shifted")
        assert record["protocol"] == "domain_generalisation"
        assert record["accuracy"] == pytest.approx(100 * model.score(target.test_X, target.test_y, target.text))
        assert model.decision_function(target.test_X, target.text).shape == (len(target.test_y), 3)
    # Tip-Adapter recognises the subset's classes as trained ones: its cache acts there.
    zero_shot = ZeroShotClassifier().fit(source.train_X, source.train_y, source.text)
    assert not np.allclose(models["tip_adapter"].decision_function(target.test_X, target.text),
                           zero_shot.decision_function(target.test_X, target.text))


def test_imagenet_a_is_scored_against_its_own_classes_after_fitting_on_imagenet(tmp_path, monkeypatch):
    """End to end on a tiny ImageNet (6 classes) and ImageNet-A (3 of them): the target's text
    rows are the source's rows of its classes, so domain generalisation accepts it, and every
    score is over the 3 classes."""
    monkeypatch.setenv("LLU_CACHE_DIR", str(tmp_path / "cache"))
    rng = np.random.default_rng(0)
    wnids = [f"n0{k}" for k in range(6)]
    names = "".join(f"{wnid} thing {k}\n" for k, wnid in enumerate(wnids))

    def tree(folder, classes, per_class):
        for k in classes:
            (folder / wnids[k]).mkdir(parents=True)
            for i in range(per_class):
                pixels = np.clip(rng.normal(40 * k, 30, size=(8, 8, 3)), 0, 255).astype(np.uint8)
                Image.fromarray(pixels).save(folder / wnids[k] / f"{i}.png")

    (tmp_path / "imagenet").mkdir()
    (tmp_path / "imagenet" / "classnames.txt").write_text(names)
    tree(tmp_path / "imagenet" / "images" / "train", range(6), 4)
    tree(tmp_path / "imagenet" / "images" / "val", range(6), 2)
    tree(tmp_path / "imagenet-adversarial" / "imagenet-a", (4, 1, 3), 3)
    backbone = CentringBackbone()
    source = embed_dataset(backbone, "imagenet", root=tmp_path, progress=False)
    target = embed_target(backbone, "imagenet_a", source.image_centre, root=tmp_path, progress=False)
    assert target.classnames == ["thing 1", "thing 3", "thing 4"]
    assert target.test_y.tolist() == [0, 0, 0, 1, 1, 1, 2, 2, 2]
    np.testing.assert_allclose(target.text, source.text[[1, 3, 4]], atol=1e-6)
    records = run_transfer({"zero_shot": ZeroShotClassifier(), "tip_adapter": TipAdapterClassifier()}, source,
                           domain_generalisation=[target], shots=[2], seeds=[1], progress=False)
    model = fit_on_source(TipAdapterClassifier(), source.train_X, source.train_y, source.text, 2, 1)
    record = next(r for r in records if (r["method"], r["dataset"]) == ("tip_adapter", "imagenet_a"))
    predicted = model.predict(target.test_X, target.text)
    assert predicted.max() <= 2 and record["accuracy"] == pytest.approx(100 * np.mean(predicted == target.test_y))


def test_a_prompt_learner_in_run_transfer_gets_its_class_texts(offline_cifar10):
    data = offline_cifar10
    target = SimpleNamespace(name="cifar10 again", test_X=data.test_X, test_y=data.test_y, text=data.text)
    records = run_transfer({"coop": CoOpClassifier(epochs=1)}, data, cross_dataset=[target], shots=[1], seeds=[1],
                           progress=False)  # before: "T must be a ClassTexts ..., got ndarray"
    assert [record["dataset"] for record in records] == ["cifar10", "cifar10 again"]
    assert records[0]["accuracy"] == records[1]["accuracy"]


# --- The records and the models scored ------------------------------------------------------------


def test_records_have_the_fields_the_tables_need(source):
    methods = {"zero_shot": ZeroShotClassifier(), "llu": LLUClassifier(epochs=3)}
    targets = [far_target(1), far_target(3, n_classes=3)]
    targets[1].name = "far_b"
    records = run_transfer(methods, source, cross_dataset=targets, domain_generalisation=[shifted_subset(source)],
                           shots=[2, 4], seeds=[1, 2], progress=False)
    assert len(records) == 2 * 2 * 2 * 4  # shots × seeds × methods × (source + 3 targets)
    assert {r["protocol"] for r in records} == {"source", "cross_dataset", "domain_generalisation"}
    for record in records:
        expected = COLUMNS if record["method"] == "llu" else COLUMNS[:7]  # α and distance: LLU models only
        assert set(record) == set(expected)
        assert record["source"] == "source" and 0.0 <= record["accuracy"] <= 100.0
        if record["method"] == "llu":
            assert 0.0 <= record["mean_alpha"] <= 0.5 and 0.0 <= record["mean_alpha_text"] <= 0.5
    # LLU's α is largest on the source's own test images, near D.
    llu = {r["dataset"]: r["mean_alpha"] for r in records if (r["method"], r["shots"], r["seed"]) == ("llu", 4, 1)}
    assert llu["source"] > max(llu["far"], llu["far_b"])
    assert records_to_csv(records, leading=COLUMNS).splitlines()[0] == ",".join(COLUMNS)

    extended = add_average(records, where={"protocol": "cross_dataset"})
    averages = [r for r in extended if r["dataset"] == "average"]
    assert len(averages) == 2 * 2 * 2 and all(r["protocol"] == "cross_dataset" for r in averages)
    one = next(r for r in averages if (r["method"], r["shots"], r["seed"]) == ("llu", 4, 2))
    parts = [r for r in records
             if (r["method"], r["shots"], r["seed"], r["protocol"]) == ("llu", 4, 2, "cross_dataset")]
    assert one["accuracy"] == pytest.approx(np.mean([r["accuracy"] for r in parts]))
    summary = summarise(extended)
    row = next(r for r in summary if (r["method"], r["dataset"], r["shots"]) == ("llu", "far", 2))
    seeds = [r["accuracy"] for r in records if (r["method"], r["dataset"], r["shots"]) == ("llu", "far", 2)]
    assert row["n_seeds"] == 2 and row["accuracy_mean"] == pytest.approx(np.mean(seeds))
    assert row["accuracy_std"] == pytest.approx(np.std(seeds)) and "mean_alpha_mean" in row

    table = format_table_2(summary, shots=4)
    lines = table.splitlines()
    assert lines[2].split("|")[1:-1] == [" Method ", " source (source) ", " far ", " far_b ", " Average "]
    assert [line.split("|")[1].strip() for line in lines[4:]] == [
        METHOD_LABELS["zero_shot"], "LLU", "mean α of the test images (LLU)", "mean α of the class texts (LLU)"]
    assert "paper" not in table and "shifted" not in table
    table = format_table_3(summary, shots=2)
    assert " shifted " in table and " far " not in table and "Average" not in table

    gains = gains_over_zero_shot(summary, shots=4)
    assert {g["method"] for g in gains} == {"llu"} and {g["dataset"] for g in gains} == {"source", "far", "far_b",
                                                                                           "shifted"}
    zero = next(r for r in summary if (r["method"], r["dataset"], r["shots"]) == ("zero_shot", "far", 4))
    far = next(g for g in gains if g["dataset"] == "far")
    assert far["gain"] == pytest.approx(row_of(summary, "llu", "far", 4)["accuracy_mean"] - zero["accuracy_mean"])
    assert far["alpha"] == row_of(summary, "llu", "far", 4)["mean_alpha_mean"]


def row_of(summary, method, dataset, shots):
    return next(r for r in summary if (r["method"], r["dataset"], r["shots"]) == (method, dataset, shots))


def test_run_transfer_returns_the_models_it_scored(source):
    methods = {"zero_shot": ZeroShotClassifier(), "llu": LLUClassifier(epochs=2)}
    target = far_target(1)
    records, models = run_transfer(methods, source, cross_dataset=[target], shots=[2], seeds=[1, 2], progress=False,
                                   return_models=True)
    assert set(models) == {(name, 2, seed) for name in methods for seed in (1, 2)}
    assert records == run_transfer(methods, source, cross_dataset=[target], shots=[2], seeds=[1, 2], progress=False)
    for record in records:
        model = models[record["method"], record["shots"], record["seed"]]
        data = source if record["dataset"] == "source" else target
        assert record["accuracy"] == pytest.approx(100.0 * model.score(data.test_X, data.test_y, data.text))


# --- A target that cannot be scored is refused, naming it -----------------------------------------


def test_bad_targets_raise_value_errors(source):
    methods = {"zero_shot": ZeroShotClassifier()}
    narrow = SimpleNamespace(name="narrow", test_X=unit_rows(np.ones((4, DIM // 2))), test_y=np.zeros(4, dtype=int),
                             text=unit_rows(np.ones((2, DIM // 2))))
    with pytest.raises(ValueError, match="'narrow' has test_X of embedding dimension 16.*source 'source' has 32"):
        run_transfer(methods, source, cross_dataset=[narrow], shots=[2], seeds=[1], progress=False)
    with pytest.raises(ValueError, match=r"1 class\(es\) of 'far'.*far 0"):
        check_target(source, far_target(n_classes=1), "domain_generalisation")
    check_target(source, far_target(), "cross_dataset")  # other classes are what cross-dataset is for
    centred = SimpleNamespace(**vars(source), image_centre=np.zeros(DIM, dtype=np.float32))
    with pytest.raises(ValueError, match="centred by another image centre than the source 'source'.*embed_target"):
        check_target(centred, SimpleNamespace(**vars(far_target()), image_centre=np.ones(DIM)), "cross_dataset")
    check_target(centred, SimpleNamespace(**vars(far_target()), image_centre=np.zeros(DIM)), "cross_dataset")
    with pytest.raises(ValueError, match="protocol must be one of"):
        check_target(source, far_target(), "source")
    with pytest.raises(ValueError, match="at least one method, target"):
        run_transfer(methods, source, shots=[2], seeds=[1], progress=False)


def _transfer_target(tmp, **changes):
    target = SimpleNamespace(name="dtd", test_X=X[:4], test_y=np.array([0, 1, 2, 0]), text=T)
    source = SimpleNamespace(name="cifar10", train_X=X, train_y=y, test_X=X, test_y=y, text=T)
    targets = changes.pop("targets", None) or [SimpleNamespace(**{**vars(target), **changes})]
    return run_transfer({"zero_shot": ZeroShotClassifier()}, source, cross_dataset=targets, shots=[1], seeds=[1],
                        progress=False)


BAD_INPUT = [
    ("empty transfer target", lambda tmp: _transfer_target(tmp, test_X=X[:0], test_y=y[:0]), ValueError,
     r"^target 'dtd' test_X is empty"),
    ("non-finite transfer target", lambda tmp: _transfer_target(tmp, test_X=np.where(X[:4] > 0.5, np.nan, X[:4])),
     ValueError, r"^target 'dtd' test_X has \d row\(s\) with NaN"),
    ("mislabelled transfer target", lambda tmp: _transfer_target(tmp, test_y=np.array([0, 1, 2, 5])), ValueError,
     r"^target 'dtd' test_y has labels outside the rows of T: \[5\]"),
    ("a transfer target listed twice", lambda tmp: _transfer_target(tmp, targets=[
        SimpleNamespace(name="dtd", test_X=X[:4], test_y=y[:4], text=T)] * 2), ValueError,
     r"^targets \['dtd'\] are listed more than once"),
]


@our_error_cases(BAD_INPUT)
def test_bad_input_raises_our_error_naming_the_argument_or_file(call, error, message, tmp_path, cache):
    assert_raises_ours(call, error, message, tmp_path)
