import json
import math
import threading

import pytest

import cloze
from conftest import FIXTURES, run_cli


@pytest.fixture(scope="module")
def clf(qwen2_full):
    return cloze.Classifier(qwen2_full, threads=2)


def test_same_results_as_cli(cloze_bin, qwen2_full, clf, sst2, tmp_path):
    texts = sst2.text.tolist()[:200]
    path = tmp_path / "texts.jsonl"
    path.write_text("".join(json.dumps({"text": t}) + "\n" for t in texts))
    cli = [json.loads(l) for l in run_cli(cloze_bin, "classify", "--model", qwen2_full, "--input", path).splitlines()]
    ours = [r.to_dict(t) for t, r in zip(texts, clf.classify(texts))]
    assert ours == cli  # labels, probabilities, logits and label mass, exactly


def test_precision_bf16_same_as_cli(cloze_bin, qwen2_full, clf, sst2, tmp_path):
    # --precision bf16 in Python is the CLI's: the same numbers, bit for bit
    # (rounded activations on the AMX set; elsewhere both stay exact).
    texts = sst2.text.tolist()[:60]
    path = tmp_path / "texts.jsonl"
    path.write_text("".join(json.dumps({"text": t}) + "\n" for t in texts))
    cli = [json.loads(l) for l in run_cli(cloze_bin, "classify", "--model", qwen2_full, "--precision", "bf16",
                                          "--input", path).splitlines()]
    fast = cloze.Classifier(qwen2_full, threads=2, precision="bf16")
    assert fast.precision == "bf16" and clf.precision == "exact"
    assert [r.to_dict(t) for t, r in zip(texts, fast.classify(texts))] == cli
    exact = clf.classify(texts)
    # bf16 activations move the label logits a little, never far (random model)
    for a, b in zip(fast.classify(texts), exact):
        assert all(abs(a.logits[k] - b.logits[k]) < 0.1 for k in a.logits)
    shared = cloze.Model.from_pretrained(qwen2_full, threads=1, precision="bf16")
    assert shared.precision == "bf16" and "precision='bf16'" in repr(shared)
    assert cloze.Classifier(shared).precision == "bf16"
    assert cloze.Classifier(shared, precision="bf16")(texts[0]) == fast(texts[0])
    with pytest.raises(cloze.ClozeError, match="precision: the shared Model was loaded with precision='bf16'"):
        cloze.Classifier(shared, precision="exact")
    for bad in ("fp16", "BF16", 3):
        with pytest.raises(cloze.ClozeError, match='precision: expected "exact" or "bf16"'):
            cloze.Classifier(qwen2_full, precision=bad)
        with pytest.raises(cloze.ClozeError, match='precision: expected "exact" or "bf16"'):
            cloze.Model.from_pretrained(qwen2_full, precision=bad)
    assert cloze.evaluate(texts[:10], ["positive"] * 10, classifier=fast)["precision"] == "bf16"


def test_single_and_batches_identical(clf, sst2):
    texts = sst2.text.tolist()[:100]
    whole = clf.classify(texts)
    assert [clf(t) for t in texts[:10]] == whole[:10]
    assert clf.classify(texts[:37]) + clf.classify(texts[37:]) == whole
    r = whole[0]
    assert set(r.probs) == {"positive", "negative"} and math.isclose(sum(r.probs.values()), 1.0)
    assert r.label == max(r.probs, key=r.probs.get) and 0 < r.label_mass <= 1


def test_two_threads_same_as_one(clf, qwen2_full, sst2):
    texts = sst2.text.tolist()[:120]
    want = clf.classify(texts)
    shared_model = cloze.Model.from_pretrained(qwen2_full, threads=2)
    other = cloze.Classifier(shared_model)  # a second classifier on one shared model
    got, errors = {}, []

    def work(name, c, part):
        try:
            got[name] = c.classify(part)
        except Exception as e:  # pragma: no cover - reported below
            errors.append(e)

    threads = [threading.Thread(target=work, args=("a", clf, texts)),
               threading.Thread(target=work, args=("b", clf, texts[::-1])),
               threading.Thread(target=work, args=("c", other, texts))]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    assert got["a"] == want and got["b"] == want[::-1] and got["c"] == want


def test_options_reach_the_engine(qwen2_full):
    three = cloze.Classifier(qwen2_full, labels=["good", "bad", "meh"], template="Review: {text}\nVerdict:",
                             calibrate="contextual", threads=1)
    r = three("fine")
    assert list(r.probs) == ["good", "bad", "meh"] and r.label in r.probs
    mean = cloze.Classifier(qwen2_full, labels=["very good", "bad"], label_score="mean", threads=1)
    assert mean("x").label in ("very good", "bad")


