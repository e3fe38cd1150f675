"""The category classifier (事件智能分类): trained offline from labelled rows
(a CSV, or the incidents the city closed), stored as numbered versions of a
named model under ``settings.INTAKE_MODEL_DIR`` with their training report,
and asked at intake for the most likely categories with their confidence.
docs/intake.md says how it is built and measured.

The method was chosen by measurement (``benchmarks/classify.py``): the
character 1–2-grams of the normalised text (no dictionary needed, robust to
how a city writes its place names) together with jieba's words, weighted by
sublinear tf-idf, and a linear SVM with balanced class weights whose scores
are calibrated to probabilities (sigmoid, 3-fold) — so a confidence reads as
"how often the model is right when it says this".

The store, per model name::

    <INTAKE_MODEL_DIR>/<name>/v0003.joblib   the fitted pipeline
    <INTAKE_MODEL_DIR>/<name>/v0003.json     its training report
    <INTAKE_MODEL_DIR>/<name>/current        "3": the version intake asks

each file written to a temporary name and moved in place (``os.replace``),
the version numbered under a file lock, so a reader never sees half a model
and two trainers never take the same number. The files are pickles written
by this application only; never put a model file from elsewhere there.
"""

from __future__ import annotations

import codecs
import contextlib
import csv
import datetime as dt
import fcntl
import itertools
import json
import logging
import os
import platform
import re
import tempfile
import threading
import time
import unicodedata
from collections import Counter
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import NamedTuple

from django.conf import settings
from django.utils import timezone
from django.utils.translation import gettext

from shanzhi.core.errors import ValidationError
from shanzhi.core.memo import Memo
from shanzhi.geo.bulk import first_undecodable

#: the city's incident model: ``shanzhi intake train --from-incidents`` writes it,
#: intake asks it
DEFAULT_MODEL = "incidents"

MODEL_NAME = re.compile(r"[a-z0-9_-]{1,40}")
#: the seed of the cross-validation folds (the same folds every time)
SEED = 2026
#: how often (seconds) a process looks whether a newer version is current
RECHECK_S = 10.0
#: probabilities need at least this many rows of a class to be calibrated by
#: cross-validation; with fewer (only inside a small cross-validation), a softmax
#: of the SVM's scores stands in
CALIBRATION_FOLDS = 3
FEATURES = {
    "text": "NFKC, lower case, each run of digits read as one 0",
    "chars": "character 1- and 2-grams",
    "words": "jieba 0.42 words (precise mode)",
    "weighting": "tf-idf, sublinear tf, l2 norm; each of the two parts its own vocabulary",
    "classifier": "LinearSVC (C=1, balanced class weights), sigmoid-calibrated "
                  f"({CALIBRATION_FOLDS}-fold CalibratedClassifierCV)",
}
APPENDED = ["predicted", "confidence", "candidate_2", "confidence_2", "candidate_3",
            "confidence_3"]
MAX_REPORTED = 100
_SEPARATOR = "\x00"  # between the normalised text and its words in a prepared row


class Suggestion(NamedTuple):
    label: str  # a category code for the incident model; any label for a CSV-trained one
    confidence: float  # 0..1, the model's probability


class RowProblems(ValidationError):
    """Bad rows of a file, one line each; nothing was trained or written."""

    def __init__(self, problems: list[str], total: int) -> None:
        super().__init__(gettext("%(n)s bad row(s); nothing was done") % {"n": total},
                         field="csv", code="bad_rows")
        self.problems = problems

    def lines(self) -> list[str]:
        return self.problems


# ---------------------------------------------------------------- asking

def suggest(text: str, *, model: str = DEFAULT_MODEL, k: int = 3) -> list[Suggestion]:
    """The ``k`` most likely labels for ``text``, best first; [] when the model
    has not been trained yet or the text is blank. Cheap after the first call
    (the model stays loaded; a newer version on disk is picked up)."""
    if not text or not text.strip():
        return []
    pipeline = _memo(model).get().pipeline
    if pipeline is None:
        return []
    return _ranked(pipeline, [text], k)[0]


