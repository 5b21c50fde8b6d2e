"""What each chapter's prose claims, as checks on the results JSON the chapter writes.

Every qualitative sentence of a chapter (a number it quotes comes from `glue` and cannot
disagree) is asserted here, so that a build whose numbers contradict its prose fails. Each
check is run twice: on the papermill runs of tests/test_notebooks.py (small parameters) and
on the results of the book build itself (tests/test_book.py, default parameters).
"""

import math

import pytest


def by_method(records, **where):
    return {r["method"]: r for r in records if all(r[key] == value for key, value in where.items())}


def summary_by_method(summary, **where):
    return {r["method"]: r for r in summary if all(r[key] == value for key, value in where.items())}


def check_local_mask(result, strict=True):
    """Chapter 4. ``strict``: the default build, where the issue's 3× separation must hold."""
    geometry, view, sweep, zero_shot = result["geometry"], result["view"], result["sweep"], result["zero_shot"]
    # "there the mask has something to separate": new-class test images lie farther from D.
    assert geometry["median_distance_new"] > geometry["median_distance_base"]
    # "a share of the update ... times smaller"; "No α exceeds β".
    assert view["mean_alpha_new"] < view["mean_alpha_base"] <= view["beta"]
    if strict:
        assert view["mean_alpha_base"] >= 3.0 * view["mean_alpha_new"]
    # "At γ = 0 every image ... gets the same weight β."
    assert sweep[0]["gamma"] == 0.0
    assert sweep[0]["mean_alpha_base"] == pytest.approx(view["beta"])
    assert sweep[0]["mean_alpha_new"] == pytest.approx(view["beta"])
    # "As γ grows, the weight of both groups decays, that of new-class images faster."
    for before, after in zip(sweep, sweep[1:]):
        assert after["mean_alpha_base"] < before["mean_alpha_base"]
        assert after["mean_alpha_new"] < before["mean_alpha_new"]
        assert (after["mean_alpha_base"] / after["mean_alpha_new"]
                >= before["mean_alpha_base"] / before["mean_alpha_new"] - 1e-6)
    last = sweep[-1]
    # "At the largest γ no test image is updated any more, and the new-class accuracy is zero-shot's."
    assert last["mean_alpha_base"] < 1e-3
    assert last["new"] == pytest.approx(zero_shot["new"], abs=0.5)
    # "The base-class accuracy falls ... but it stays far above zero-shot's."
    assert last["base"] <= sweep[0]["base"]
    assert last["base"] > zero_shot["base"] + 5.0


def check_zero_shot(result):
    """Chapter 1."""
    accuracy = result["accuracy"]
    for prompts in accuracy.values():
        assert set(prompts) == {"class name only", "data set template", "7-template ensemble"}
        # "far above chance on both data sets": ten classes, chance 10 %.
        assert all(20.0 < value <= 100.0 for value in prompts.values())
    if {"fashion_mnist", "cifar10"} <= set(accuracy):
        # "its accuracies stay below CIFAR-10's".
        assert all(accuracy["fashion_mnist"][p] < accuracy["cifar10"][p] for p in accuracy["cifar10"])
    examples = result["examples"]
    assert len(examples["labels"]) == len(examples["predicted"]) > 0


def check_affine_adapter(result):
    """Chapter 3."""
    # "The differences are at the level of float32 rounding."
    assert result["untrained_max_score_gap"] < 1e-3
    # "the regulariser keeps LLU's adapter closest ..., without it the adapter drifts further,
    # and the randomly initialised linear layer starts far from the identity and stays there".
    distances, first_loss = result["identity_distance"], result["first_epoch_loss"]
    assert distances["LLU"] < distances["LLU, λ = 0"] < distances["Linear layer"]
    assert first_loss["Linear layer"] == max(first_loss.values())  # "its loss curve starts highest"
    methods = summary_by_method(result["summary"])
    zero_shot = methods.pop("zero_shot")
    assert methods["llu"]["base_mean"] > zero_shot["base_mean"]  # "LLU ..." against "zero-shot ..." on base
    change = {name: row["new_mean"] - zero_shot["new_mean"] for name, row in methods.items()}
    assert abs(change["llu"]) <= 1.0  # "LLU keeps them at zero-shot's level"
    assert change["linear"] == min(change.values())  # "The linear layer ... loses the most"
    # "The two global updates that stay close to the identity move new-class accuracy much less."
    assert max(abs(change["clip_adapter"]), abs(change["no_mask"])) < abs(change["linear"]) / 2


