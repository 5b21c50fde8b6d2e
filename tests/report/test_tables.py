"""The tables (llu_core.report.tables): Tables 1-4 in the layout of the paper, the paper's numbers
beside ours only in the paper's setting, the binomial table, CSV."""

import csv
import io
import math

import pytest

from llu_core.evaluation.protocols import harmonic_mean
from llu_core.evaluation.summary import add_average, summarise
from llu_core.report.labels import METHOD_LABELS
from llu_core.report.paper_results import PEER_TABLE_1, TABLE_1, TABLE_2, TABLE_4
from llu_core.report.tables import (NO_BREAK_SPACE, format_binomial_table, format_paper_table_1, format_paper_table_2,
                                    format_paper_table_3, format_paper_table_4, format_table_1, format_table_2,
                                    format_table_3, format_table_4, write_csv)
from toy_grid import grid_datasets, grid_records


@pytest.fixture(scope="module")
def records():
    return grid_records(grid_datasets())


# --- Base-to-new: Tables 1 and 4, the binomial table, CSV -----------------------------------------


def test_table_1_layout_and_paper_columns_only_when_the_setting_matches(records):
    summary = summarise(add_average(records))
    table = format_table_1(summary, shots=2)
    assert "**Average**" in table and "**toy_a**" in table and "Zero-shot" in table and "LLU" in table
    assert table.index("**Average**") < table.index("**toy_a**")
    assert "Paper" not in table and "±" in table
    with pytest.raises(ValueError, match="16 shots"):
        format_table_1(summary, shots=16)

    # Rename a toy data set to DTD and pretend the run was ViT-B-16 at 16 shots.
    renamed = [dict(r, dataset="dtd", shots=16) for r in records if r["dataset"] == "toy_a" and r["shots"] == 2]
    table = format_table_1(summarise(add_average(renamed)), shots=16, backbone="ViT-B-16")
    assert f"{TABLE_1['dtd']['llu']['new']:.2f}" in table
    average_block = table.split("**DTD**")[0]
    assert "Paper Base" in average_block and f"{TABLE_1['average']['llu']['new']:.2f}" not in average_block


def test_table_4_layout(records):
    renamed = [dict(r, method={"zero_shot": "zero_shot", "llu": "default"}[r["method"]]) for r in records]
    summary = summarise(add_average(renamed))
    table = format_table_4(summary, shots=1)
    lines = table.splitlines()
    assert lines[0].split("|")[2:4] == [" Zero-shot ", " Default "]
    assert [line.split("|")[1].strip() for line in lines[2:]] == ["Base", "New", "Mean (H)", "Identity distance"]
    assert "paper" not in table

    everywhere = [dict(r, dataset=name, shots=16) for r in renamed if r["dataset"] == "toy_a" and r["shots"] == 1
                  for name in TABLE_1 if name != "average"]
    table = format_table_4(summarise(add_average(everywhere)), backbone="ViT-B-16", shots=16)
    assert "Base, paper" in table and f"{TABLE_4['default']['hm']:.2f}" in table


def test_csv_round_trip(tmp_path, records):
    path = tmp_path / "grid.csv"
    write_csv(path, records)
    rows = list(csv.DictReader(io.StringIO(path.read_text())))
    assert len(rows) == len(records)
    assert float(rows[-1]["base"]) == pytest.approx(records[-1]["base"])
    assert rows[0]["identity_distance"] == ""  # zero-shot rows have none


def test_paper_tables_are_shown_under_the_papers_setting():
    table = format_paper_table_1("average", methods=["zero_shot", "coop", "llu", "tip_adapter"])
    assert "CLIP ViT-B/16, 16 shots" in table and "average over its 11 data sets" in table
    assert f"{TABLE_1['average']['llu']['hm']:.2f}" in table and "CLIP zero-shot" in table
    assert "Tip-Adapter" not in table  # the paper has no such row
    assert "GDA" not in table  # a successor only when asked for (or by default)
    with pytest.raises(ValueError, match="no data set 'cifar10'"):
        format_paper_table_1("cifar10")
    table = format_paper_table_1("average", methods=["llu", "gda", "proker"])
    assert "GDA (its authors)" in table and f"{PEER_TABLE_1['gda']['hm']:.2f}" in table
    assert PEER_TABLE_1["gda"]["source"] in table and "ProKeR" not in table  # ProKeR publishes no such table
    assert "ProLIP (its authors)" in format_paper_table_1() and "GDA" not in format_paper_table_1("dtd")
    table_4 = format_paper_table_4()
    assert "ViT-B/16" in table_4 and f"{TABLE_4['linear']['new']:.2f}" in table_4 and "Dirac mask" in table_4