def classify(texts: Sequence[str], *, model: str = DEFAULT_MODEL,
             k: int = 3) -> list[list[Suggestion]]:
    """The ``k`` most likely labels of each text, best first ([] for a blank
    text). Unlike :func:`suggest`, a model never trained is an error."""
    pipeline = _memo(model).get().pipeline
    if pipeline is None:
        raise ValidationError(
            gettext("There is no model named %(name)s (train it first: shanzhi intake train).")
            % {"name": model}, field="model", code="no_model")
    answers: list[list[Suggestion]] = [[] for _ in texts]
    asked = [i for i, text in enumerate(texts) if text and text.strip()]
    for i, ranked in zip(asked, _ranked(pipeline, [texts[i] for i in asked], k), strict=True):
        answers[i] = ranked
    return answers


def preload(model: str = DEFAULT_MODEL) -> threading.Thread:
    """Load the model (and scikit-learn, and jieba's dictionary: seconds) in
    a background thread, so that the first report of a fresh web process
    does not wait for it. The thread is returned (a test may join it)."""
    def load() -> None:
        try:
            _memo(model).get()
        except Exception:  # the first suggest() tries again and says why
            logging.getLogger(__name__).exception("preloading the model %s failed", model)

    thread = threading.Thread(target=load, name=f"shanzhi-model-{model}", daemon=True)
    thread.start()
    return thread


def model_info(model: str = DEFAULT_MODEL) -> dict | None:
    """The current version's training report (JSON-ready: name, version,
    trained_at, rows, classes, accuracy, macro_f1, per_class, source), or None."""
    folder = _folder(model)
    version = _current(folder)
    if not version:
        return None
    try:
        return json.loads((folder / f"v{version:04d}.json").read_text("utf-8"))
    except FileNotFoundError:
        return None


def _ranked(pipeline, texts: list[str], k: int) -> list[list[Suggestion]]:
    if not texts:
        return []
    probabilities = pipeline.predict_proba([prepare(t) for t in texts])
    classes = pipeline.classes_
    out = []
    for row in probabilities:
        best = row.argsort()[::-1][:max(k, 0)]
        out.append([Suggestion(str(classes[i]), round(float(row[i]), 4)) for i in best])
    return out


# ---------------------------------------------------------------- training

def train(texts: Sequence[str], labels: Sequence[str], *, model: str = DEFAULT_MODEL,
          source: str = "", folds: int = 5, now: dt.datetime | None = None) -> dict:
    """Cross-validate the method on the rows (stratified ``folds``-fold, fixed
    seed: fewer folds when the smallest class has fewer rows), then fit it on
    all of them and store it as the model's next version, which becomes
    current. Returns the training report (also stored beside the model)."""
    from sklearn.model_selection import StratifiedKFold, cross_val_predict

    folder = _folder(model)
    texts, labels = _check_rows(texts, labels, folds)
    started = time.monotonic()
    counts = Counter(labels)
    n_splits = min(folds, min(counts.values()))
    prepared = [prepare(t) for t in texts]
    cv = StratifiedKFold(n_splits=n_splits, shuffle=True, random_state=SEED)
    with _one_thread():
        probabilities = cross_val_predict(build_pipeline(), prepared, labels, cv=cv,
                                          method="predict_proba")
        pipeline = build_pipeline().fit(prepared, labels)
    report = {
        "name": model,
        "trained_at": (now or timezone.now()).isoformat(),
        "source": source,
        "rows": len(texts),
        "classes": dict(sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))),
        "folds": n_splits,
        "seed": SEED,
        **scores(labels, probabilities, [str(c) for c in pipeline.classes_]),
        "duration_s": round(time.monotonic() - started, 2),
        "features": FEATURES,
        "libraries": _libraries(),
    }
    report["version"] = _store(folder, pipeline, report)
    _forget(model)
    return report


