"""Rerun the paper's experiments (base to new, ablations, transfer) through papermill over a grid.

    python -m llu_core.report.reproduce                      # offline model, the offline data sets
    python -m llu_core.report.reproduce --prompt-learners    # chapter 7's grid with CoOp, CoCoOp, ProGrad, KgCoOp too
    python -m llu_core.report.reproduce --backbone ViT-B-16 --pretrained /models/ViT-B-16.pt \\
        --data-root /data --datasets dtd eurosat --shots 16 --seeds 1 2 3   # the paper's setting
    python -m llu_core.report.reproduce --chapters transfer --source imagenet --cross-targets dtd eurosat \\
        --shift-targets imagenet_v2 imagenet_sketch ...   # Tables 2 and 3 (with the backbone options)
    python -m llu_core.report.reproduce --chapters many_datasets --many-datasets oxford_pets oxford_flowers \\
        fgvc_aircraft --unseen dtd eurosat ...   # one model, many data sets (with the backbone options)

The base-to-new and ablation chapter notebooks are executed once per data set with the grid's
shots and seeds as their parameters; the transfer chapter once, with its source and targets; the many-data-sets chapter once per shot
count, with the data sets it fits one after another and the unseen ones.
The executed notebooks, every notebook's JSON results, and the combined records
(``<chapter>.csv`` and ``<chapter>.json``, with the summaries over seeds) are written under
``--output`` (default ``results/``). The notebooks are read from ``--notebooks``, by default
the ``notebooks/`` folder of the checkout ``llu_core`` runs from. The tables are printed at the end, with the paper's
numbers beside ours where the setting matches the paper's (ViT-B-16, 16 shots; for the
transfer tables, ImageNet as the source).

Every argument is checked before the first kernel starts (:func:`check_arguments`): data-set
names against the registry (so no name such as ``../../x`` can place a file outside
``--output``), a backbone :func:`llu_core.load_backbone` knows with weights it can load (a
checkpoint file that exists; none for the offline model), a device this machine has, distinct
shot counts ≥ 1 and distinct seeds ≥ 0, sizes ≥ 0, an output folder that can be written, and
the data: the data root, and every data set of the run readable under it (its folder, split
file and images). A bad one ends the command with status 2 and a message that names it. A
chapter that fails while it runs ends it with status 1 and one message.
"""

import argparse
import secrets
import sys
from pathlib import Path

import papermill

from ..backbones.factory import check_backbone_arguments, check_backbone_name
from ..data.datasets import CORRUPTED_DATASETS, TEST_ONLY, check_dataset_name, load_dataset
from ..evaluation.many_datasets import summarise_many
from ..evaluation.protocols import shots_and_seeds
from ..evaluation.summary import add_average, summarise
from ..utils.io import read_json, write_bytes, write_json
from ..utils.locations import checkout_root
from ..utils.validation import default_device
from .many_datasets import format_many_datasets_table
from .tables import TRANSFER_COLUMNS, format_table_1, format_table_2, format_table_3, format_table_4, write_csv

#: Chapter name -> the notebook that runs it.
CHAPTERS = {"base_to_new": "07_base_to_new.ipynb", "ablations": "08_ablations.ipynb",
            "transfer": "10_transfer.ipynb", "many_datasets": "11_many_datasets.ipynb"}
#: The chapters run once in all (not once per data set), by their own function.
_WHOLE = ("transfer", "many_datasets")

OFFLINE_DATASETS = ("fashion_mnist", "cifar10", "dtd")
#: The transfer chapter's offline source and targets (see notebooks/10_transfer.ipynb).
OFFLINE_TRANSFER = {"source": "cifar10", "cross_dataset": ["fashion_mnist", "dtd"],
                    "domain_shift": list(CORRUPTED_DATASETS)}
