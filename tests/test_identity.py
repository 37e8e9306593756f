"""vitbench.identity: which columns identify a row and which are its configuration. No torch."""

from synthetic_runs import row
from vitbench.compare_input import frame
from vitbench.identity import ARCH_FIELDS, NAMED, config_changes, describe_changes, identity_columns, labels
from vitbench.zoo import resolve

VIT_B = resolve("vit_b16")


def test_named_and_architecture_fields_come_from_the_schema():
    assert NAMED == ("model", "res_h", "res_w", "batch", "dtype", "attn", "compile", "mode", "optimizer",
                     "grad_checkpoint")
    assert ARCH_FIELDS == ("patch", "dim", "depth", "heads", "mlp_ratio", "classes", "pool", "registers",
                           "distill")


def test_one_row_per_named_point_needs_no_architecture_field():
    base = frame([row(VIT_B), row(VIT_B.replace(img_size=(384, 384)))])
    identity, config = identity_columns(base, base)
    assert identity == ("model", "res_h", "res_w", "batch", "dtype", "attn", "compile")  # rows carry no mode
    assert config == ARCH_FIELDS


def test_fields_that_vary_within_a_named_point_join_the_identity():
    sweep = frame([row(VIT_B.replace(patch=p, dim=d)) for p, d in ((8, 768), (16, 768), (16, 384))])
    identity, config = identity_columns(sweep, frame([row(VIT_B)]))
    assert "patch" in identity and "dim" in identity and "depth" in config
    assert identity.index("patch") < identity.index("res_h")  # schema order


def test_the_candidate_can_add_an_identity_field_too():
    identity, _ = identity_columns(frame([row(VIT_B)]), frame([row(VIT_B), row(VIT_B, device="cuda")]))
    assert "device" in identity


def test_config_changes_and_their_description():
    b, c = row(VIT_B), row(VIT_B.replace(depth=13, mlp_ratio=3.0))
    changes = config_changes({k: str(v) for k, v in b.items()}, {k: str(v) for k, v in c.items()}, ARCH_FIELDS)
    assert changes == [("depth", "12", "13"), ("mlp_ratio", "4.0", "3.0")]
    assert describe_changes(changes) == "depth 12 → 13, mlp_ratio 4.0 → 3.0"
    assert config_changes({"mlp_ratio": "4"}, {"mlp_ratio": "4.0"}, ("mlp_ratio",)) == []  # canonical text


def test_labels_name_what_differs_from_the_preset_and_what_varies():
    keys = frame([row(VIT_B.replace(patch=8), batch=1), row(VIT_B, batch=2)])[["model", "res_h", "res_w",
                                                                                  "patch", "batch"]]
    assert labels(keys) == ["vit_b16 224 patch=8 batch=1", "vit_b16 224 batch=2"]
    odd = frame([row(VIT_B.replace(img_size=(224, 320)))])[["model", "res_h", "res_w"]]
    assert labels(odd) == ["vit_b16 224x320"]
