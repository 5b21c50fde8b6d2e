"""Display names and the paper's order (llu_core.report.labels)."""

from llu_core.report.labels import dataset_label, in_paper_order
from llu_core.report.tables import NO_BREAK_SPACE, format_cell


def test_display_names_and_the_papers_order():
    assert dataset_label("fashion_mnist") == "Fashion-MNIST" and dataset_label("oxford_flowers") == "Flowers102"
    assert dataset_label("cifar10_jpeg@3") == "CIFAR-10 JPEG, severity 3" and dataset_label("mine") == "mine"
    names = ["dtd", "mine", "imagenet", "average", "caltech101", "cifar10"]
    assert in_paper_order(names) == ["average", "cifar10", "imagenet", "caltech101", "dtd", "mine"]
    assert in_paper_order(names, average="last")[-1] == "average"
    assert format_cell(69.4, 0.0, 1) == f"69.4{NO_BREAK_SPACE}±{NO_BREAK_SPACE}0.0"  # never broken over two lines