def test_binomial_table_gives_standard_errors_and_differences():
    rows = [{"method": m, "dataset": "d", "shots": 8, "base_mean": b, "new_mean": n, "hm_mean": harmonic_mean(b, n)}
            for m, b, n in (("zero_shot", 65.6, 77.4), ("llu", 70.4, 77.4), ("linear_probe", 71.6, math.nan))]
    lines = format_binomial_table(rows, {"base": 500, "new": 500}).replace(NO_BREAK_SPACE, " ").splitlines()
    assert lines[0] == "| Method | Base | New | H | Base − Zero-shot | New − Zero-shot |"
    assert lines[2] == "| Zero-shot | 65.6 ± 2.1 | 77.4 ± 1.9 | 71.0 | – | – |"
    assert lines[3] == "| LLU | 70.4 ± 2.0 | 77.4 ± 1.9 | 73.7 | +4.8 (+1.6 SE) | +0.0 (+0.0 SE) |"
    assert lines[4] == "| Linear probe | 71.6 ± 2.0 | – | – | +6.0 (+2.0 SE) | – |"
    with pytest.raises(ValueError, match="one data set"):
        format_binomial_table(rows + [dict(rows[0], dataset="e")], {"base": 500, "new": 500})


# --- Transfer: Tables 2 and 3 ---------------------------------------------------------------------


def test_tables_put_the_paper_beside_ours_only_in_its_setting():
    targets = [name for name in TABLE_2["llu"] if name not in ("imagenet", "average")]
    records = [{"protocol": protocol, "method": method, "source": "imagenet", "dataset": dataset, "shots": 16,
                "seed": 1, "accuracy": 50.0}
               for method in ("zero_shot", "llu")
               for protocol, dataset in [("source", "imagenet")] + [("cross_dataset", t) for t in targets[:3]]
               + [("domain_generalisation", t) for t in ("imagenet_v2", "imagenet_a")]]
    summary = summarise(add_average(records, where={"protocol": "cross_dataset"}))
    assert "paper" not in format_table_2(summary, backbone="offline")
    table = format_table_2(summary, backbone="ViT-B-16")
    paper_row = next(line for line in table.splitlines() if line.startswith("| LLU, paper"))
    cells = [cell.strip() for cell in paper_row.split("|")[2:-1]]
    assert cells == [f"{TABLE_2['llu'][d]:.2f}" for d in ["imagenet", *targets[:3]]] + ["–"]  # 3 of 10 targets
    table = format_table_3(summary, backbone="ViT-B-16")
    paper_row = next(line for line in table.splitlines() if line.startswith(f"| {METHOD_LABELS['zero_shot']}, paper"))
    assert [cell.strip() for cell in paper_row.split("|")[2:-1]] == ["66.73", "60.83", "47.77"]
    with pytest.raises(ValueError, match="targets"):
        format_table_2(summary, shots=1)


def test_the_papers_tables_2_and_3_on_their_own():
    table = format_paper_table_2()
    lines = table.splitlines()
    assert "CLIP ViT-B/16" in lines[0] and "Table 2" in lines[0]
    assert lines[2].split("|")[2].strip() == "ImageNet (source)" and lines[2].split("|")[-2].strip() == "Average"
    assert len(lines) == 4 + len(TABLE_2)  # title, blank, header, rule, one row per method
    llu = next(line for line in lines if line.startswith("| LLU |"))
    assert [cell.strip() for cell in llu.split("|")[2:-1]] == [f"{value:.2f}" for value in TABLE_2["llu"].values()]
    table = format_paper_table_3(methods=["zero_shot", "llu", "coop"])
    rows = [line.split("|")[1].strip() for line in table.splitlines()[4:]]
    assert rows == ["CLIP zero-shot", "LLU", "CoOp"] and "Average" not in table
