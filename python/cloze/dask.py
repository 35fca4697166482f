"""cloze.dask: classify a Dask DataFrame, Series or Bag on a cluster.

    from distributed import Client
    client = Client("tcp://scheduler:8786")
    out = cloze.dask.classify(ddf, model="Qwen/Qwen2-0.5B", text_column="text")
    out.compute()        # ddf's columns + label, prob_<label>..., label_mass, error

Each worker loads the model once (a worker plugin registered on the client),
not once per partition; results keep the input order, and a row that cannot
be scored keeps its place with its error. Without a distributed client (the
local threaded scheduler) one classifier per process is made on first use.
"""
import hashlib
import threading

from ._cloze import ClozeError, DEFAULT_MODEL
from .classifier import Classifier, result_columns, results_frame

try:
    from distributed import WorkerPlugin
except ImportError:  # pragma: no cover - dask without distributed
    WorkerPlugin = object

__all__ = ["classify", "ClassifierPlugin"]


class ClassifierPlugin(WorkerPlugin):
    """Loads one cloze.Classifier per worker when the worker starts (or when
    the plugin is registered) and keeps it for every partition."""

    def __init__(self, name, model, options):
        self.name = name
        self.model = model
        self.options = options
        self.classifier = None
        self.loads = 0  # model loads on this worker (the test checks it is 1)

    def setup(self, worker):
        self.classifier = Classifier(self.model, **self.options)
        self.loads += 1

    def teardown(self, worker):
        self.classifier = None


_local = {}
_local_lock = threading.Lock()
_registered = set()


def _key(model, options):
    return "cloze-classifier-" + hashlib.sha1(repr((str(model), sorted(options.items()))).encode()).hexdigest()[:16]


def _classifier(key, model, options):
    """The worker's classifier (from the plugin), or this process's own."""
    try:
        from distributed import get_worker
        plugin = get_worker().plugins.get(key)
        if plugin is not None and plugin.classifier is not None:
            return plugin.classifier
    except (ImportError, ValueError):
        pass  # not on a distributed worker
    with _local_lock:
        if key not in _local:
            _local[key] = Classifier(model, **options)
        return _local[key]


def _frame_partition(df, key, model, options, text_column):
    clf = _classifier(key, model, options)
    return results_frame(df, clf.classify_lenient(df[text_column]), clf.labels)


def _series_partition(s, key, model, options):
    import pandas as pd
    return _frame_partition(pd.DataFrame({"text": s}), key, model, options, "text")


def _bag_partition(items, key, model, options, text_column):
    clf = _classifier(key, model, options)
    items = list(items)
    texts = [i.get(text_column) if isinstance(i, dict) else i for i in items]
    return [r.to_dict(t if isinstance(t, str) else None) for t, r in zip(texts, clf.classify_lenient(texts))]


def _register(client, key, model, options):
    if client is None:
        try:
            from distributed import default_client
            client = default_client()
        except (ImportError, ValueError):
            return  # no distributed client: each process makes its own classifier
    if (client.id, key) in _registered:
        return
    # Loads the model on every worker now (and on workers that join later);
    # a missing model or bad option raises here, on the client.
    client.register_worker_plugin(ClassifierPlugin(key, model, options), name=key)
    _registered.add((client.id, key))


def classify(collection, model=DEFAULT_MODEL, text_column="text", *, client=None, **classifier_options):
    """A lazy collection of results, in input order:

    - Dask DataFrame: its columns plus label, prob_<label> per label,
      label_mass and error (None when scored), as Classifier.classify_frame;
    - Dask Series of texts: a DataFrame with a text column and the same;
    - Dask Bag of strings, or of dicts with `text_column`: one dict per item
      as `cloze classify` prints it ({text, label, probs, logits, label_mass}
      or {text, label: None, error}).

    classifier_options are Classifier's (labels, template, calibrate, threads,
    ...). threads defaults to 1 per worker thread: give each worker
    `--nthreads 1` and set threads to the cores it may use.
    """
    import dask.bag as db
    import dask.dataframe as dd
    import pandas as pd

    options = dict(classifier_options)
    options.setdefault("threads", 1)
    labels = list(options.get("labels", ("positive", "negative")))
    key = _key(model, options)
    if isinstance(collection, dd.DataFrame):
        if text_column not in collection.columns:
            raise ClozeError(f"cloze.dask.classify: no column {text_column!r} in the frame "
                             f"(columns: {', '.join(map(str, collection.columns))})")
        _register(client, key, model, options)
        meta = collection._meta.copy()
        empty = results_frame(meta, [], labels)
        return collection.map_partitions(_frame_partition, key, model, options, text_column, meta=empty)
    if isinstance(collection, dd.Series):
        _register(client, key, model, options)
        meta = results_frame(pd.DataFrame({"text": pd.Series([], dtype=object)}), [], labels)
        return collection.map_partitions(_series_partition, key, model, options, meta=meta)
    if isinstance(collection, db.Bag):
        _register(client, key, model, options)
        return collection.map_partitions(_bag_partition, key, model, options, text_column)
    raise ClozeError(f"cloze.dask.classify: expected a Dask DataFrame, Series or Bag, got {type(collection).__name__}")


__all__ += ["result_columns"]