#: The many-data-sets chapter's offline data sets, fitted in this order (see notebooks/11_many_datasets.ipynb).
OFFLINE_MANY = ("cifar10", "fashion_mnist", "dtd")
MANY_COLUMNS = ("method", "dataset", "setting", "classes", "shots", "seed", "accuracy")


def notebooks_folder(folder=None):
    """The folder of the chapter notebooks: ``folder``, else ``notebooks/`` of the checkout.

    Raises ``FileNotFoundError`` when neither holds the chapters (an installed ``llu_core``
    carries no notebooks: pass the ``notebooks/`` folder of a clone).
    """
    if folder is None:
        checkout = checkout_root()
        if checkout is None:
            raise FileNotFoundError("llu_core is installed without the book's notebooks: pass --notebooks "
                                    "/path/to/a/clone/notebooks")
        folder = checkout / "notebooks"
    folder = Path(folder).expanduser()
    missing = [name for name in CHAPTERS.values() if not (folder / name).is_file()]
    if missing:
        raise FileNotFoundError(f"{folder} does not hold the chapter notebooks {missing}; pass the notebooks/ "
                                "folder of a clone of the repository")
    return folder


def run_chapter(chapter, datasets, output, notebooks=None, **parameters):
    """Execute one chapter notebook per data set with papermill and collect its records.

    Parameters
    ----------
    chapter : str
        A key of :data:`CHAPTERS`.
    datasets : sequence of str
        Data-set names; the notebook runs once per data set.
    output : Path
        Folder for ``<chapter>/<dataset>.ipynb`` and ``<chapter>/<dataset>.json``.
    notebooks : Path, optional
        The folder of the chapter notebooks (see :func:`notebooks_folder`).
    **parameters
        Further notebook parameters (backbone, pretrained, data_root, shots, seeds,
        train_per_class, test_per_class, device).

    Returns
    -------
    list of dict
        The records of every run (see :func:`llu_core.evaluation.grids.run_grid`).
    """
    notebooks = notebooks_folder(notebooks)
    if chapter not in CHAPTERS or chapter in _WHOLE:
        raise ValueError(f"unknown per-data-set chapter {chapter!r}; expected one of "
                         f"{sorted(set(CHAPTERS) - set(_WHOLE))} (see run_transfer_chapter, run_many_datasets_chapter)")
    check_datasets("datasets", datasets, trained=True)
    folder = Path(output) / chapter
    folder.mkdir(parents=True, exist_ok=True)
    records = []
    for dataset in datasets:
        results_path = (folder / f"{dataset}.json").resolve()
        papermill.execute_notebook(
            str(notebooks / CHAPTERS[chapter]), str(folder / f"{dataset}.ipynb"),
            parameters=dict(parameters, datasets=[dataset], results_path=str(results_path)),
            cwd=str(notebooks), progress_bar=False)
        records += read_json(results_path)["records"]
    return records


def run_transfer_chapter(output, source, cross_dataset, domain_shift, notebooks=None, **parameters):
    """Execute the transfer chapter once, fitted on ``source`` and evaluated on the targets.

    Writes ``transfer/transfer.ipynb`` and ``transfer/transfer.json`` under ``output``; the
    further ``parameters`` are notebook parameters as for :func:`run_chapter` (plus
    ``shift_per_class``), ``notebooks`` as for :func:`run_chapter`. Returns the records (see
    :func:`llu_core.evaluation.transfer.run_transfer`).
    """
    notebooks = notebooks_folder(notebooks)
    check_datasets("source", [source], trained=True)
    check_datasets("cross_dataset", cross_dataset)
    check_datasets("domain_shift", domain_shift)
    folder = Path(output) / "transfer"
    folder.mkdir(parents=True, exist_ok=True)
    results_path = (folder / "transfer.json").resolve()
    papermill.execute_notebook(
        str(notebooks / CHAPTERS["transfer"]), str(folder / "transfer.ipynb"),
        parameters=dict(parameters, source=source, cross_dataset=list(cross_dataset), domain_shift=list(domain_shift),
                        results_path=str(results_path)),
        cwd=str(notebooks), progress_bar=False)
    return read_json(results_path)["records"]


