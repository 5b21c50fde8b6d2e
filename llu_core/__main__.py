"""The command line: ``python -m llu_core COMMAND``.

    python -m llu_core fetch-data [--root DIR]
    python -m llu_core fit IMAGES_DIR --out MODEL.safetensors [--backbone NAME] [--pretrained FILE_OR_TAG]
                           [--shots N] [--seed S] [--classes-file F] [--gamma G]
                           [--hold-out-classes CLASS ...] [--format text|json]
    python -m llu_core predict MODEL.safetensors IMAGE [IMAGE ...] [--classes NAME ...] [--classes-from F]
                               [--format csv|jsonl]
    python -m llu_core reproduce [OPTIONS]      # python -m llu_core.report.reproduce

Each command is a thin layer over the library (:mod:`llu_core.data.fetch`,
:mod:`llu_core.evaluation.image_folders`, :mod:`llu_core.report.reproduce`): it parses its
arguments, calls one function and prints the result. Every argument that names a file or folder is
checked before any work starts. Errors of the input (a missing folder, a folder with one class, a
model from another backbone, data that cannot be fetched) end the command with one message on
stderr and exit status 1 (2 for arguments the parser refuses), without a traceback; images that
cannot be read are named on stderr and skipped, and the command then exits with status 1 after
printing the others.

What another program reads is written so that any name passes through
(:mod:`llu_core.utils.records`): ``predict`` prints CSV with a header (``path,class,probability``,
every string quoted) or JSON lines (``--format jsonl``); ``fit --format json`` prints its report
as one JSON object. Names whose bytes are not UTF-8 keep their bytes in CSV and are ``\\udcXX``
escapes in JSON. Progress bars go to stderr; ``TQDM_DISABLE=1`` switches them off.
"""

import argparse
import json
import re
import sys
import warnings
from dataclasses import asdict

from .utils.records import FORMATS, as_bytes, format_records

#: The columns of ``predict``'s output.
PREDICTION_COLUMNS = ("path", "class", "probability")


def _emit(text):
    """Write ``text`` to stdout; names that are not UTF-8 keep their bytes."""
    buffer = getattr(sys.stdout, "buffer", None)
    if buffer is None:  # a redirected stdout without bytes (a notebook, a StringIO)
        sys.stdout.write(text)
        return
    sys.stdout.flush()
    buffer.write(as_bytes(text))
    buffer.flush()


def _fetch_data(arguments):
    from .data.fetch import fetch_data

    _emit(fetch_data(root=arguments.root).summary() + "\n")
    return 0


def _fit(arguments):
    from .evaluation.image_folders import fit_image_folder

    result = fit_image_folder(arguments.images, arguments.out, backbone=arguments.backbone,
                              pretrained=arguments.pretrained, shots=arguments.shots, seed=arguments.seed,
                              classes_file=arguments.classes_file, gamma=arguments.gamma, device=arguments.device,
                              hold_out_classes=arguments.hold_out_classes)
    _emit((json.dumps(asdict(result), ensure_ascii=True) if arguments.format == "json" else result.summary()) + "\n")
    return 0


def read_class_list(path):
    """The class names of a file, one per line; blank lines and lines starting with ``#`` are skipped."""
    from .utils.io import read_text_lines

    names = [line for _, line in read_text_lines(path, "classes file", "one class name per line")]
    if not names:
        raise ValueError(f"classes file {path} names no class; expected one class name per line")
    return names


def _predict(arguments):
    from .evaluation.image_folders import predict_images

    classes = list(arguments.classes or [])
    if arguments.classes_from is not None:
        classes += read_class_list(arguments.classes_from)
    predictions = predict_images(arguments.model, arguments.images, backbone=arguments.backbone,
                                 pretrained=arguments.pretrained, device=arguments.device, classes=classes or None)
    rows = [(prediction.path, prediction.classname, round(prediction.probability, 4)) for prediction in predictions]
    _emit(format_records(PREDICTION_COLUMNS, rows, arguments.format))
    return 0 if len(predictions) == len(arguments.images) else 1


def _reproduce(options):
    from .report.reproduce import main as reproduce

    return reproduce(options)


