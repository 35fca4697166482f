"""cloze.Classifier: zero-shot classification, the seed notebook's method made
general and exact (the same results as `cloze classify`)."""
import dataclasses
import os

from . import _check, _cloze
from ._cloze import ClozeError, DEFAULT_MODEL, SEED_TEMPLATE
from .progress import bar

# Texts per engine call: what `cloze classify` hands the classifier at once,
# so the progress bar moves and the speed is the CLI's.
CHUNK = 64


@dataclasses.dataclass
class Result:
    """One classified text. For a text that could not be scored (only in
    classify_frame / cloze.dask, which keep going), label is None and error
    says why."""
    label: object                 # str, or None with error
    probs: dict                   # label -> probability (calibrated when asked)
    logits: dict                  # label -> raw score (answer-position logit, or summed log-prob)
    label_mass: float             # probability of answering with any label
    prompt_tokens: int = 0
    truncated: bool = False
    error: object = None

    def to_dict(self, text=None):
        """The object `cloze classify` prints for this text."""
        d = {} if text is None else {"text": text}
        if self.error is not None:
            d.update(label=None, error=self.error)
            return d
        d.update(label=self.label, probs=dict(self.probs), logits=dict(self.logits), label_mass=self.label_mass)
        return d


def _result(c, labels):
    if c.error:
        return Result(None, {}, {}, 0.0, c.prompt_tokens, c.truncated, c.error)
    return Result(c.label, dict(zip(labels, c.probs)), dict(zip(labels, c.scores)), c.label_mass,
                  c.prompt_tokens, c.truncated, None)


def _calibration(calibrate):
    if calibrate in (None, False):
        return "none"
    if calibrate is True:
        return "contextual"
    if not isinstance(calibrate, str):
        raise ClozeError(f"calibrate: expected None, 'contextual' or 'pmi', got {calibrate!r}")
    return calibrate


def _labels(labels):
    if isinstance(labels, str):
        raise ClozeError(f"labels: expected a list of label strings, got the string {labels!r} "
                         f"(write labels=['positive', 'negative'])")
    labels = _check.texts_list(labels, "labels") if labels is not None else None
    if not labels:
        raise ClozeError("labels: the label list is empty; give at least two labels to choose between")
    return labels


