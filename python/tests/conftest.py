"""Fixtures for the Python package tests. Truth comes from committed files
under tests/fixtures (transformers logits, HF tokenizer ids) and from the
`cloze` CLI built by CMake (build/cloze), which the C++ suite checks against
those files. Set CLOZE_BIN / CLOZE_RANDOM_MODEL to use other builds."""
import json
import os
import subprocess
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
FIXTURES = REPO / "tests" / "fixtures"
QWEN2_TOKENIZER = FIXTURES / "tokenizer" / "qwen2"
GOLDEN = FIXTURES / "models"


def _tool(env, rel):
    path = Path(os.environ.get(env, REPO / rel))
    if not path.is_file():
        pytest.fail(f"{path} not found: build it first (cmake --build build --target cloze cloze-random-model) "
                    f"or set {env}")
    return str(path)


@pytest.fixture(scope="session")
def cloze_bin():
    return _tool("CLOZE_BIN", "build/cloze")


def run_cli(cloze_bin, *args, input=None):
    r = subprocess.run([cloze_bin, *map(str, args)], input=input, capture_output=True, text=True)
    assert r.returncode == 0, f"cloze {' '.join(map(str, args))} failed: {r.stderr}"
    return r.stdout


@pytest.fixture(scope="session")
def qwen2_full(tmp_path_factory):
    """A tiny random Qwen2 with the full 151936-row vocabulary and the real
    Qwen2 tokenizer, so the seed's label ids (6785, 8225) exist: the model the
    C++ server tests and the Node test use."""
    out = tmp_path_factory.mktemp("qwen2-full")
    tool = _tool("CLOZE_RANDOM_MODEL", "build/tools/cloze-random-model")
    subprocess.run([tool, "--arch", "qwen2", "--vocab", "151936", "--hidden", "64", "--layers", "2", "--heads", "4",
                    "--kv-heads", "2", "--inter", "128", "--tied", "--dtype", "bf16", "--seed", "3", "--out", str(out),
                    "--copy-tokenizer", str(QWEN2_TOKENIZER / "tokenizer.json")], check=True, capture_output=True)
    for extra in ("tokenizer_config.json",):
        (out / extra).write_bytes((QWEN2_TOKENIZER / extra).read_bytes())
    return str(out)


@pytest.fixture(scope="session")
def seed_cases():
    return json.loads((FIXTURES / "data" / "seed_cases.json").read_text())


@pytest.fixture(scope="session")
def sst2():
    pd = pytest.importorskip("pandas")
    return pd.read_csv(FIXTURES / "data" / "sst2_dev.tsv", sep="\t", quoting=3, keep_default_na=False, dtype=str)
