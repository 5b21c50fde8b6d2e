"""The many-data-sets chapter's tables: the comparison (mean ± standard error) and the cost per data set."""

import pytest

from llu_core import format_cost_table, format_many_datasets_table, format_per_dataset_table


def summary_row(method, setting, classes, mean, se, dataset="average"):
    return {"method": method, "dataset": dataset, "setting": setting, "classes": classes, "shots": 4,
            "accuracy_mean": mean, "accuracy_se": se}


def test_the_table_has_a_row_per_method_and_a_dash_where_a_method_has_no_score():
    summary = [summary_row("zero_shot", "fitted", "own", 60.0, 0.0), summary_row("zero_shot", "unseen", "own", 55.0, 0.0),
               summary_row("multi_max", "fitted", "own", 80.04, 0.51), summary_row("multi_max", "fitted", "union", 79.0, 0.4),
               summary_row("oracle_llu", "fitted", "own", 81.0, 0.2), summary_row("oracle_llu", "fitted", "own", 1.0, 0.0,
                                                                                dataset="toy_1")]
    lines = format_many_datasets_table(summary).splitlines()
    assert lines[0].split("|")[1:-1] == [" method ", " fitted, own classes ", " fitted, all classes ",
                                         " unseen, own classes ", " unseen, all classes "]
    rows = [[cell.strip() for cell in line.split("|")[1:-1]] for line in lines[2:]]
    assert [row[0] for row in rows] == ["Multi-LLU, max (default)", "LLU per data set, oracle", "Zero-shot"]
    assert rows[0][1:3] == ["80.0\u00a0±\u00a00.5", "79.0\u00a0±\u00a00.4"]  # non-breaking spaces
    assert rows[1][2:] == ["–", "–", "–"]
    assert "1.0" in format_many_datasets_table(summary, dataset="toy_1")
    with pytest.raises(ValueError, match="no rows for dataset='dtd'"):
        format_many_datasets_table(summary, dataset="dtd")


def test_the_cost_table_gives_megabytes_and_ratios_to_one_data_set():
    cost = [{"n_datasets": k, "update_floats": 250_000, "fit_added_s": 2.0, "fit_union_s": 2.0 * k, "n_test": 100 * k,
             "score_max_s": 0.5 * k, "score_mixture_s": 1.0 * k * k} for k in (1, 2, 3)]
    rows = [[cell.strip() for cell in line.split("|")[1:-1]] for line in format_cost_table(cost).splitlines()[2:]]
    assert rows[0] == ["1", "1.00", "1.0×", "1.0×", "1.0×", "2.0×"]
    assert rows[2] == ["3", "1.00", "1.0×", "3.0×", "1.0×", "6.0×"]  # scoring per test image


def test_the_per_data_set_table_has_a_column_per_data_set_and_the_average():
    summary = [summary_row("multi_max", "fitted", "own", value, 0.1, dataset=name)
               for name, value in (("dtd", 40.0), ("cifar10", 80.0), ("average", 60.0))]
    summary.append(summary_row("multi_max", "fitted", "union", 1.0, 0.1, dataset="dtd"))  # another column: not shown
    lines = format_per_dataset_table(summary, ["multi_max", "zero_shot"]).splitlines()
    assert [cell.strip() for cell in lines[0].split("|")[1:-1]] == ["fitted, own classes", "DTD", "CIFAR-10", "Average"]
    assert [cell.strip() for cell in lines[2].split("|")[1:-1]] == ["Multi-LLU, max", "40.0", "80.0", "60.0"]
    assert [cell.strip() for cell in lines[3].split("|")[1:-1]] == ["Zero-shot", "–", "–", "–"]
    with pytest.raises(ValueError, match="no rows for setting='unseen', classes='own'"):
        format_per_dataset_table(summary, ["multi_max"], setting="unseen")