class Classifier:
    """``Classifier(model="Qwen/Qwen2-0.5B", labels=["positive", "negative"],
    template=SEED_TEMPLATE)``; `model` is a directory, a Hub id or a loaded
    cloze.Model (shared, not copied).

    Options as `cloze classify` names them: label_prefix (" "), label_score
    ("sum" | "mean"), calibrate (None | "contextual" | "pmi"), content_free,
    pmi_premise, truncate ("none" | "left" | "right"), max_tokens (0: the
    model's context), batch_tokens (4096), special (True: special-token
    strings in texts are special tokens), threads (0: all cores), precision
    ("exact" | "bf16": see cloze.Model; set on the Model when sharing one).
    Calls may come from several Python threads; they take turns on the model.
    """

    def __init__(self, model=DEFAULT_MODEL, labels=("positive", "negative"), template=SEED_TEMPLATE,
                 calibrate=None, label_score="sum", threads=0, *, label_prefix=" ", content_free=None,
                 pmi_premise=None, truncate="none", max_tokens=0, batch_tokens=4096, special=True,
                 label_mass=True, precision=None):
        from .model import Model, check_precision, load_engine
        labels = _labels(labels)
        template = _check.text(template, "template")
        _cloze.check_template(template)  # before the (slow) model load
        if content_free is not None:
            content_free = _check.texts_list(content_free, "content_free")
        for name, v in (("max_tokens", max_tokens), ("batch_tokens", batch_tokens), ("threads", threads)):
            if not isinstance(v, int) or isinstance(v, bool) or v < 0:
                raise ClozeError(f"{name}: expected a non-negative integer, got {v!r}")
        if precision is not None:
            check_precision(precision)
        if isinstance(model, Model):
            native, tok, self.model_name = model._model, model._tok, model.name_or_path
            if threads:
                raise ClozeError("threads: set it when loading the Model, not on a Classifier that shares one")
            if precision is not None and precision != native.precision:
                raise ClozeError(f"precision: the shared Model was loaded with precision={native.precision!r}; "
                                 "set it when loading the Model, not on a Classifier that shares one")
        else:
            native, tok = load_engine(model, threads, "exact" if precision is None else precision)
            self.model_name = os.fspath(model)
        if tok is None:
            raise ClozeError(f"{self.model_name}: no tokenizer.json in the model directory {native.dir}")
        self._model = native
        self._clf = _cloze.Classifier(native, tok, template, labels, _check.text(label_prefix, "label_prefix"),
                                      _check.text(label_score, "label_score"), _calibration(calibrate),
                                      content_free, None if pmi_premise is None else _check.text(pmi_premise, "pmi_premise"),
                                      bool(special), _check.text(truncate, "truncate"), max_tokens, batch_tokens,
                                      bool(label_mass))
        self.labels = list(self._clf.labels)
        self.template = template

    @property
    def model_dir(self):
        return self._model.dir

    @property
    def threads(self):
        return self._model.threads

    @property
    def precision(self):
        return self._model.precision

    def __call__(self, text):
        """Classify one text; raises ClozeError if it cannot be scored."""
        r = self._run([_check.text(text)], False)[0]
        if r.error is not None:
            raise ClozeError(r.error)
        return r

    def classify(self, texts, progress=False, on_error="raise"):
        """Results in input order. Non-strings raise ClozeError naming their
        index. A text that cannot be scored (empty, too long without
        truncate) raises too, or with on_error="keep" gets a Result with
        label None and `error` set, as `cloze classify --on-error keep`."""
        if on_error not in ("raise", "keep"):
            raise ClozeError(f"on_error={on_error!r} is not one of raise, keep")
        results = self._run(_check.texts_list(texts), progress)
        for i, r in enumerate(results):
            if r.error is not None and on_error == "raise":
                raise ClozeError(f"texts[{i}]: {r.error}")
        return results

    def _run(self, texts, progress, desc="classified"):
        """Results for strings, errors kept in place (classify_frame, dask)."""
        out = []
        pbar = bar(len(texts), desc, progress)
        try:
            for i in range(0, len(texts), CHUNK):
                try:
                    chunk = self._clf.classify(texts[i:i + CHUNK])
                except (UnicodeEncodeError, TypeError) as e:
                    raise _check.unicode_error(texts, e) from None
                out.extend(_result(c, self.labels) for c in chunk)
                pbar.update(len(chunk))
        finally:
            pbar.close()
        return out

    def classify_lenient(self, values, progress=False):
        """Like classify, but a value that is not a string (None, NaN, a number)
        or cannot be scored gets a Result with `error` in its place."""
        values = values.tolist() if hasattr(values, "tolist") else list(values)
        strings = [v for v in values if isinstance(v, str)]
        scored = iter(self._run(strings, progress))
        return [next(scored) if isinstance(v, str) else
                Result(None, {}, {}, 0.0, error=f"text is not a string ({type(v).__name__}: {v!r:.40})")
                for v in values]

    def classify_frame(self, df, text_column="text", progress=False):
        """A copy of the pandas DataFrame `df` with columns label,
        prob_<label> per label, label_mass and error (None when scored). Rows
        that cannot be scored keep their place with label None and the error."""
        if text_column not in getattr(df, "columns", ()):
            raise ClozeError(f"classify_frame: no column {text_column!r} in the frame "
                             f"(columns: {', '.join(map(str, getattr(df, 'columns', [])))})")
        return results_frame(df, self.classify_lenient(df[text_column], progress), self.labels)

    def __repr__(self):
        return f"cloze.Classifier(model={self.model_name!r}, labels={self.labels!r})"


def result_columns(labels):
    return ["label"] + [f"prob_{l}" for l in labels] + ["label_mass", "error"]


def results_frame(df, results, labels):
    """df plus the result columns (used by classify_frame and cloze.dask)."""
    import pandas as pd
    cols = {"label": pd.Series([r.label for r in results], index=df.index, dtype=object)}
    for l in labels:
        cols[f"prob_{l}"] = pd.Series([r.probs.get(l, float("nan")) for r in results], index=df.index, dtype="float64")
    cols["label_mass"] = pd.Series([r.label_mass if r.error is None else float("nan") for r in results],
                                   index=df.index, dtype="float64")
    cols["error"] = pd.Series([r.error for r in results], index=df.index, dtype=object)
    out = df.copy()
    for k, v in cols.items():
        out[k] = v
    return out
