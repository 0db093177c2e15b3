"""The codec interface and the message pipelines: exact bits, what the receiver gets."""

from __future__ import annotations

from typing import Literal

import pytest
import torch

from fedsl_registry import Registry
from fedsl_sim.compression.codec import (
    CODECS,
    Codec,
    CodecContext,
    Delta,
    Float32,
    KeepEntries,
    MessageCodecs,
    Packet,
    Pruned,
    Quantize,
)
from fedsl_sim.compression.pruning import position_bits
from fedsl_sim.compression.quantization import StochasticQuantizer
from fedsl_sim.scenario import CodecParams


def _gen(seed: int = 0) -> torch.Generator:
    g = torch.Generator()
    g.manual_seed(seed)
    return g


def test_float32_is_lossless_at_32_bits_per_entry():
    x = torch.randn(3, 5)
    p = Float32().encode(x, CodecContext())
    assert p.bits == 32 * 15 and Float32().decode(p) is x


def test_quantize_matches_its_quantizer_exactly():
    q = StochasticQuantizer(6)
    x = torch.randn(40)
    p = Quantize(q).encode(x, CodecContext(_gen(1)))
    ref = q.encode(x, _gen(1))
    assert p.bits == ref.payload_bits == 6 * 40 + 64
    assert torch.equal(Quantize(q).decode(p), q.decode(ref))
    with pytest.raises(ValueError, match="generator"):
        Quantize(q).encode(x, CodecContext())
    off = Quantize(StochasticQuantizer(32))
    assert off.lossless and off.encode(x, CodecContext()).bits == 32 * 40


def test_keep_entries_sends_only_the_masked_entries():
    x = torch.randn(4, 6)
    mask = torch.rand(4, 6, generator=_gen(2)) < 0.5
    kept = int(mask.sum())
    q = StochasticQuantizer(8)
    codec = KeepEntries(Quantize(q))
    p = codec.encode(x, CodecContext(_gen(3), mask))
    assert p.bits == 8 * kept + 64  # the mask is free
    out = codec.decode(p)
    assert torch.equal(out[~mask], torch.zeros(int((~mask).sum())))
    assert torch.equal(out[mask], q.decode(q.encode(x[mask], _gen(3))))
    lossless = KeepEntries(Float32()).encode(x, CodecContext(mask=mask))
    assert lossless.bits == 32 * kept
    with pytest.raises(ValueError, match="mask shape"):
        codec.encode(x, CodecContext(_gen(3), mask[:2]))


def test_the_pruned_delta_pipeline_is_the_model_upload():
    # what a device's pruned tensor becomes: positions + quantized difference to the average
    ref = torch.randn(50)
    mask = torch.arange(50) % 3 != 0
    x = (ref + 0.1 * torch.randn(50)) * mask
    q = StochasticQuantizer(4, "norm")
    codec = Pruned(Delta(KeepEntries(Quantize(q))))
    p = codec.encode(x, CodecContext(_gen(5), mask, ref))
    kept = int(mask.sum())
    assert p.bits == q.payload_bits(kept) + position_bits(50, kept)
    delta = torch.zeros(50)
    delta[mask] = q.decode(q.encode((x - ref)[mask], _gen(5)))
    assert torch.equal(codec.decode(p), (ref + delta) * mask)
    # lossless: the tensor as it is, costed for its kept entries and their positions
    dense = Pruned(Delta(KeepEntries(Float32())))
    p = dense.encode(x, CodecContext(mask=mask, reference=ref))
    assert p.bits == 32 * kept + position_bits(50, kept) and dense.decode(p) is x
    with pytest.raises(ValueError, match="reference"):
        Delta(Quantize(q)).encode(x, CodecContext(_gen(5)))


def test_the_default_message_codecs_are_dense_float32():
    codecs = MessageCodecs()
    x = torch.randn(8)
    for codec in (codecs.activations, codecs.gradient, codecs.model_upload):
        assert codec.lossless and codec.encode(x, CodecContext()).bits == 32 * 8


