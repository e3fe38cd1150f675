"""How well the category classifier (``shanzhi.intake.textclass``) sorts real
Chinese citizen messages, against plain TF-IDF + linear baselines on the same
cross-validation folds, and how fast it trains and answers.

    .venv/bin/python benchmarks/classify.py
    .venv/bin/python benchmarks/classify.py --repeats 1          # one 5-fold split, quicker
    .venv/bin/python benchmarks/classify.py --csv FILE --text-col subject --text-col detail \\
        --label-col label_l1

The data (default): ``/work/shared/data/reference/complaints-zh/
fujian2_messages_labeled.csv`` — 495 messages to a city's leadership mailbox,
each labelled with one of 7 first-level classes (label_l1); the text is the
subject and the detail joined by a line break.

Methods, each on the same ``--repeats`` × stratified ``--folds``-fold splits
(seeds 0, 1, …):

- ``baseline LR``: TF-IDF of jieba words (scikit-learn's defaults) +
  ``LogisticRegression()`` with its defaults;
- ``baseline SVM``: the same features + ``LinearSVC()`` with its defaults;
- ``shanzhi``: ``textclass.build_pipeline()`` on ``textclass.prepare``d text,
  exactly what ``shanzhi intake train`` cross-validates and stores.

Printed: accuracy, macro-F1 and top-3 accuracy (mean ± standard deviation
over the repeats), the difference of ours to each baseline with the number of
splits it wins, the time to fit on all rows, the milliseconds per
``suggest()`` call (one text at a time, as at intake), and the first
``suggest()`` in a fresh process (Python start, Django set-up, loading the
model and jieba's dictionary).
"""

from __future__ import annotations

import argparse
import logging
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT / "src") not in sys.path:
    sys.path.insert(0, str(ROOT / "src"))