def check_base_to_new(result, strict=True):
    """Chapter 7. ``strict``: the default build (16 shots), where every trained method has
    learned something on the base classes; a 2-shot test run need not have."""
    shots = max(result["shots"])
    average = summary_by_method(result["summary"], dataset="average", shots=shots)
    zero_shot = average["zero_shot"]
    # "its new-class accuracy ... against zero-shot's": nearly untouched.
    assert abs(average["llu"]["new_mean"] - zero_shot["new_mean"]) <= 1.0
    # "Tip-Adapter, whose cache holds no new class, is zero-shot there by construction."
    assert average["tip_adapter"]["new_mean"] == pytest.approx(zero_shot["new_mean"])
    # "In Base every trained method improves on zero-shot's".
    for method in ("clip_adapter", "tip_adapter", "linear_probe", "llu") if strict else ("llu",):
        assert average[method]["base_mean"] > zero_shot["base_mean"], method
    assert math.isnan(average["linear_probe"]["new_mean"])  # "it has no new-class curve"


def check_clustering(result, strict=True):
    """Chapter 6. ``strict``: the default build's sweep, whose prose reads its best cluster count."""
    sweep = result["sweep"]
    fewest, everything = sweep[0], sweep[-1]
    # "Memory grows linearly with the number of centres".
    for row in sweep:
        assert row["memory_kib"] / row["n_centres"] == pytest.approx(everything["memory_kib"] / everything["n_centres"])
    assert fewest["n_centres"] < everything["n_centres"]
    # "the smallest requests cost accuracy here".
    assert fewest["base"] < everything["base"]
    # "a class text is then no longer a point of D_text, its α drops from β".
    assert everything["text_alpha"] == pytest.approx(0.5, abs=1e-6)
    assert fewest["n_text_centres"] < everything["n_text_centres"]
    assert fewest["text_alpha"] < everything["text_alpha"]
    # "The best ... of the sweep ... is above that of keeping every embedding: ... there the base-class
    # test images get a [larger] mean α".
    best = max(sweep[:-1], key=lambda row: row["base"])
    if strict:
        assert best["base"] > everything["base"] and best["image_alpha"] > everything["image_alpha"]
    # "a member's cosine with its centre is ... higher than ... between two members".
    assert result["cosine_to_centre"] > result["cosine_between_members"]


def check_ablations(result, strict=True):
    """Chapter 8 (the Table 4 averages). ``strict``: the default build, where the Dirac mask
    must differ from Default on base classes."""
    shots = max(result["shots"])
    average = summary_by_method(result["summary"], dataset="average", shots=shots)
    zero_shot, default = average["zero_shot"], average["default"]
    distance = {name: row["identity_distance_mean"] for name, row in average.items() if name != "zero_shot"}
    # Linear: "far worse on new classes", "its identity distance is the largest of the table".
    assert average["linear"]["new_mean"] < default["new_mean"] - 5.0
    assert distance["linear"] == max(distance.values())
    # Dirac mask: "the new-class accuracy is zero-shot's", base "above zero-shot's", "below Default's".
    assert average["dirac_mask"]["new_mean"] == pytest.approx(zero_shot["new_mean"], abs=1.0)
    assert average["dirac_mask"]["base_mean"] > zero_shot["base_mean"]
    if strict:
        assert average["dirac_mask"]["base_mean"] < default["base_mean"]
    # no reg / rand. init: "the distance grows", "from a random start it stays" above Default's.
    assert distance["default"] < distance["no_reg"] and distance["default"] < distance["random_init"]
    # "no cluster equals Default whenever there are fewer training embeddings than clusters".
    records = [r for r in result["records"] if r["shots"] * 5 < 512]  # the offline data sets: 5 base classes
    for row in by_method(records, method="no_cluster").values():
        twin = next(r for r in records if r["method"] == "default" and r["dataset"] == row["dataset"]
                    and r["seed"] == row["seed"] and r["shots"] == row["shots"])
        assert dict(row, method="default") == twin


