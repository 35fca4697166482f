#!/usr/bin/env python3
"""Writes the safetensors test corpus under tests/fixtures/safetensors/.

  malformed/*.safetensors  one defect each; tests/safetensors_test.cpp expects
                           the error message named in the comment beside it
  valid/*.safetensors      small files that must open, with known bytes
  sharded/<case>/          model directories exercising model.safetensors.index.json

Standard library only, deterministic output: rerun it and `git diff` stays
empty. Usage: tools/make_malformed_safetensors.py [REPO_ROOT]
"""
import json
import os
import shutil
import struct
import sys

ROOT = os.path.abspath(sys.argv[1] if len(sys.argv) > 1 else os.path.join(os.path.dirname(__file__), ".."))
OUT = os.path.join(ROOT, "tests", "fixtures", "safetensors")
DTYPE_SIZE = {"BOOL": 1, "U8": 1, "I8": 1, "U16": 2, "I16": 2, "F16": 2, "BF16": 2,
              "U32": 4, "I32": 4, "F32": 4, "U64": 8, "I64": 8, "F64": 8}


def pattern(k, n):
    """Bytes of the k-th tensor of a file; the C++ test recomputes them."""
    return bytes(((k * 31 + j * 7) & 0xFF) for j in range(n))


def pad(header):
    # Real writers pad the header with spaces to a multiple of 8 so the data
    # area is aligned; keep that so the files look like real checkpoints.
    return header + b" " * (-len(header) % 8)


def raw(header_bytes, data=b"", length=None, padding=True):
    """A file from header text taken verbatim (for JSON no dict can express)."""
    h = pad(header_bytes) if padding else header_bytes
    n = len(h) if length is None else length
    return struct.pack("<Q", n) + h + data


def header_text(obj):
    return json.dumps(obj, separators=(",", ":")).encode()


def build(tensors, metadata=None):
    """A valid file from [(name, dtype, shape)], laid out in order."""
    header, data = {}, b""
    if metadata is not None:
        header["__metadata__"] = metadata
    for k, (name, dtype, shape) in enumerate(tensors):
        n = DTYPE_SIZE[dtype]
        for d in shape:
            n *= d
        header[name] = {"dtype": dtype, "shape": shape, "data_offsets": [len(data), len(data) + n]}
        data += pattern(k, n)
    return raw(header_text(header), data)


def entry(dtype="F32", shape=(4,), offsets=(0, 16)):
    return {"dtype": dtype, "shape": list(shape), "data_offsets": list(offsets)}


def one(e, data_len=16, metadata=None):
    h = {} if metadata is None else {"__metadata__": metadata}
    h["w"] = e
    return raw(header_text(h), bytes(data_len))


MALFORMED = {
    # Framing.
    "empty": b"",
    "short_5_bytes": b"\x10\x00\x00\x00\x00",
    "header_len_exceeds_file": raw(b'{"w":{}}', length=4096),
    "header_len_absurd": raw(b"{}", length=1 << 62),
    "header_len_zero": raw(b"", length=0),
    # The header's JSON.
    "header_not_json": raw(b"this is not json"),
    "header_json_array": raw(b'[{"dtype":"F32"}]'),
    "header_json_string": raw(b'"w"'),
    "header_truncated_json": raw(b'{"w":{"dtype":"F32","shape":[4],"data_of', padding=False),
    "header_invalid_utf8": raw(b'{"w\xff\xfe":{"dtype":"F32","shape":[4],"data_offsets":[0,16]}}', bytes(16)),
    "duplicate_tensor": raw(b'{"w":{"dtype":"F32","shape":[4],"data_offsets":[0,16]},'
                            b'"w":{"dtype":"F32","shape":[4],"data_offsets":[16,32]}}', bytes(32)),
    "duplicate_field": raw(b'{"w":{"dtype":"F32","dtype":"F16","shape":[4],"data_offsets":[0,16]}}', bytes(16)),
    # __metadata__.
    "metadata_not_object": one(entry(), metadata="pt"),
    "metadata_non_string": one(entry(), metadata={"format": "pt", "step": 3}),
    # A tensor entry's fields.
    "entry_not_object": raw(header_text({"w": [0, 16]}), bytes(16)),
    "missing_dtype": one({"shape": [4], "data_offsets": [0, 16]}),
    "missing_shape": one({"dtype": "F32", "data_offsets": [0, 16]}),
    "missing_data_offsets": one({"dtype": "F32", "shape": [4]}),
    "unknown_field": one(dict(entry(), layout="row-major")),
    "unknown_dtype": one(entry(dtype="Q4_K")),
    "dtype_lowercase": one(entry(dtype="f32")),
    "dtype_not_string": one(dict(entry(), dtype=4)),
    "shape_not_array": one(dict(entry(), shape="4")),
    "shape_negative": one(entry(shape=(-1, 4))),
    "shape_float": one(entry(shape=(2.5,))),
    "shape_integral_float": one(entry(shape=(4.0,))),
    "shape_string_entry": one(entry(shape=("4",))),
    "shape_nested_deep": raw(b'{"w":{"dtype":"F32","shape":' + b"[" * 5000 + b"]" * 5000 +
                             b',"data_offsets":[0,4]}}', bytes(4)),
    "shape_overflow": one(entry(shape=(1 << 40, 1 << 40, 1 << 40), offsets=(0, 16))),
    "shape_beyond_uint64": raw(b'{"w":{"dtype":"F32","shape":[184467440737095516160],"data_offsets":[0,16]}}',
                               bytes(16)),
    "offsets_one_entry": one(entry(offsets=(16,))),
    "offsets_three_entries": one(entry(offsets=(0, 8, 16))),
    "offsets_not_array": one(dict(entry(), data_offsets={"begin": 0, "end": 16})),
    "offsets_negative": one(entry(offsets=(-16, 0))),
    "offsets_float": one(entry(offsets=(0, 16.0))),
    "offsets_begin_gt_end": one(entry(offsets=(16, 0))),
    "offsets_end_past_data": one(entry(shape=(16,), offsets=(0, 64))),
    "nbytes_mismatch": one(entry(shape=(4,), offsets=(0, 8)), data_len=8),
    # How the tensors lie in the data area.
    "overlap": raw(header_text({"a": entry(offsets=(0, 16)), "b": entry(offsets=(8, 24))}), bytes(24)),
    "zero_size_inside_other": raw(header_text({"a": entry(offsets=(0, 16)),
                                               "z": entry(shape=(0,), offsets=(8, 8))}), bytes(16)),
    "hole": raw(header_text({"a": entry(offsets=(0, 16)), "b": entry(offsets=(32, 48))}), bytes(48)),
    "trailing_bytes": one(entry(), data_len=20),
}