def scores(labels: Sequence[str], probabilities, classes: list[str]) -> dict:
    """Accuracy, macro-F1, top-3 accuracy and the per-class figures of
    cross-validated probabilities (columns in the order of ``classes``)."""
    import numpy as np
    from sklearn.metrics import accuracy_score, f1_score, precision_recall_fscore_support

    truth = np.asarray(labels)
    order = np.argsort(-probabilities, axis=1)
    predicted = np.asarray(classes)[order[:, 0]]
    column = {c: i for i, c in enumerate(classes)}
    top3 = np.mean([column[t] in row[:3] for t, row in zip(truth, order, strict=True)])
    precision, recall, f1, support = precision_recall_fscore_support(
        truth, predicted, labels=classes, zero_division=0)
    return {
        "accuracy": round(float(accuracy_score(truth, predicted)), 4),
        "macro_f1": round(float(f1_score(truth, predicted, labels=classes, average="macro",
                                         zero_division=0)), 4),
        "top3_accuracy": round(float(top3), 4),
        "per_class": {c: {"precision": round(float(p), 4), "recall": round(float(r), 4),
                          "f1": round(float(f), 4), "support": int(s)}
                      for c, p, r, f, s in zip(classes, precision, recall, f1, support,
                                               strict=True)},
    }


def _check_rows(texts: Sequence[str], labels: Sequence[str],
                folds: int) -> tuple[list[str], list[str]]:
    if len(texts) != len(labels):
        raise ValidationError(gettext("There are %(t)s texts but %(l)s labels.")
                              % {"t": len(texts), "l": len(labels)}, field="labels")
    if folds < 2:
        raise ValidationError(gettext("Cross-validation needs at least 2 folds."),
                              field="folds")
    texts = [str(t or "").strip() for t in texts]
    labels = [str(label or "").strip() for label in labels]
    blank = [f"row {i}: " + (gettext("the text is blank") if not t else
                             gettext("the label is blank"))
             for i, (t, label) in enumerate(zip(texts, labels, strict=True), start=1)
             if not t or not label]
    if blank:
        raise RowProblems(blank[:MAX_REPORTED], len(blank))
    counts = Counter(labels)
    if not counts:
        raise ValidationError(gettext("There are no rows to learn from."), field="csv")
    if len(counts) < 2:
        raise ValidationError(
            gettext("All rows have the same label (%(label)s): a classifier needs at least "
                    "two classes.") % {"label": labels[0]}, field="labels", code="one_class")
    single = sorted(label for label, n in counts.items() if n < 2)
    if single:
        raise ValidationError(
            gettext("Each class needs at least 2 rows to be cross-validated; only one row "
                    "has the label %(labels)s.") % {"labels": ", ".join(single)},
            field="labels", code="class_too_small")
    return texts, labels


def _libraries() -> dict[str, str]:
    import jieba
    import numpy
    import sklearn

    return {"python": platform.python_version(), "scikit-learn": sklearn.__version__,
            "jieba": jieba.__version__, "numpy": numpy.__version__}


# ---------------------------------------------------------------- the method

_DIGITS = re.compile(r"\d+")
_SPACE = re.compile(r"[\s\x00-\x1f\x7f]+")


def normalise(text: str) -> str:
    """Full-width forms folded (NFKC), lower case, every number read as 0,
    white space and control characters as one space."""
    text = unicodedata.normalize("NFKC", text).lower()
    return _SPACE.sub(" ", _DIGITS.sub("0", text)).strip()


def prepare(text: str) -> str:
    """One row as the pipeline reads it: the normalised text and its words."""
    norm = normalise(text)
    return norm + _SEPARATOR + " ".join(w for w in _jieba().lcut(norm) if w.strip())


def char_grams(prepared: str) -> list[str]:
    text = prepared.split(_SEPARATOR, 1)[0]
    grams = [c for c in text if c != " "]
    grams += [a + b for a, b in itertools.pairwise(text) if a != " " and b != " "]
    return grams


