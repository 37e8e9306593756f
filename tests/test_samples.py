import hashlib

import pytest

from vitbench import samples
from vitbench.errors import VitbenchError


def test_samples_round_trip_exactly_and_by_key(tmp_path):
    path = samples.path_for(tmp_path / "run.csv")
    assert path.name == "run.samples.csv"
    a, b = samples.digest(("vit_b16", "224")), samples.digest(("vit_b16", "384"))
    assert a != b and len(a) == 16
    values = [0.1 + 0.2, 1e-7, 1234.5678901234]
    path.write_bytes(samples.HEADER.encode() + samples.lines(a, "latency_ms", values)
                     + samples.lines(b, "latency_ms", [2.0]) + samples.lines(a, "time_ms_mlp", [9.0]))
    got = samples.by_key(path)
    assert list(got[a]) == values and list(got[b]) == [2.0]
    assert list(samples.by_key(path, "time_ms_mlp")[a]) == [9.0]
    assert samples.by_key(tmp_path / "none.samples.csv") == {}


def test_a_file_that_is_not_a_samples_file_is_bad_input(tmp_path):
    path = tmp_path / "x.samples.csv"
    path.write_text("a,b\n1,2\n")
    with pytest.raises(VitbenchError, match="not a vitbench samples file"):
        samples.read(path)


def test_a_later_key_column_at_its_default_leaves_the_digest_as_a_version_without_it_wrote_it():
    from vitbench.results_io import row_key
    from vitbench.schema import CONFIG_KEY

    row = {"model": "vit_b16", "patch": 16, "res_h": 224, "res_w": 224, "batch": 8, "device": "cpu",
           "dtype": "fp32", "attn": "sdpa", "compile": False, "mode": "infer", "optimizer": None,
           "grad_checkpoint": False}
    key = row_key(row)
    # what a version with `mode` but before optimizer / grad_checkpoint hashed (a5c56a7 and earlier)
    older = [v for c, v in zip(CONFIG_KEY, key) if c not in ("optimizer", "grad_checkpoint")]
    assert samples.digest(key) == hashlib.sha1("\x1f".join(older).encode()).hexdigest()[:16]
    trained = row_key({**row, "mode": "train", "optimizer": "adamw"})
    assert samples.digest(trained) != samples.digest(key)
    assert samples.digest(row_key({**row, "grad_checkpoint": True})) != samples.digest(key)
