"""cloze: exact zero-shot text classification with causal language models.

    import cloze
    clf = cloze.Classifier("Qwen/Qwen2-0.5B")          # labels/template: the seed's
    clf("A gripping, beautifully shot film.").label      # 'positive'
    clf.classify(texts, progress=True)                   # list of Result, input order

Notebooks written for transformers: ``from cloze.transformers import
AutoTokenizer, AutoModelForCausalLM``. Clusters: ``cloze.dask.classify``.
Every problem with input raises :class:`ClozeError` (a ``ValueError``).
"""
from ._cloze import ClozeError, DEFAULT_MODEL, SEED_TEMPLATE
from .tokenizer import Tokenizer
from .model import Model
from .classifier import Classifier, Result
from .evaluate import evaluate

__version__ = "0.1.0"


def __getattr__(name):
    # cloze.dask and cloze.transformers load on first use (dask is optional).
    if name in ("dask", "transformers"):
        import importlib
        return importlib.import_module(f".{name}", __name__)
    raise AttributeError(f"module 'cloze' has no attribute {name!r}")
__all__ = ["ClozeError", "Classifier", "Result", "Tokenizer", "Model", "evaluate",
           "DEFAULT_MODEL", "SEED_TEMPLATE", "__version__"]