def words(prepared: str) -> list[str]:
    return prepared.split(_SEPARATOR, 1)[1].split()


def build_pipeline():
    """A fresh, unfitted pipeline of the method (see the module docstring)."""
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.pipeline import make_pipeline, make_union

    return make_pipeline(
        make_union(TfidfVectorizer(analyzer=char_grams, sublinear_tf=True),
                   TfidfVectorizer(analyzer=words, sublinear_tf=True)),
        _calibrated_svm()())


class _CalibratedSVMMethods:
    """A linear SVM (balanced class weights) with probabilities: sigmoid
    calibration by cross-validation (up to ``CALIBRATION_FOLDS`` folds) when
    every class has 2 rows or more, else a softmax of its scores. The class
    itself, :data:`CalibratedSVM`, is made on first use with scikit-learn's
    bases (importing scikit-learn takes seconds; a process that never trains
    or asks should not pay for it)."""

    def __init__(self, C: float = 1.0) -> None:
        self.C = C

    def fit(self, X, y):
        from sklearn.calibration import CalibratedClassifierCV
        from sklearn.svm import LinearSVC

        smallest = min(Counter(y).values())
        svm = LinearSVC(C=self.C, class_weight="balanced")
        if smallest >= 2:
            self.model_ = CalibratedClassifierCV(svm, method="sigmoid",
                                                 cv=min(CALIBRATION_FOLDS, smallest)).fit(X, y)
        else:
            self.model_ = svm.fit(X, y)
        self.classes_ = self.model_.classes_
        return self

    def predict_proba(self, X):
        import numpy as np

        if hasattr(self.model_, "predict_proba"):
            return self.model_.predict_proba(X)
        scores = self.model_.decision_function(X)
        if scores.ndim == 1:
            scores = np.column_stack([-scores, scores])
        scores = np.exp(scores - scores.max(axis=1, keepdims=True))
        return scores / scores.sum(axis=1, keepdims=True)

    def predict(self, X):
        return self.classes_[self.predict_proba(X).argmax(axis=1)]


_classes: dict[str, type] = {}


def _calibrated_svm() -> type:
    if "CalibratedSVM" not in _classes:
        from sklearn.base import BaseEstimator, ClassifierMixin

        _classes["CalibratedSVM"] = type(
            "CalibratedSVM", (ClassifierMixin, _CalibratedSVMMethods, BaseEstimator),
            {"__module__": __name__, "__doc__": _CalibratedSVMMethods.__doc__})
    return _classes["CalibratedSVM"]


def __getattr__(name: str):
    """``CalibratedSVM`` made on first use (PEP 562): unpickling a model finds it here."""
    if name == "CalibratedSVM":
        return _calibrated_svm()
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def _one_thread():
    """The numeric libraries on one thread: the small problems here gain
    nothing from more, and on a busy machine their threads' spinning made
    training four times slower (measured)."""
    from threadpoolctl import threadpool_limits

    return threadpool_limits(limits=1)


_jieba_lock = threading.Lock()
_jieba_module = None


def _jieba():
    """jieba, its dictionary loaded once per process, quietly."""
    global _jieba_module
    if _jieba_module is None:
        with _jieba_lock:
            if _jieba_module is None:
                import jieba

                jieba.setLogLevel(logging.WARNING)
                jieba.initialize()
                _jieba_module = jieba
    return _jieba_module


# ---------------------------------------------------------------- the store

class _Loaded(NamedTuple):
    version: int
    pipeline: object | None


_memos: dict[str, Memo[_Loaded]] = {}
_memos_lock = threading.Lock()


def _folder(model: str) -> Path:
    if not isinstance(model, str) or not MODEL_NAME.fullmatch(model):
        raise ValidationError(
            gettext("A model name is 1 to 40 lower-case letters, digits, - or _ (got %(name)r).")
            % {"name": model}, field="model")
    return Path(settings.INTAKE_MODEL_DIR) / model


def _current(folder: Path) -> int:
    try:
        return int((folder / "current").read_text("ascii").strip() or 0)
    except (FileNotFoundError, ValueError):
        return 0