def test_bad_input_raises_cloze_error(qwen2_full, clf, tmp_path):
    cases = [
        (lambda: clf.classify(["ok", 3]), r"texts\[1\]: expected a string, got int"),
        (lambda: clf.classify("a single string"), "expected a list of strings"),
        (lambda: clf(None), "expected a string"),
        (lambda: clf.classify(["fine", ""]), r"texts\[1\]"),
        (lambda: clf.classify(["fine"], on_error="skip"), "on_error='skip'"),
        (lambda: cloze.Classifier(qwen2_full, truncate=3), "truncate: expected a string"),
        (lambda: clf.classify(["fine", "bad \ud800 surrogate"]), r"texts\[1\]: not valid Unicode"),
        (lambda: cloze.Classifier(str(tmp_path / "missing-model")), "missing-model"),
        (lambda: cloze.Classifier("no-such-org/no-such-model-xyz"), "no-such-org/no-such-model-xyz"),
        (lambda: cloze.Classifier(qwen2_full, labels=[]), "label list is empty"),
        (lambda: cloze.Classifier(qwen2_full, labels=["only"]), "at least two labels"),
        (lambda: cloze.Classifier(qwen2_full, labels="positive,negative"), "list of label strings"),
        (lambda: cloze.Classifier(qwen2_full, template="no placeholder"), r"\{text\}"),
        (lambda: cloze.Classifier(qwen2_full, calibrate="magic"), "calibrate='magic'"),
        (lambda: cloze.Classifier(qwen2_full, threads=-2), "threads"),
        (lambda: cloze.Classifier(qwen2_full, labels=["a", "a"]), "twice"),
    ]
    import os
    os.environ["HF_HUB_OFFLINE"] = "1"  # the hub id must fail fast, without the network
    try:
        for call, message in cases:
            with pytest.raises(cloze.ClozeError, match=message):
                call()
    finally:
        del os.environ["HF_HUB_OFFLINE"]


def test_on_error_keep(clf):
    kept = clf.classify(["great fun", "", "dull"], on_error="keep")
    assert kept[0] == clf("great fun") and kept[2] == clf("dull")
    assert kept[1].label is None and kept[1].error and kept[1].to_dict("") == {"text": "", "label": None,
                                                                               "error": kept[1].error}


def test_classify_frame_keeps_bad_rows_in_place(clf):
    pd = pytest.importorskip("pandas")
    df = pd.DataFrame({"id": [10, 11, 12, 13], "text": ["great fun", None, "", "dull"]})
    out = clf.classify_frame(df)
    assert list(out.columns) == ["id", "text", "label", "prob_positive", "prob_negative", "label_mass", "error"]
    assert out.label[0] == clf("great fun").label and out.label[3] == clf("dull").label
    assert out.label[1] is None and "not a string" in out.error[1]
    assert out.label[2] is None and out.error[2]
    assert out.error[0] is None and math.isnan(out.prob_positive[1])
    with pytest.raises(cloze.ClozeError, match="no column 'review'"):
        clf.classify_frame(df, text_column="review")


def test_progress_bar(clf, capsys):
    clf.classify(["a", "b", "c"], progress=True)
    assert "3/3" in capsys.readouterr().err


def test_evaluate_matches_cli(cloze_bin, qwen2_full, clf, tmp_path):
    rows = (FIXTURES / "data" / "sst2_dev.tsv").read_text().splitlines()[:151]
    path = tmp_path / "sst2_150.tsv"
    path.write_text("\n".join(rows) + "\n")
    cli = json.loads(run_cli(cloze_bin, "eval", "--model", qwen2_full, "--input", path, "--json"))
    ours = cloze.evaluate(str(path), classifier=clf)
    for key in ("n", "scored", "errors", "accuracy", "macro_f1", "mean_label_mass", "metrics"):
        assert ours[key] == cli[key], key
    pd = pytest.importorskip("pandas")
    df = pd.read_csv(path, sep="\t", quoting=3, dtype=str, keep_default_na=False)
    df["label"] = df.label.map({"positive": "1", "negative": "0"})
    again = cloze.evaluate(df, classifier=clf, label_map={1: "positive", 0: "negative"})
    assert again["metrics"] == cli["metrics"]
    with pytest.raises(cloze.ClozeError, match="gold label '1' is not among the labels"):
        cloze.evaluate(df, classifier=clf)
