"""The restricted unpickler reads the field's pickles and refuses code."""

import gzip
import os
import pickle
from collections import OrderedDict

import numpy as np
import pytest

from harness.errors import DataError
from harness.io.safe_pickle import load_pickle, loads

PAYLOAD = {
    "keypoints": [np.random.default_rng(0).random((3, 133, 2)).astype(np.float32)],
    "scores": np.ones((3, 133), np.float16),
    "start": np.int64(4), "fps": np.float32(25.0), "name": "clip_01", "tags": {"a", "b"},
    "meta": OrderedDict(w=512, h=512), "raw": b"\x00\x01", "pair": (1, 2.5), "none": None,
}


def check_equal(got, want):
    assert got.keys() == want.keys()
    np.testing.assert_array_equal(got["keypoints"][0], want["keypoints"][0])
    assert got["keypoints"][0].dtype == np.float32
    np.testing.assert_array_equal(got["scores"], want["scores"])
    assert got["start"] == 4 and isinstance(got["start"], np.int64)
    for key in ("name", "tags", "meta", "raw", "pair", "none"):
        assert got[key] == want[key]


@pytest.mark.parametrize("protocol", [2, 3, 4, 5])
def test_reads_arrays_and_containers_in_every_protocol(tmp_path, protocol):
    path = tmp_path / "clip.pkl"
    path.write_bytes(pickle.dumps(PAYLOAD, protocol=protocol))
    check_equal(load_pickle(path), PAYLOAD)


def test_reads_gzip_pickles(tmp_path):
    path = tmp_path / "labels.train"
    path.write_bytes(gzip.compress(pickle.dumps({"c1": {"gloss": "HOUSE", "text": "house"}})))
    assert load_pickle(path) == {"c1": {"gloss": "HOUSE", "text": "house"}}


class Evil:
    def __reduce__(self):
        return (os.system, ("touch pwned",))


def test_refuses_code_and_names_the_global(tmp_path):
    path = tmp_path / "evil.pkl"
    path.write_bytes(pickle.dumps({"keypoints": Evil()}))
    with pytest.raises(DataError, match=r"evil\.pkl.*(posix|os)\.system"):
        load_pickle(path)
    assert not (tmp_path / "pwned").exists() and not os.path.exists("pwned")


class Plain:
    pass


def test_refuses_arbitrary_classes():
    with pytest.raises(DataError, match=r"test_safe_pickle\.Plain"):
        loads(pickle.dumps(Plain()), "x.pkl")


@pytest.mark.parametrize("raw", [b"", b"not a pickle", pickle.dumps(PAYLOAD)[:50],
                                 b"\x1f\x8b garbage"])
def test_corrupt_pickles_are_data_errors(raw):
    with pytest.raises(DataError, match=r"bad\.pkl"):
        loads(raw, "bad.pkl")