def _memo(model: str) -> Memo[_Loaded]:
    """The loaded model, rebuilt when its current version (or the store) changes."""
    _folder(model)  # a valid name
    memo = _memos.get(model)
    if memo is None:
        with _memos_lock:
            memo = _memos.get(model)
            if memo is None:
                memo = _memos[model] = Memo(lambda: _load(model), ttl=RECHECK_S,
                                            stamp=lambda: _stamp(model))
    return memo


def _stamp(model: str) -> tuple[str, int]:
    folder = _folder(model)
    return str(folder), _current(folder)


def _load(model: str) -> _Loaded:
    import joblib

    folder = _folder(model)
    version = _current(folder)
    if not version:
        return _Loaded(0, None)
    _jieba()  # the words of every text asked
    return _Loaded(version, joblib.load(folder / f"v{version:04d}.joblib"))


def _forget(model: str) -> None:
    memo = _memos.get(model)
    if memo is not None:
        memo.reset()


@contextlib.contextmanager
def _locked(folder: Path) -> Iterator[None]:
    with open(folder / ".lock", "a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


@contextlib.contextmanager
def training(model: str) -> Iterator[bool]:
    """Whether this process alone is training ``model`` now (a lock file held
    for the duration; the workers' nightly retraining runs once)."""
    folder = _folder(model)
    folder.mkdir(parents=True, exist_ok=True)
    with open(folder / ".training", "a") as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            yield False
            return
        try:
            yield True
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def _store(folder: Path, pipeline, report: dict) -> int:
    """Write the next version and make it current; returns its number."""
    import joblib

    folder.mkdir(parents=True, exist_ok=True)
    with _locked(folder):
        versions = [int(p.stem[1:]) for p in folder.glob("v[0-9][0-9][0-9][0-9].json")]
        version = max(versions, default=0) + 1
        report["version"] = version
        stem = folder / f"v{version:04d}"
        _atomic(stem.with_suffix(".joblib"), lambda path: joblib.dump(pipeline, path))
        _atomic(stem.with_suffix(".json"), lambda path: path.write_text(
            json.dumps(report, ensure_ascii=False, indent=2), "utf-8"))
        _atomic(folder / "current", lambda path: path.write_text(f"{version}\n", "ascii"))
    return version


def _atomic(target: Path, write) -> None:
    fd, tmp = tempfile.mkstemp(prefix=f".{target.name}-", dir=target.parent)
    os.close(fd)
    try:
        write(Path(tmp))
        os.replace(tmp, target)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)


def age(model: str = DEFAULT_MODEL, *, now: dt.datetime | None = None) -> dt.timedelta | None:
    """How long ago the current version was trained (None: never)."""
    info = model_info(model)
    if info is None:
        return None
    return (now or timezone.now()) - dt.datetime.fromisoformat(info["trained_at"])


# ---------------------------------------------------------------- CSV files

def read_labelled_csv(path: Path, *, text_cols: Sequence[str], label_col: str,
                      encoding: str = "utf-8-sig") -> tuple[list[str], list[str]]:
    """(texts, labels) of a CSV file: the text is the ``text_cols`` joined by a
    line break. A blank text or label is reported by line and column."""
    _header, rows = _read_csv(path, encoding=encoding,
                              columns=[*(("--text-col", c) for c in text_cols),
                                       ("--label-col", label_col)])
    texts, labels, problems = [], [], []
    for line, cells in rows:
        text = "\n".join(c.strip() for c in cells[:-1] if c.strip())
        if not text:
            problems.append(f"{path}: line {line}, column {'+'.join(text_cols)}: "
                            + gettext("the text is blank"))
        if not cells[-1].strip():
            problems.append(f"{path}: line {line}, column {label_col}: "
                            + gettext("the label is blank"))
        texts.append(text)
        labels.append(cells[-1].strip())
    if problems:
        raise RowProblems(problems[:MAX_REPORTED], len(problems))
    return texts, labels


