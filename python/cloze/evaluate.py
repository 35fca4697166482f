"""cloze.evaluate: accuracy, macro-F1, per-class figures and the confusion
matrix on labelled data, the same dict `cloze eval --json` prints."""
import json
import os
import time

from . import _check, _cloze
from ._cloze import ClozeError, DEFAULT_MODEL


def _rows(data, gold, text_column, label_column, format):
    """(texts or None per row, gold or None per row, reader error per row, where per row)."""
    if isinstance(data, (str, os.PathLike)):
        records = _cloze.read_records(os.fspath(data), format or "", text_column, label_column)
        return ([r[0] for r in records], [r[1] for r in records], [r[2] or None for r in records],
                [f"input line {r[3]}" for r in records])
    if hasattr(data, "columns"):  # pandas DataFrame
        for c in (text_column, label_column):
            if c not in data.columns:
                raise ClozeError(f"evaluate: no column {c!r} in the frame (columns: {', '.join(map(str, data.columns))})")
        texts, golds = data[text_column].tolist(), data[label_column].tolist()
    else:
        if gold is None:
            raise ClozeError("evaluate: give gold labels (gold=[...]) with a list of texts, "
                             "or pass a DataFrame or a file with a label column")
        texts = data.tolist() if hasattr(data, "tolist") else list(data)
        golds = gold.tolist() if hasattr(gold, "tolist") else list(gold)
        if len(texts) != len(golds):
            raise ClozeError(f"evaluate: {len(texts)} texts but {len(golds)} gold labels")
    return texts, golds, [None] * len(texts), [f"row {i}" for i in range(len(texts))]


def _label_map(label_map):
    if label_map is None:
        return {}
    if isinstance(label_map, str):
        return dict(_cloze.parse_label_map(label_map))
    return {str(k): str(v) for k, v in dict(label_map).items()}


def evaluate(data, gold=None, *, classifier=None, model=DEFAULT_MODEL, text_column="text", label_column="label",
             label_map=None, format=None, progress=False, **classifier_options):
    """Classify labelled data and score it against the gold labels.

    data: a file `cloze eval` reads (.tsv/.csv/.jsonl/.txt), a pandas
    DataFrame, or a list of texts with gold=[labels]. label_map renames gold
    labels ({"1": "positive", "0": "negative"} or "1=positive,0=negative").
    classifier: a cloze.Classifier to reuse; otherwise one is made from
    model and classifier_options (labels, template, calibrate, ...).
    Returns {"model", "n", "scored", "errors", "accuracy", "macro_f1",
    "mean_label_mass", "metrics": {...}, "seconds", "load_seconds",
    "texts_per_s", "tokens_per_s", "threads", "precision"} as `cloze eval --json`.
    """
    from .classifier import Classifier
    t0 = time.perf_counter()
    mapping = _label_map(label_map)
    texts, golds, read_errors, where = _rows(data, gold, text_column, label_column, format)
    if not texts:
        raise ClozeError("evaluate: the input has no rows to classify")
    if classifier is None:
        classifier = Classifier(model, **classifier_options)
    elif classifier_options:
        raise ClozeError(f"evaluate: options {sorted(classifier_options)} apply to a new classifier, "
                         f"not to the one given")
    load_seconds = time.perf_counter() - t0
    labels = classifier.labels
    index = {l: i for i, l in enumerate(labels)}
    gold_idx = []
    for g, w in zip(golds, where):
        if g is None or (isinstance(g, float) and g != g):
            raise ClozeError(f"{w}: no gold label in column {label_column!r}")
        g = str(g)
        mapped = mapping.get(g, g)
        if mapped not in index:
            raise ClozeError(f"{w}: gold label {g!r} is not among the labels ({','.join(labels)}); "
                             f"map it with label_map={{{g!r}: LABEL}}")
        gold_idx.append(index[mapped])
    values = [None if e else t for t, e in zip(texts, read_errors)]
    results = classifier.classify_lenient(values, progress)
    g_ok, p_ok, mass, tokens, errors = [], [], 0.0, 0, 0
    for r, g, e in zip(results, gold_idx, read_errors):
        if e or r.error is not None:
            errors += 1
            continue
        g_ok.append(g)
        p_ok.append(index[r.label])
        mass += r.label_mass
        tokens += r.prompt_tokens
    metrics_json, _report = _cloze.confusion_json(labels, g_ok, p_ok)
    metrics = json.loads(metrics_json)
    seconds = time.perf_counter() - t0
    n, scored = len(texts), len(g_ok)
    return {
        "model": classifier.model_dir,
        "n": n,
        "scored": scored,
        "errors": errors,
        "accuracy": metrics["accuracy"],
        "macro_f1": metrics["macro_f1"],
        "mean_label_mass": mass / scored if scored else 0.0,
        "metrics": metrics,
        "seconds": seconds,
        "load_seconds": load_seconds,
        "texts_per_s": n / seconds,
        "tokens_per_s": tokens / seconds,
        "threads": classifier.threads,
        "precision": classifier.precision,
    }
