"""shanzhi intake train | classify | info — the category classifier (docs/intake.md)."""

from __future__ import annotations

import datetime as dt
import unicodedata
from pathlib import Path

from django.conf import settings
from django.core.management.base import CommandParser
from django.utils import timezone

from shanzhi.core.commands import OperatorCommand
from shanzhi.core.errors import ValidationError
from shanzhi.incidents import learning
from shanzhi.intake import textclass


class Command(OperatorCommand):
    help = ("Smart intake: train a category classifier (from a labelled CSV, or from the "
            "incidents the city closed), classify the rows of a CSV, show a model's report.")

    def add_arguments(self, parser: CommandParser) -> None:
        sub = parser.add_subparsers(dest="action", required=True, parser_class=type(parser))
        model_help = (f"the model's name (default {textclass.DEFAULT_MODEL!r}, the city's "
                      "incident model that intake asks)")
        encoding_help = "the CSV's encoding (default UTF-8; gb18030 for older Excel files)"
        text_help = ("the column holding the text; give it more than once to join several "
                     "columns (e.g. a subject and a detail)")

        p = sub.add_parser("train", called_from_command_line=True,
                           help="train a new version of a model, print its cross-validated "
                           "accuracy and macro-F1 per class",
                           description="Train a new version of a model from a labelled CSV "
                           "(--csv, --text-col, --label-col) or from the closed incidents "
                           "(--from-incidents: the description, labelled with the final "
                           "category). The new version becomes current at once.")
        p.add_argument("--csv", type=Path, help="a CSV file with a header row")
        p.add_argument("--text-col", action="append", default=[], help=text_help)
        p.add_argument("--label-col", help="the column holding the label")
        p.add_argument("--from-incidents", action="store_true",
                       help="learn from the closed incidents typed by people")
        p.add_argument("--since", type=dt.date.fromisoformat,
                       help="with --from-incidents: closed on or after this date (YYYY-MM-DD)")
        p.add_argument("--limit", type=int, default=learning.ROWS,
                       help=f"with --from-incidents: the newest N (default {learning.ROWS:,})")
        p.add_argument("--model", default=textclass.DEFAULT_MODEL, help=model_help)
        p.add_argument("--folds", type=int, default=5,
                       help="cross-validation folds (default 5)")
        p.add_argument("--encoding", default="utf-8-sig", help=encoding_help)

        p = sub.add_parser("classify", called_from_command_line=True,
                           help="append the predicted label, its confidence and the next two "
                           "candidates to each row of a CSV",
                           description="Copy --csv to --out (UTF-8) with the columns "
                           f"{', '.join(textclass.APPENDED)} appended.")
        p.add_argument("--csv", type=Path, required=True)
        p.add_argument("--text-col", action="append", required=True, help=text_help)
        p.add_argument("--model", default=textclass.DEFAULT_MODEL, help=model_help)
        p.add_argument("--out", type=Path, required=True, help="the CSV file to write")
        p.add_argument("--encoding", default="utf-8-sig", help=encoding_help)

        p = sub.add_parser("info", called_from_command_line=True,
                           help="the current version of a model and its training report")
        p.add_argument("--model", default=textclass.DEFAULT_MODEL, help=model_help)

    def handle(self, *args, **opts):
        getattr(self, f"_{opts['action']}")(opts)

    def _train(self, opts) -> None:
        if opts["from_incidents"]:
            if opts["csv"] or opts["text_col"] or opts["label_col"]:
                raise ValidationError("--from-incidents takes no --csv, --text-col or "
                                      "--label-col", field="--from-incidents")
            since = (None if opts["since"] is None else
                     dt.datetime.combine(opts["since"], dt.time(), timezone.get_current_timezone()))
            self.progress("training on the closed incidents …")
            report = learning.train_from_incidents(model=opts["model"], since=since,
                                                   limit=opts["limit"], folds=opts["folds"])
        else:
            for option in ("csv", "label_col"):
                if not opts[option]:
                    raise ValidationError(f"--{option.replace('_', '-')} is required (or "
                                          "--from-incidents)", field=f"--{option}")
            if not opts["text_col"]:
                raise ValidationError("--text-col is required (or --from-incidents)",
                                      field="--text-col")
            texts, labels = textclass.read_labelled_csv(
                opts["csv"], text_cols=opts["text_col"], label_col=opts["label_col"],
                encoding=opts["encoding"])
            self.progress(f"training on {len(texts):,} rows …")
            report = textclass.train(texts, labels, model=opts["model"], folds=opts["folds"],
                                     source=f"{opts['csv'].name}: text {'+'.join(opts['text_col'])}"
                                            f", label {opts['label_col']}")
        self.stdout.write(format_report(report))

    def _classify(self, opts) -> None:
        done = textclass.classify_csv(source=opts["csv"], target=opts["out"],
                                      text_cols=opts["text_col"], model=opts["model"],
                                      encoding=opts["encoding"])
        self.stdout.write(f"{done['rows']:,} rows classified by {done['model']} "
                          f"v{done['version']} → {opts['out']}")

    def _info(self, opts) -> None:
        report = textclass.model_info(opts["model"])
        if report is None:
            raise ValidationError(f"There is no model named {opts['model']} (train it first: "
                                  "shanzhi intake train).", field="--model", code="no_model")
        self.stdout.write(format_report(report))


def format_report(report: dict) -> str:
    """The training report as an operator reads it: the overall figures, then
    precision, recall and F1 per class."""
    lines = [
        f"model {report['name']} v{report['version']} (trained {report['trained_at'][:19]}): "
        f"{report['rows']:,} rows, {len(report['classes'])} classes; {report['source']}",
        f"{report['folds']}-fold stratified cross-validation (seed {report['seed']}): "
        f"accuracy {report['accuracy']:.3f}, macro-F1 {report['macro_f1']:.3f}, "
        f"top-3 accuracy {report['top3_accuracy']:.3f}",
        "",
        f"{_pad('class', 24)} precision  recall      F1    rows",
    ]
    for label, row in sorted(report["per_class"].items(), key=lambda kv: -kv[1]["support"]):
        lines.append(f"{_pad(label, 24)} {row['precision']:9.3f} {row['recall']:7.3f} "
                     f"{row['f1']:7.3f} {row['support']:7,}")
    lines += ["", f"trained in {report['duration_s']:.1f} s; stored as "
              f"{Path(settings.INTAKE_MODEL_DIR) / report['name']}/v{report['version']:04d}"]
    return "\n".join(lines)


def _pad(text: str, width: int) -> str:
    """``text`` padded to ``width`` terminal columns (a Chinese character takes two)."""
    columns = sum(2 if unicodedata.east_asian_width(c) in "WF" else 1 for c in text)
    return text + " " * max(width - columns, 1)