def check_prompt_learning(result):
    """Chapter 9: all nine methods in one base-to-new grid; Figure 3 timed from cached embeddings."""
    shots = max(result["shots"])
    average = summary_by_method(result["summary"], dataset="average", shots=shots)
    prompt_learners = {"coop", "cocoop", "prograd", "kgcoop"}
    assert set(average) == {"zero_shot", "clip_adapter", "tip_adapter", "linear_probe", "llu"} | prompt_learners
    for name in prompt_learners:  # "scores classes it never saw by putting its learned context in front of their names"
        assert 10.0 < average[name]["new_mean"] <= 100.0
    assert math.isnan(average["linear_probe"]["new_mean"])
    assert average["tip_adapter"]["new_mean"] == pytest.approx(average["zero_shot"]["new_mean"])
    # "CoCoOp ... has that one point only": timed at batch 1 alone; every other method at every batch size.
    sizes = sorted({r["batch_size"] for r in result["speed"]})
    timed = {(r["method"], r["batch_size"]) for r in result["speed"]}
    assert timed == {(m, b) for m in ("llu", "clip_adapter", "coop", "prograd", "kgcoop") for b in sizes} | {
        ("cocoop", min(sizes))}


def check_transfer(result):
    """Chapter 10."""
    runs = {(r["method"], r["dataset"]): r for r in result["records"]}
    source, beta = result.get("source", "cifar10"), 0.5  # LLUClassifier's default β
    llu = {dataset: record for (method, dataset), record in runs.items() if method == "llu"}
    for dataset in result["cross_dataset"]:
        # Far from D: LLU's α on another data set is below its α on the source, on both sides.
        assert llu[dataset]["mean_alpha"] < llu[source]["mean_alpha"]
        assert llu[dataset]["mean_alpha_text"] < llu[source]["mean_alpha_text"]
        # Tip-Adapter's cache knows none of the target's classes: it scores exactly like zero-shot.
        assert runs["tip_adapter", dataset]["accuracy"] == runs["zero_shot", dataset]["accuracy"]
        # The mask scales LLU's update down there: it stays close to zero-shot.
        assert abs(llu[dataset]["accuracy"] - runs["zero_shot", dataset]["accuracy"]) <= 2.0
    # Without the mask α = β everywhere; on shifted domains the class texts are points of D_text.
    for dataset in result["domain_shift"]:
        assert runs["no_mask", dataset]["mean_alpha"] == pytest.approx(beta)
        assert llu[dataset]["mean_alpha_text"] == pytest.approx(beta, abs=1e-3)
    gains = {(g["method"], g["dataset"]): g["gain"] for g in result["gains"]} if len(result["seeds"]) == 1 else {}
    for (method, dataset), gain in gains.items():  # one seed: a gain is one record's difference
        assert gain == pytest.approx(runs[method, dataset]["accuracy"] - runs["zero_shot", dataset]["accuracy"])


def check_from_scratch(result):
    """Chapter 2: the forty lines are LLUClassifier."""
    # "the largest difference ... the size of float32 rounding, and no test image is classified differently".
    assert result["largest_cosine_difference"] < 1e-4
    assert result["differing_predictions"] == {"base": 0, "new": 0}
    # "Both give ... on the base classes and ... on the new ones"; "the losses of every epoch agree".
    assert result["accuracy"]["scratch"] == result["accuracy"]["library"]
    assert result["largest_loss_difference"] < 1e-4
    assert result["identity_distance"]["scratch"] == pytest.approx(result["identity_distance"]["library"], rel=1e-3)
    # "the loss falls".
    assert result["loss_last"] < result["loss_first"]
    # "all far below β".
    alpha = result["alpha"]
    assert max(alpha["test_base"], alpha["test_new"], alpha["new_texts"]) < alpha["beta"] / 4