def run_many_datasets_chapter(output, datasets, unseen, shots, notebooks=None, **parameters):
    """Execute the many-data-sets chapter once per shot count: ``datasets`` fitted one after another.

    Writes ``many_datasets/<shots>shots.ipynb`` and ``.json`` under ``output``; ``unseen`` are
    data sets never fitted (empty: each of ``datasets`` held out in turn); the further
    ``parameters`` are notebook parameters as for :func:`run_chapter`. Returns the records of
    every run (see :func:`llu_core.evaluation.many_datasets.run_many_datasets`).
    """
    notebooks = notebooks_folder(notebooks)
    check_datasets("datasets", datasets, trained=True)
    check_datasets("unseen", unseen)
    folder = Path(output) / "many_datasets"
    folder.mkdir(parents=True, exist_ok=True)
    records = []
    for shot in shots:
        results_path = (folder / f"{shot}shots.json").resolve()
        papermill.execute_notebook(
            str(notebooks / CHAPTERS["many_datasets"]), str(folder / f"{shot}shots.ipynb"),
            parameters=dict(parameters, datasets=list(datasets), unseen=list(unseen), shots=shot,
                            results_path=str(results_path)),
            cwd=str(notebooks), progress_bar=False)
        records += read_json(results_path)["records"]
    return records


def check_datasets(name, datasets, trained=False):
    """Raise ``ValueError`` starting with ``name`` unless ``datasets`` are distinct registered data-set
    names (:func:`llu_core.data.datasets.check_dataset_name`); ``trained``: none of them test-only."""
    datasets = list(datasets)
    for dataset in datasets:
        try:
            registered, _ = check_dataset_name(dataset)
        except ValueError as error:
            raise ValueError(f"{name}: {error}") from None
        if trained and registered in TEST_ONLY:
            raise ValueError(f"{name}: {dataset!r} is a test-only transfer target and cannot be fitted on")
    repeated = sorted({dataset for dataset in datasets if datasets.count(dataset) > 1})
    if repeated:
        raise ValueError(f"{name}: {repeated} listed more than once")


def check_output(folder):
    """Raise ``ValueError`` starting with ``--output`` unless ``folder`` is a folder this process can
    write into (created when missing; a probe file is written and removed)."""
    folder = Path(folder).expanduser()
    if folder.exists() and not folder.is_dir():
        raise ValueError(f"--output {folder} is not a folder")
    probe = folder / f".write-test-{secrets.token_hex(6)}"
    try:
        write_bytes(probe, b"")
        probe.unlink()
    except OSError as error:
        raise ValueError(f"--output {folder} cannot be written ({error})") from None


def check_arguments(args):
    """Check every argument of the command line before anything runs; ``ValueError`` naming the first bad one."""
    chapters = list(args.chapters)
    if len(set(chapters)) < len(chapters):
        raise ValueError(f"--chapters lists a chapter more than once: {chapters}")
    for flag, check in (("--backbone", lambda: check_backbone_name(args.backbone)),
                        ("--pretrained", lambda: check_backbone_arguments(args.backbone, args.pretrained)),
                        ("--device", lambda: default_device(args.device))):
        try:
            check()
        except (ValueError, FileNotFoundError) as error:
            raise ValueError(f"{flag}: {error}") from None
    try:
        shots_and_seeds(args.shots, args.seeds)
    except ValueError as error:  # its message starts with "shots" or "seeds"
        raise ValueError(f"--{error}") from None
    if "base_to_new" in chapters or "ablations" in chapters:
        check_datasets("--datasets", args.datasets, trained=True)
    if "many_datasets" in chapters:
        check_datasets("--many-datasets", args.many_datasets, trained=True)
        check_datasets("--unseen", args.unseen)
        if len(args.many_datasets) < 2 or set(args.many_datasets) & set(args.unseen):
            raise ValueError("--many-datasets: fit at least two data sets, none of them also --unseen")
    if "transfer" in chapters:
        check_datasets("--source", [args.source], trained=True)
        check_datasets("--cross-targets", args.cross_targets)
        check_datasets("--shift-targets", args.shift_targets)
    for name in ("train_per_class", "test_per_class", "shift_per_class"):
        value = getattr(args, name)
        if value is not None and value < 0:
            raise ValueError(f"--{name.replace('_', '-')} must be 0 (the whole split) or a positive integer, "
                             f"got {value}")
    notebooks_folder(args.notebooks)
    check_output(args.output)
    check_data(args, chapters)


