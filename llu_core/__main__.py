"""The command line: ``python -m llu_core COMMAND``.

    python -m llu_core fetch-data [--root DIR]
    python -m llu_core fit IMAGES_DIR --out MODEL.safetensors [--backbone offline|ViT-B-16 --pretrained FILE]
                           [--shots N] [--seed S] [--classes-file F] [--gamma G]
    python -m llu_core predict MODEL.safetensors IMAGE [IMAGE ...]

Each command is a thin layer over the library (:mod:`llu_core.data.fetch`,
:mod:`llu_core.evaluation.image_folders`): it parses its arguments, calls one function and prints
the result. Errors of the input (a missing folder, a folder with one class, a model from another
backbone, data that cannot be fetched) end the command with one message on stderr and exit
status 1, without a traceback; images that cannot be read are named on stderr and skipped.
Progress bars go to stderr; ``TQDM_DISABLE=1`` switches them off.
"""

import argparse
import sys
import warnings


def _fetch_data(arguments):
    from .data.fetch import fetch_data

    print(fetch_data(root=arguments.root).summary())
    return 0


def _fit(arguments):
    from .evaluation.image_folders import fit_image_folder

    result = fit_image_folder(arguments.images, arguments.out, backbone=arguments.backbone,
                              pretrained=arguments.pretrained, shots=arguments.shots, seed=arguments.seed,
                              classes_file=arguments.classes_file, gamma=arguments.gamma, device=arguments.device)
    print(result.summary())
    return 0


def _predict(arguments):
    from .evaluation.image_folders import predict_images

    predictions = predict_images(arguments.model, arguments.images, backbone=arguments.backbone,
                                 pretrained=arguments.pretrained, device=arguments.device)
    for prediction in predictions:
        print(f"{prediction.path}\t{prediction.classname}\t{prediction.probability:.4f}")
    return 0 if len(predictions) == len(arguments.images) else 1


def _parser():
    parser = argparse.ArgumentParser(prog="python -m llu_core",
                                     description="LLU Book's command line: fetch the offline data, fit LLU on a "
                                                 "folder of images, classify images with the saved model.")
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
                               "model's)")
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
    fit.set_defaults(run=_fit)

    predict = commands.add_parser("predict", parents=[backbone], help="classify images with a saved model",
                                  description="Print one line per image: path, class, probability (tab-separated).")
    predict.add_argument("model", metavar="MODEL.safetensors", help="a model saved by `fit`")
    predict.add_argument("images", metavar="IMAGE", nargs="+", help="image files")
    predict.set_defaults(run=_predict)
    return parser


def _show_warning(message, category, filename, lineno, file=None, line=None):
    """Warnings (an image that cannot be read, a cache that cannot be written) as one line on stderr."""
    print(f"warning: {message}", file=sys.stderr)


def main(argv=None):
    """Run the command line; returns the exit status."""
    arguments = _parser().parse_args(argv)
    shown = warnings.showwarning
    warnings.showwarning = _show_warning
    try:
        return arguments.run(arguments)
    except (FileNotFoundError, ValueError, RuntimeError) as error:  # DataUnavailableError is a RuntimeError
        print(f"error: {error}", file=sys.stderr)
        return 1
    finally:
        warnings.showwarning = shown


if __name__ == "__main__":
    sys.exit(main())