def check_toy_model(result, strict=True):
    """Chapter 5. The toy's claims hold at any parameters of the chapter (the toy is the same);
    ``strict``: the default build, whose offline data sets and shots the last section reads."""
    aligned, misaligned = result["aligned"], result["misaligned"]
    # "over the new row it has all but vanished": the mask separates the rows.
    alpha = result["alpha"]
    assert alpha["new"] < alpha["beta"] / 10 and alpha["base"] > 10 * alpha["new"]
    # Misalignment 0: "zero-shot is right for almost every new-class image"; "All three updates raise the base classes".
    assert aligned["zero_shot"]["new"] >= 90.0
    assert all(aligned[name]["base"] > aligned["zero_shot"]["base"] for name in ("no_mask", "clip_adapter", "llu"))
    # "the new classes' texts move up too"; "New-class accuracy falls".
    assert result["no_mask_text_shift_new"] > 0.0
    assert aligned["no_mask"]["new"] < aligned["zero_shot"]["new"] - 5.0
    # CLIP-Adapter "costs the new classes less"; LLU: "the new classes keep zero-shot's accuracy".
    assert aligned["no_mask"]["new"] < aligned["clip_adapter"]["new"] <= aligned["zero_shot"]["new"]
    assert abs(aligned["llu"]["new"] - aligned["zero_shot"]["new"]) <= 2.0
    # The common misalignment: zero-shot worse; no mask "rises to"; "does not reach its base-class accuracy";
    # LLU "as much ... on the base classes", "about zero-shot's" on the new; CLIP-Adapter "learns little".
    assert misaligned["zero_shot"]["new"] < aligned["zero_shot"]["new"] - 20.0
    assert misaligned["no_mask"]["new"] > misaligned["zero_shot"]["new"] + 5.0
    assert misaligned["no_mask"]["new"] < misaligned["no_mask"]["base"]
    assert abs(misaligned["llu"]["base"] - misaligned["no_mask"]["base"]) <= 3.0
    assert abs(misaligned["llu"]["new"] - misaligned["zero_shot"]["new"]) <= 5.0
    assert misaligned["clip_adapter"]["base"] < misaligned["llu"]["base"] - 20.0
    assert misaligned["clip_adapter"]["new"] < misaligned["no_mask"]["new"]
    # The sweep: zero-shot falls, LLU follows it, no mask starts below and ends above, the margin falls.
    mean = {}
    for row in result["sweep"]:
        mean.setdefault((row["method"], row["misalignment"]), []).append(row["new"])
    mean = {key: sum(values) / len(values) for key, values in mean.items()}
    dials = sorted({row["misalignment"] for row in result["sweep"]})
    assert all(mean[("zero_shot", a)] > mean[("zero_shot", b)] for a, b in zip(dials, dials[1:]))
    assert all(abs(mean[("llu", m)] - mean[("zero_shot", m)]) <= 5.0 for m in dials)
    assert mean[("no_mask", dials[0])] < mean[("llu", dials[0])] and mean[("no_mask", dials[-1])] > mean[("llu", dials[-1])]
    crossing = next(m for m in dials if mean[("no_mask", m)] > mean[("llu", m)])  # "it first beats LLU at ..."
    assert crossing == result["crossing"]
    margins = [next(r["new_margin"] for r in result["sweep"] if r["misalignment"] == m) for m in dials]
    assert all(a > b for a, b in zip(margins, margins[1:]))
    # The offline model on the dial. CLIP "loses" without the mask (the paper's Table 4).
    assert result["clip"]["effect"] < 0.0
    offline = {point["name"]: point for point in result["offline"]}
    for point in offline.values():  # the toy's dial is found where the margin lies in its range
        assert (point["dial"] is None) == (point["toy_effect"] is None)
    if strict:
        cifar, fashion, dtd = offline["cifar10"], offline["fashion_mnist"], offline["dtd"]
        # "Read in the order of the margin"; the summary's "small against CLIP's".
        assert cifar["margin"] > fashion["margin"] > dtd["margin"]
        assert cifar["margin"] < result["clip"]["margin_range"][0]
        # "The two best-aligned points lose ...; the two worst-aligned gain".
        assert cifar["effect"] < 0.0 < dtd["effect"] and fashion["effect"] > 0.0
        # "The toy's effects are several times larger"; "below anything the toy reaches";
        # "The DTD subset ... gains less than Fashion-MNIST".
        for point in (cifar, fashion):
            assert point["toy_effect"] is not None and abs(point["toy_effect"]) > 3.0 * abs(point["effect"])
        assert dtd["dial"] is None
        assert dtd["effect"] < fashion["effect"]