def check_data(args, chapters):
    """Raise ``ValueError`` naming the data root or the first data set of the run whose files are not
    there (its folder, split file or images), as the notebooks would find it, before any kernel starts."""
    root = None if args.data_root is None else Path(args.data_root).expanduser()
    if root is not None and not root.is_dir():
        raise ValueError(f"--data-root {root} does not exist or is not a folder")
    needed = {}
    if "base_to_new" in chapters or "ablations" in chapters:
        needed.update((dataset, "train") for dataset in args.datasets)
    if "transfer" in chapters:
        needed[args.source] = "train"
        needed.update((dataset, "test") for dataset in [*args.cross_targets, *args.shift_targets]
                      if dataset not in needed)
    for dataset, split in needed.items():
        try:
            load_dataset(dataset, split, root=root)
        except (FileNotFoundError, ValueError) as error:
            raise ValueError(f"data set {dataset!r} cannot be read: {error}") from None


def save_and_format(chapter, records, output, backbone, shots):
    """Write the combined records and summary of a chapter and return its tables as text."""
    if chapter == "many_datasets":
        summary = summarise_many(records)
        write_csv(Path(output) / "many_datasets.csv", records, leading=MANY_COLUMNS)
        write_json(Path(output) / "many_datasets.json", {"records": records, "summary": summary})
        return "\n\n".join(f"**{shot} shots**\n\n" + format_many_datasets_table(
            [row for row in summary if row["shots"] == shot]) for shot in shots)
    if chapter == "transfer":
        summary = summarise(add_average(records, where={"protocol": "cross_dataset"}))
        write_csv(Path(output) / "transfer.csv", records, leading=TRANSFER_COLUMNS)
        write_json(Path(output) / "transfer.json", {"records": records, "summary": summary})
        return "\n\n".join(table(summary, shots=shot, backbone=backbone) for shot in shots
                            for table in (format_table_2, format_table_3))
    summary = summarise(add_average(records))
    write_csv(Path(output) / f"{chapter}.csv", records)
    write_json(Path(output) / f"{chapter}.json", {"records": records, "summary": summary})
    if chapter == "ablations":
        return "\n\n".join(format_table_4(summary, backbone=backbone, shots=shot) for shot in shots)
    return "\n\n".join(format_table_1(summary, shots=shot, backbone=backbone) for shot in shots)


def parse_arguments(argv=None):
    """The command line's arguments, checked (:func:`check_arguments`): a bad one exits with status 2."""
    parser = argument_parser()
    args = parser.parse_args(argv)
    try:
        check_arguments(args)
    except (ValueError, FileNotFoundError) as error:
        parser.error(str(error))
    return args