def classify_csv(*, source: Path, target: Path, text_cols: Sequence[str],
                 model: str = DEFAULT_MODEL, encoding: str = "utf-8-sig") -> dict:
    """Copy ``source`` to ``target`` (UTF-8) with the best three labels and
    their confidence appended (``APPENDED``); nothing is written when a row
    is bad or the model unknown. Returns {"rows", "model", "version"}."""
    info = model_info(model)
    if info is None:
        raise ValidationError(
            gettext("There is no model named %(name)s (train it first: shanzhi intake train).")
            % {"name": model}, field="model", code="no_model")
    header, rows = _read_csv(source, encoding=encoding,
                             columns=[("--text-col", c) for c in text_cols], keep=True)
    problems = [f"{source}: line {line}, column {'+'.join(text_cols)}: "
                + gettext("the text is blank")
                for line, cells, _record in rows if not any(c.strip() for c in cells)]
    if problems:
        raise RowProblems(problems[:MAX_REPORTED], len(problems))
    answers = classify(["\n".join(c.strip() for c in cells if c.strip())
                        for _line, cells, _record in rows], model=model, k=3)
    target.parent.mkdir(parents=True, exist_ok=True)

    def write(path: Path) -> None:
        with path.open("w", newline="", encoding="utf-8") as out:
            writer = csv.writer(out)
            writer.writerow([*header, *APPENDED])
            for (_line, _cells, record), ranked in zip(rows, answers, strict=True):
                cells = []
                for i in range(3):
                    cells += ([ranked[i].label, f"{ranked[i].confidence:.4f}"]
                              if i < len(ranked) else ["", ""])
                writer.writerow([*record, *cells])

    _atomic(target, write)
    return {"rows": len(rows), "model": model, "version": info["version"]}


def _read_csv(path: Path, *, encoding: str, columns: list[tuple[str, str]],
              keep: bool = False) -> tuple[list[str], list]:
    """(header, rows): each row (line, the cells of ``columns``[, the whole
    record]); blank lines skipped. Clear errors for a missing or empty file,
    a header only, an unknown column and bytes not in ``encoding``."""
    try:
        codecs.lookup(encoding)
    except LookupError:
        raise ValidationError(gettext("unknown encoding %(e)r (e.g. utf-8, gb18030)")
                              % {"e": encoding}, field="encoding") from None
    if not path.is_file():
        raise ValidationError(f"{path}: " + gettext("no such file"), field="csv")
    try:
        with path.open(newline="", encoding=encoding) as handle:
            reader = csv.reader(handle)
            header = next(reader, None)
            if header is None or not any(h.strip() for h in header):
                raise ValidationError(f"{path}: " + gettext("the file is empty"), field="csv")
            header = [h.strip() for h in header]
            index = []
            for option, name in columns:
                if name not in header:
                    raise ValidationError(
                        f"{path}: " + gettext("no column %(name)r for %(option)s; the columns "
                                              "are %(columns)s")
                        % {"name": name, "option": option, "columns": ", ".join(header)},
                        field=option)
                index.append(header.index(name))
            rows = []
            for record in reader:
                if not any(cell.strip() for cell in record):
                    continue
                cells = [record[i] if i < len(record) else "" for i in index]
                rows.append((reader.line_num, cells, record) if keep
                            else (reader.line_num, cells))
    except UnicodeDecodeError:
        offset, line = first_undecodable(path, encoding)
        raise ValidationError(
            f"{path}: " + gettext("not %(encoding)s at byte %(offset)s (line %(line)s); save "
                                  "the file as UTF-8, or name its encoding with --encoding "
                                  "(e.g. gb18030)")
            % {"encoding": "UTF-8" if encoding == "utf-8-sig" else encoding,
               "offset": offset, "line": line}, field="csv", code="encoding") from None
    if not rows:
        raise ValidationError(f"{path}: " + gettext("there are no rows under the header"),
                              field="csv")
    return header, rows
