"""Argument checks shared by the package: Python values in, ClozeError out."""
import os

import numpy as np

from ._cloze import ClozeError

_INT32_MAX = 2**31 - 1


def texts_list(texts, what="texts"):
    """A list of str from a list/tuple/numpy array/pandas Series; a single str
    is refused (it would be classified character by character)."""
    if isinstance(texts, (str, bytes)):
        raise ClozeError(f"{what}: expected a list of strings, got a single {type(texts).__name__} "
                         f"(use clf(text) for one text)")
    if hasattr(texts, "tolist"):  # numpy array, pandas Series
        texts = texts.tolist()
    try:
        texts = list(texts)
    except TypeError:
        raise ClozeError(f"{what}: expected a list of strings, got {type(texts).__name__}") from None
    for i, t in enumerate(texts):
        if not isinstance(t, str):
            raise ClozeError(f"{what}[{i}]: expected a string, got {type(t).__name__} ({t!r:.40})")
    return texts


def text(value, what="text"):
    if not isinstance(value, str):
        raise ClozeError(f"{what}: expected a string, got {type(value).__name__} ({value!r:.40})")
    return value


def path_or_spec(model, what="model"):
    if isinstance(model, os.PathLike):
        return os.fspath(model)
    if not isinstance(model, str) or not model:
        raise ClozeError(f"{what}: expected a model directory or a Hub id such as 'Qwen/Qwen2-0.5B', "
                         f"got {model!r:.60}")
    return model


def to_numpy(x):
    """numpy view of a numpy array, torch tensor or nested list."""
    if hasattr(x, "detach") and hasattr(x, "cpu"):  # torch.Tensor, without importing torch
        x = x.detach().cpu().numpy()
    return np.asarray(x)


def ids_array(ids, what="ids"):
    """A 1-D int32 array of token ids (from a list, numpy array or tensor)."""
    a = to_numpy(ids)
    if a.ndim != 1:
        raise ClozeError(f"{what}: expected a 1-D sequence of token ids, got shape {a.shape}")
    if a.size and not np.issubdtype(a.dtype, np.integer):
        raise ClozeError(f"{what}: expected integer token ids, got dtype {a.dtype}")
    if a.size and (a.min() < 0 or a.max() > _INT32_MAX):
        raise ClozeError(f"{what}: token id {int(a.min() if a.min() < 0 else a.max())} is not a valid id")
    return np.ascontiguousarray(a, dtype=np.int32)


def count(value, what):
    """A non-negative int argument."""
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 0:
        raise ClozeError(f"{what}: expected a non-negative integer, got {value!r}")
    return int(value)


def unicode_error(texts, e, what="texts"):
    """ClozeError naming the text that pybind11 could not pass as UTF-8 (a
    lone surrogate), for the UnicodeEncodeError / TypeError `e` it raised;
    `e` itself if every text encodes."""
    for i, t in enumerate(texts):
        try:
            t.encode("utf-8")
        except UnicodeEncodeError as bad:
            return ClozeError(f"{what}[{i}]: not valid Unicode text ({bad.reason} at character {bad.start})")
    return e