def argument_parser():
    parser = argparse.ArgumentParser(prog="python -m llu_core.report.reproduce", description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    parser.add_argument("--chapters", nargs="+", default=list(CHAPTERS), choices=list(CHAPTERS))
    parser.add_argument("--backbone", default="offline", help='"offline" or an open_clip model name, e.g. ViT-B-16')
    parser.add_argument("--pretrained", default=None, help="open_clip pretrained tag or a local checkpoint file")
    parser.add_argument("--data-root", default=None, help="folder holding the data sets (default: $LLU_DATA_ROOT)")
    parser.add_argument("--datasets", nargs="+", default=list(OFFLINE_DATASETS),
                        help="data sets of the base-to-new and ablation chapters")
    parser.add_argument("--source", default=OFFLINE_TRANSFER["source"], help="transfer: the data set fitted on")
    parser.add_argument("--cross-targets", nargs="+", default=OFFLINE_TRANSFER["cross_dataset"],
                        help="transfer: other data sets (Table 2)")
    parser.add_argument("--shift-targets", nargs="+", default=OFFLINE_TRANSFER["domain_shift"],
                        help="transfer: shifted domains of the source's classes (Table 3)")
    parser.add_argument("--many-datasets", nargs="+", default=list(OFFLINE_MANY),
                        help="many data sets: the data sets fitted one after another, in this order")
    parser.add_argument("--unseen", nargs="+", default=[],
                        help="many data sets: data sets never fitted (default: each fitted one held out in turn)")
    parser.add_argument("--shots", nargs="+", type=int, default=[16])
    parser.add_argument("--seeds", nargs="+", type=int, default=[1, 2, 3])
    parser.add_argument("--train-per-class", type=int, default=None,
                        help="training pool per class (default: the notebook's; 0 means the whole split)")
    parser.add_argument("--test-per-class", type=int, default=None,
                        help="test images per class (default: the notebook's; 0 means the whole split)")
    parser.add_argument("--shift-per-class", type=int, default=None,
                        help="transfer: test images per class of a shifted domain (default: the notebook's; 0: all)")
    parser.add_argument("--prompt-learners", action="store_true",
                        help="add CoOp, CoCoOp, ProGrad and KgCoOp to the base-to-new grid (their text tower runs at "
                             "every step: slow on a CPU)")
    parser.add_argument("--device", default=None, help="torch device (default: CUDA when available)")
    parser.add_argument("--output", default="results", help="folder for executed notebooks and results")
    parser.add_argument("--notebooks", default=None,
                        help="folder of the chapter notebooks (default: notebooks/ of the checkout llu_core runs from)")
    return parser


def main(argv=None):
    """Run the command line; returns the exit status (2 for a bad argument, 1 for a chapter that failed)."""
    args = parse_arguments(argv)
    try:
        return _run(args)
    except papermill.PapermillExecutionError as error:
        print(f"error: a chapter failed: {error.ename}: {error.evalue} (the executed notebook is under "
              f"{Path(args.output).resolve()})", file=sys.stderr)
        return 1


def _run(args):
    parameters = dict(backbone=args.backbone, pretrained=args.pretrained, data_root=args.data_root,
                      shots=args.shots, seeds=args.seeds, device=args.device)
    for name in ("train_per_class", "test_per_class"):
        value = getattr(args, name)
        if value is not None:
            parameters[name] = value or None
    for chapter in args.chapters:
        if chapter == "many_datasets":
            records = run_many_datasets_chapter(args.output, args.many_datasets, args.unseen, args.shots,
                                                notebooks=args.notebooks,
                                                **{key: value for key, value in parameters.items() if key != "shots"})
        elif chapter == "transfer":
            extra = {} if args.shift_per_class is None else {"shift_per_class": args.shift_per_class or None}
            records = run_transfer_chapter(args.output, args.source, args.cross_targets, args.shift_targets,
                                           notebooks=args.notebooks, **parameters, **extra)
        else:
            extra = {"prompt_learners": True} if chapter == "base_to_new" and args.prompt_learners else {}
            records = run_chapter(chapter, args.datasets, args.output, notebooks=args.notebooks, **parameters, **extra)
        print(f"\n## {chapter}\n")
        print(save_and_format(chapter, records, args.output, args.backbone, args.shots))
    print(f"\nExecuted notebooks and results are in {Path(args.output).resolve()}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
