"""cloze.dask on distributed.LocalCluster(n_workers=2, threads_per_worker=1)
over SST-2 dev: identical to one process, model loaded once per worker."""
import time

import pytest

import cloze

dd = pytest.importorskip("dask.dataframe")
db = pytest.importorskip("dask.bag")
distributed = pytest.importorskip("distributed")
pd = pytest.importorskip("pandas")


@pytest.fixture(scope="module")
def client():
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None,
                                  silence_logs=40) as cluster, distributed.Client(cluster) as c:
        yield c


def test_dataframe_identical_to_single_process(client, qwen2_full, sst2):
    df = sst2.copy()
    df.loc[5, "text"] = ""  # a row that cannot be scored keeps its place
    t0 = time.perf_counter()
    single = cloze.Classifier(qwen2_full, threads=1).classify_frame(df)
    t1 = time.perf_counter()
    ddf = dd.from_pandas(df, npartitions=8)
    out = cloze.dask.classify(ddf, model=qwen2_full, text_column="text")
    got = out.compute()
    t2 = time.perf_counter()
    print(f"single process {t1 - t0:.2f} s, LocalCluster(2x1) {t2 - t1:.2f} s (incl. plugin model loads)")
    pd.testing.assert_frame_equal(got, single)
    assert got.error[5] and got.label[5] is None and got.error.drop(5).isna().all()
    loads = client.run(lambda dask_worker: {k: p.loads for k, p in dask_worker.plugins.items()
                                            if k.startswith("cloze-classifier-")})
    assert len(loads) == 2 and all(list(v.values()) == [1] for v in loads.values()), loads
    # and no worker fell back to a classifier of its own
    assert client.run(lambda: len(cloze.dask._local)) == {w: 0 for w in loads}
    # again: no new load
    cloze.dask.classify(ddf, model=qwen2_full, text_column="text").compute()
    loads = client.run(lambda dask_worker: [p.loads for k, p in dask_worker.plugins.items()
                                            if k.startswith("cloze-classifier-")])
    assert all(v == [1] for v in loads.values()), loads


def test_bag_and_series(client, qwen2_full, sst2):
    texts = sst2.text.tolist()[:40]
    items = texts[:20] + [None] + texts[20:]
    bag = db.from_sequence(items, npartitions=4)
    got = cloze.dask.classify(bag, model=qwen2_full, labels=["positive", "negative"]).compute()
    clf = cloze.Classifier(qwen2_full, threads=1)
    want = [r.to_dict(t) for t, r in zip(texts, clf.classify(texts))]
    assert got[:20] + got[21:] == want
    assert got[20]["label"] is None and "not a string" in got[20]["error"]
    series = dd.from_pandas(pd.Series(texts), npartitions=3)
    frame = cloze.dask.classify(series, model=qwen2_full).compute()
    assert frame.label.tolist() == [w["label"] for w in want]


def test_errors_reach_the_client(client, qwen2_full, tmp_path, sst2):
    ddf = dd.from_pandas(sst2.head(10), npartitions=2)
    with pytest.raises(cloze.ClozeError, match="no column 'review'"):
        cloze.dask.classify(ddf, model=qwen2_full, text_column="review")
    with pytest.raises(cloze.ClozeError, match="missing"):
        cloze.dask.classify(ddf, model=str(tmp_path / "missing"))
    with pytest.raises(cloze.ClozeError, match="expected a Dask"):
        cloze.dask.classify(["a list"], model=qwen2_full)