DEFAULT_CSV = Path("/work/shared/data/reference/complaints-zh/fujian2_messages_labeled.csv")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--csv", type=Path, default=DEFAULT_CSV)
    parser.add_argument("--text-col", action="append", default=None)
    parser.add_argument("--label-col", default="label_l1")
    parser.add_argument("--folds", type=int, default=5)
    parser.add_argument("--repeats", type=int, default=3,
                        help="cross-validations with shuffling seeds 0..N-1 (default 3)")
    args = parser.parse_args()
    text_cols = args.text_col or ["subject", "detail"]

    data_dir = Path(tempfile.mkdtemp(prefix="shanzhi-bench-classify-"))
    os.environ.pop("SHANZHI_DATABASE_URL", None)
    os.environ["SHANZHI_DATA_DIR"] = str(data_dir)
    os.environ["DJANGO_SETTINGS_MODULE"] = "shanzhi.settings"
    import django

    django.setup()
    import jieba
    import numpy as np
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.linear_model import LogisticRegression
    from sklearn.model_selection import StratifiedKFold
    from sklearn.pipeline import make_pipeline
    from sklearn.svm import LinearSVC
    from threadpoolctl import threadpool_limits

    from shanzhi.intake import textclass

    jieba.setLogLevel(logging.WARNING)
    texts, labels = textclass.read_labelled_csv(args.csv, text_cols=text_cols,
                                                label_col=args.label_col)
    y = np.asarray(labels)
    classes = sorted(set(labels))
    print(f"{args.csv.name}: {len(texts)} rows, {len(classes)} classes "
          f"(text {'+'.join(text_cols)}, label {args.label_col}); {args.repeats} × "
          f"stratified {args.folds}-fold cross-validation, the same splits for every method")

    words = [" ".join(w for w in jieba.lcut(t) if w.strip()) for t in texts]
    prepared = [textclass.prepare(t) for t in texts]

    def baseline(classifier):
        return make_pipeline(TfidfVectorizer(tokenizer=str.split, token_pattern=None,
                                             lowercase=False), classifier)

    methods = {
        "baseline LR": (lambda: baseline(LogisticRegression()), words),
        "baseline SVM": (lambda: baseline(LinearSVC()), words),
        "shanzhi": (textclass.build_pipeline, prepared),
    }
    results: dict[str, list[dict]] = {name: [] for name in methods}
    for seed in range(args.repeats):
        splits = list(StratifiedKFold(args.folds, shuffle=True, random_state=seed).split(texts, y))
        for name, (build, inputs) in methods.items():
            scores = np.zeros((len(texts), len(classes)))
            with threadpool_limits(limits=1):
                for train, test in splits:
                    model = build().fit([inputs[i] for i in train], y[train])
                    rows = [inputs[i] for i in test]
                    got = (model.predict_proba(rows) if hasattr(model, "predict_proba")
                           else model.decision_function(rows))
                    scores[np.ix_(test, [classes.index(c) for c in model.classes_])] = got
            figures = textclass.scores(labels, scores, classes)
            results[name].append(figures)
            print(f"  seed {seed}  {name:13s} accuracy {figures['accuracy']:.3f}  "
                  f"macro-F1 {figures['macro_f1']:.3f}  top-3 {figures['top3_accuracy']:.3f}",
                  flush=True)

    print(f"\n{'method':14s} {'accuracy':>15s} {'macro-F1':>15s} {'top-3':>15s}")
    for name, runs in results.items():
        print(f"{name:14s} " + " ".join(_mean_sd([r[k] for r in runs])
                                         for k in ("accuracy", "macro_f1", "top3_accuracy")))
    ours = results["shanzhi"]
    for name in ("baseline LR", "baseline SVM"):
        for key, label in (("accuracy", "accuracy"), ("macro_f1", "macro-F1")):
            diffs = [o[key] - b[key] for o, b in zip(ours, results[name], strict=True)]
            wins = sum(d > 0 for d in diffs)
            print(f"shanzhi − {name}: {label} {statistics.mean(diffs) * 100:+.1f} points "
                  f"(better in {wins} of {len(diffs)} cross-validations)")

    # speed: fit on everything as `shanzhi intake train` stores it, then ask one at a time
    started = time.perf_counter()
    report = textclass.train(texts, labels, model="bench", folds=args.folds, source=args.csv.name)
    train_s = time.perf_counter() - started
    started = time.perf_counter()
    with threadpool_limits(limits=1):
        textclass.build_pipeline().fit(prepared, y)
    fit_s = time.perf_counter() - started
    textclass.suggest(texts[0], model="bench")  # loaded
    times = []
    for text in texts:
        started = time.perf_counter()
        textclass.suggest(text, model="bench")
        times.append((time.perf_counter() - started) * 1000)
    times.sort()
    chars = statistics.mean(len(t) for t in texts)
    print(f"\ntraining `shanzhi intake train` ({args.folds}-fold report + final fit): "
          f"{train_s:.1f} s; the final fit alone {fit_s:.1f} s "
          f"(stored report: accuracy {report['accuracy']:.3f}, macro-F1 {report['macro_f1']:.3f})")
    print(f"suggest(), one text at a time ({chars:.0f} characters on average): "
          f"mean {statistics.mean(times):.1f} ms, p50 {times[len(times) // 2]:.1f} ms, "
          f"p95 {times[int(len(times) * 0.95)]:.1f} ms")
    print(f"first suggest() in a fresh process: {_first_suggest(data_dir)}")


def _first_suggest(data_dir: Path) -> str:
    code = ("import os, time; t0 = time.perf_counter(); import django; "
            "os.environ['DJANGO_SETTINGS_MODULE'] = 'shanzhi.settings'; django.setup(); "
            "from shanzhi.intake import textclass; t1 = time.perf_counter(); "
            "textclass.suggest('小区门口道路破损严重，晚上没有路灯', model='bench'); "
            "t2 = time.perf_counter(); "
            "textclass.suggest('学校周边交通拥堵', model='bench'); t3 = time.perf_counter(); "
            "print(f'{t1 - t0:.2f} {t2 - t1:.2f} {(t3 - t2) * 1000:.1f}')")
    env = {**os.environ, "SHANZHI_DATA_DIR": str(data_dir),
           "PYTHONPATH": str(ROOT / "src")}
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True,
                         check=True).stdout.split()
    setup_s, first_s, second_ms = out
    return (f"Django set-up {setup_s} s, then the first suggest() {first_s} s (scikit-learn "
            f"imported, model and jieba dictionary loaded), the second {second_ms} ms")


def _mean_sd(values: list[float]) -> str:
    sd = statistics.stdev(values) if len(values) > 1 else 0.0
    return f"{statistics.mean(values):.3f} ± {sd:.3f}".rjust(15)


if __name__ == "__main__":
    main()