class TopK(Codec):
    """A new codec, as a user adds one: the k largest-magnitude entries and their indices."""

    def __init__(self, k: int) -> None:
        self.k = k

    def encode(self, x: torch.Tensor, ctx: CodecContext) -> Packet:
        flat = x.flatten()
        idx = flat.abs().topk(self.k).indices
        index_bits = (flat.numel() - 1).bit_length()
        return Packet((flat[idx], idx), self.k * (32 + index_bits), (x.shape, x.dtype))

    def decode(self, packet: Packet) -> torch.Tensor:
        (values, idx), (shape, dtype) = packet.payload, packet.info
        out = torch.zeros(shape, dtype=dtype).flatten()
        out[idx] = values
        return out.reshape(shape)


def test_a_new_codec_is_one_class_and_its_registration():
    registry: Registry[Codec] = Registry("codec")
    registry.register("top_k")(TopK)
    codec = Delta(registry.make("top_k", k=3))  # composes with the shipped stages
    ref, x = torch.zeros(16), torch.tensor([0.0] * 13 + [5.0, -7.0, 2.0])
    p = codec.encode(x, CodecContext(reference=ref))
    assert p.bits == 3 * (32 + 4)
    assert torch.equal(codec.decode(p), x)
    assert {"float32", "quantize", "keep_entries", "delta", "pruned"} <= set(CODECS.names())


# ------------------------------------------------------------------ a codec from a scenario
class TopKParams(CodecParams):
    kind: Literal["top_k"]
    k: int = 4


class SafeTopK(TopK):
    def encode(self, x: torch.Tensor, ctx: CodecContext) -> Packet:
        k = min(self.k, x.numel())
        return TopK(k).encode(x, ctx)


def test_a_registered_codec_is_a_scenario_pipeline_stage_and_runs(tmp_path):
    import json

    from simtools import make_scenario

    from fedsl_sim.engine import Simulation, run
    from fedsl_sim.scenario import Scenario, ScenarioError

    pipelines = {"model_upload": [{"kind": "delta"}, {"kind": "top_k", "k": 8}]}
    with CODECS.registered("top_k", SafeTopK, TopKParams):
        assert '"top_k"' in json.dumps(Scenario.model_json_schema())
        sc = make_scenario(scheme="fl", stop__max_rounds=1, compression={"pipelines": pipelines})
        sim = Simulation.build(sc)
        state = sim.scheme.clients[0].state_dict()
        expected = sum(
            min(8, v.numel()) * (32 + (v.numel() - 1).bit_length())
            for v in state.values()
            if v.is_floating_point()
        )
        res = run(sc, out_dir=tmp_path / "topk", plots=False)
        uploads = [e for e in res.recorder.events if e.kind == "model_upload"]
        assert uploads and all(e.bits == expected for e in uploads)
    with pytest.raises(ScenarioError, match="top_k"):
        make_scenario(scheme="fl", compression={"pipelines": pipelines})


def test_explicit_pipelines_are_checked_and_count_as_compression():
    from simtools import make_scenario

    from fedsl_sim.build import check_scenario
    from fedsl_sim.scenario import ScenarioError

    with pytest.raises(ScenarioError, match="expected a terminal codec"):
        make_scenario(compression={"pipelines": {"split_gradient": [{"kind": "keep_entries"}]}})
    with pytest.raises(ScenarioError, match="expected a wrapping stage"):
        make_scenario(
            compression={"pipelines": {"activations": [{"kind": "float32"}, {"kind": "float32"}]}}
        )
    sc = make_scenario(
        scheme="fedsl",
        compression={
            "pipelines": {
                "split_gradient": [{"kind": "keep_entries"}, {"kind": "quantize", "bits": 4}]
            }
        },
    )
    with pytest.raises(ScenarioError, match="compression off for scheme 'fedsl'"):
        check_scenario(sc, "test")


def test_pipelines_that_cannot_work_are_refused_before_a_run():
    from simtools import make_scenario

    from fedsl_sim.build import check_scenario
    from fedsl_sim.scenario import ScenarioError

    with pytest.raises(ScenarioError, match="it codes only model_upload"):
        make_scenario(
            compression={
                "pipelines": {"activations": [{"kind": "delta"}, {"kind": "quantize", "bits": 8}]}
            }
        )
    norm = {"model_upload": [{"kind": "quantize", "bits": 1, "scale": "norm"}]}
    sc = make_scenario(compression={"pipelines": norm})  # the schema cannot know: build does
    with pytest.raises(ScenarioError, match="compression"):
        check_scenario(sc, "test")
