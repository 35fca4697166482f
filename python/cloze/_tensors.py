"""return_tensors: plain lists, numpy ("np") or PyTorch ("pt") as transformers
gives them. torch is imported only when asked for."""
import numpy as np

from ._cloze import ClozeError


def torch_module(what):
    try:
        import torch
    except ImportError:
        raise ClozeError(f"{what}: return_tensors='pt' needs PyTorch, which is not installed "
                         f"(pip install torch, or apt install python3-torch); "
                         f"return_tensors='np' gives numpy arrays") from None
    return torch


def is_torch(x):
    return type(x).__module__.startswith("torch") and hasattr(x, "detach")


def ids_tensor(rows, return_tensors, what="tokenizer"):
    """rows: list of id lists -> a (batch, seq) int64 tensor/array."""
    if return_tensors is None:
        return rows
    if return_tensors not in ("np", "pt"):
        raise ClozeError(f"{what}: return_tensors={return_tensors!r} is not supported; use 'np', 'pt' or None")
    lengths = {len(r) for r in rows}
    if len(lengths) > 1:
        raise ClozeError(f"{what}: the texts tokenize to different lengths ({min(lengths)}..{max(lengths)} tokens) "
                         f"and padding is not supported; tokenize one text at a time")
    arr = np.asarray(rows, dtype=np.int64).reshape(len(rows), -1)
    if return_tensors == "pt":
        return torch_module(what).from_numpy(arr)
    return arr


def like(array, template):
    """`array` (numpy) as the same kind of object as `template` (torch or numpy)."""
    if is_torch(template):
        import torch
        return torch.from_numpy(array)
    return array