def _parser():
    parser = argparse.ArgumentParser(prog="python -m llu_core",
                                     description="LLU Book's command line: fetch the offline data, fit LLU on a "
                                                 "folder of images, classify images with the saved model (with new "
                                                 "classes named on the spot), rerun the paper's experiments.")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    fetch = commands.add_parser("fetch-data", help="fetch and verify the book's offline data",
                                description="Download the offline data from its pinned public sources (or "
                                            "$LLU_DATA_MIRROR), rebuild and verify every file; do nothing when it "
                                            "is present and verified.")
    fetch.add_argument("--root", default=None, help="the data root (default: $LLU_DATA_ROOT, else shared/data beside "
                                                    "a checkout, else ~/.cache/llu_book/data)")
    fetch.set_defaults(run=_fetch_data)

    backbone = argparse.ArgumentParser(add_help=False)
    backbone.add_argument("--backbone", default=None,
                          help='"offline" or an open_clip model name such as ViT-B-16 (fit: default offline; predict: '
                               "the model's)")
    backbone.add_argument("--pretrained", default=None,
                          help="open_clip weights: a pretrained tag or a checkpoint file (predict: default the "
                               "model's; the offline model takes none)")
    backbone.add_argument("--device", default=None, help="cpu or cuda (default: CUDA when available)")

    fit = commands.add_parser("fit", parents=[backbone], help="fit LLU on a folder of images, one sub-folder per class",
                              description="Fit LLU (the paper's hyperparameters) on SHOTS images of every class of "
                                          "IMAGES_DIR, report zero-shot and LLU accuracy on the other images and the "
                                          "embedding statistics, and save the model.")
    fit.add_argument("images", metavar="IMAGES_DIR", help="a folder with one sub-folder of images per class")
    fit.add_argument("--out", required=True, metavar="MODEL.safetensors", help="where to save the fitted model")
    fit.add_argument("--shots", type=int, default=16, help="training images per class; the others are held out")
    fit.add_argument("--seed", type=int, default=1, help="seeds the choice of the shots and the training")
    fit.add_argument("--classes-file", default=None, metavar="F",
                     help="lines '<folder> <class name>' naming the classes in the prompts (default: "
                          "IMAGES_DIR/classnames.txt when present, else the folder names)")
    fit.add_argument("--gamma", type=float, default=None,
                     help="γ of the local mask (default: the paper's 20; the output suggests one for this backbone)")
    fit.add_argument("--hold-out-classes", nargs="+", action="extend", default=None, metavar="CLASS",
                     help="class folders left out of the fit and scored as new classes (predict --classes names them "
                          "to the saved model)")
    fit.add_argument("--format", choices=("text", "json"), default="text",
                     help="text: a report for a reader; json: the same as one JSON object")
    fit.set_defaults(run=_fit)

    predict = commands.add_parser("predict", parents=[backbone], help="classify images with a saved model",
                                  description="Print one row per image that could be read: path, class, "
                                              "probability (CSV with a header, every string quoted; or JSON lines).")
    predict.add_argument("model", metavar="MODEL.safetensors", help="a model saved by `fit`")
    predict.add_argument("images", metavar="IMAGE", nargs="+", help="image files (after `--` when one starts with -)")
    predict.add_argument("--classes", nargs="+", action="extend", default=None, metavar="NAME",
                         help="new classes scored together with the model's own (--classes=-x for a name that starts "
                              "with -)")
    predict.add_argument("--classes-from", default=None, metavar="F",
                         help="a file of new class names, one per line (# starts a comment)")
    predict.add_argument("--format", choices=FORMATS, default="csv",
                         help="csv (default): a header and one row per image; jsonl: one JSON object per image")
    predict.set_defaults(run=_predict)

    reproduce = commands.add_parser("reproduce", add_help=False, help="rerun the paper's experiments (chapters 7, 8 "
                                                                      "and 10) through papermill",
                                    description="python -m llu_core.report.reproduce; --help lists its options.")
    reproduce.add_argument("options", nargs=argparse.REMAINDER)  # main passes them on unparsed
    return parser


def _show_warning(message, category, filename, lineno, file=None, line=None):
    """Warnings (an image that cannot be read, a cache that cannot be written) as one line on stderr."""
    print(f"warning: {message}", file=sys.stderr)


#: The library's parameter names that commands take as options: a message that starts with one names the option.
_OPTIONS = {name: "--" + name.replace("_", "-") for name in (
    "out", "shots", "seed", "gamma", "pretrained", "device", "classes", "hold_out_classes", "root")}


def _message(error):
    """An error's message without Python's decoration (``[Errno 2]``), naming the option the user typed
    where the library names its parameter (``out ...`` becomes ``--out ...``)."""
    message = str(error)
    if isinstance(error, OSError) and error.strerror and error.filename is None and error.args[1:] == (error.strerror,):
        message = error.strerror
    name = re.match(r"[a-z_]+(?=[=:]| (?!file\b))", message)  # "classes file ..." is a file, not --classes
    if name and name.group() in _OPTIONS:
        return _OPTIONS[name.group()] + message[name.end():]
    return message


def main(argv=None):
    """Run the command line; returns the exit status."""
    argv = sys.argv[1:] if argv is None else list(argv)
    if argv[:1] == ["reproduce"]:  # its own parser reads its options
        run, arguments = _reproduce, argv[1:]
    else:
        arguments = _parser().parse_args(argv)
        run = arguments.run
    with warnings.catch_warnings():
        warnings.simplefilter("always")  # every unreadable image is named, however often it was before
        warnings.showwarning = _show_warning
        try:
            return run(arguments)
        except (OSError, ValueError, RuntimeError) as error:  # DataUnavailableError is a RuntimeError
            print(f"error: {_message(error)}", file=sys.stderr)
            return 1


if __name__ == "__main__":
    sys.exit(main())