def golden_like():
    """The qwen2-tied-bf16 golden header's names and dtypes with tiny shapes:
    a realistic header for the fuzzer to start from, small enough to mutate."""
    path = os.path.join(ROOT, "tests", "fixtures", "models", "qwen2-tied-bf16", "model.safetensors")
    with open(path, "rb") as f:
        (n,) = struct.unpack("<Q", f.read(8))
        h = json.loads(f.read(n))
    tensors = [(k, v["dtype"], [min(d, 3) for d in v["shape"]]) for k, v in h.items() if k != "__metadata__"]
    return build(tensors, metadata=h.get("__metadata__"))


VALID = {
    # One tensor of each dtype; bytes are pattern(k, nbytes).
    "all_dtypes": build([("t_" + dt.lower(), dt, [2, 3]) for dt in DTYPE_SIZE], metadata={"format": "pt"}),
    # A shape [0] tensor (zero bytes) and a scalar (shape [], one element).
    "zero_size": build([("empty", "F32", [0]), ("scalar", "BF16", []), ("x", "F16", [3]),
                        ("also_empty", "I64", [4, 0, 2])]),
    "no_tensors": raw(b"{}"),
    "golden_like": golden_like(),
}


def index(weight_map):
    return json.dumps({"metadata": {"total_size": 0}, "weight_map": weight_map}, indent=1).encode()


S1, S2 = "model-00001-of-00002.safetensors", "model-00002-of-00002.safetensors"
SHARD_A = build([("a", "F32", [4]), ("b", "BF16", [2, 2])])
SHARD_B = build([("c", "F16", [3])])
SHARDED = {
    "valid_two_shards": {S1: SHARD_A, S2: SHARD_B, "index": index({"a": S1, "b": S1, "c": S2})},
    "index_not_json": {S1: SHARD_A, "index": b'{"weight_map": {"a": '},
    "index_not_object": {S1: SHARD_A, "index": b'["a", "b"]'},
    "index_missing_weight_map": {S1: SHARD_A, "index": b'{"metadata": {}}'},
    "index_weight_map_empty": {S1: SHARD_A, "index": index({})},
    "index_value_not_string": {S1: SHARD_A, "index": index({"a": S1, "b": 1})},
    "shard_missing": {S1: SHARD_A, "index": index({"a": S1, "b": S1, "c": S2})},
    "tensor_not_in_shard": {S1: SHARD_A, S2: SHARD_B, "index": index({"a": S1, "b": S2, "c": S2})},
    "shard_extra_tensor": {S1: SHARD_A, S2: SHARD_B, "index": index({"a": S1, "c": S2})},
    "tensor_in_two_shards": {S1: SHARD_A, S2: build([("c", "F16", [3]), ("a", "F32", [4])]),
                             "index": index({"a": S1, "b": S1, "c": S2})},
    "shard_name_traversal": {S1: SHARD_A, "index": index({"a": S1, "b": "../x.safetensors"})},
    "shard_malformed": {S1: SHARD_A, S2: MALFORMED["offsets_end_past_data"], "index": index({"a": S1, "b": S1, "w": S2})},
    "no_checkpoint": {"config.json": b"{}"},
}


def write(path, data):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "wb") as f:
        f.write(data)


def main():
    for sub in ("malformed", "valid", "sharded"):
        shutil.rmtree(os.path.join(OUT, sub), ignore_errors=True)
    for name, data in MALFORMED.items():
        write(os.path.join(OUT, "malformed", name + ".safetensors"), data)
    for name, data in VALID.items():
        write(os.path.join(OUT, "valid", name + ".safetensors"), data)
    for case, files in SHARDED.items():
        for fname, data in files.items():
            fname = "model.safetensors.index.json" if fname == "index" else fname
            write(os.path.join(OUT, "sharded", case, fname), data)
    print(f"wrote {len(MALFORMED)} malformed, {len(VALID)} valid, {len(SHARDED)} sharded cases under {OUT}")


if __name__ == "__main__":
    main()
