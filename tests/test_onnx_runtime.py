"""The optional ONNX Runtime path: export once (cached by model hash), int8, agreement check, refusal."""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pandas as pd
import pytest
from _inference_fixtures import build_tiny_run, copy_run
from classifier_helpers import separable_corpus

from groundcoder.errors import GroundcoderError
from groundcoder.inference import load_code_config, load_coder, run_code

pytest.importorskip("onnxruntime")
pytest.importorskip("onnx")

from groundcoder.inference.onnx_runtime import (  # noqa: E402
    OnnxAgreementError,
    OnnxBackend,
    onnx_coder,
    prepare_onnx,
)


@pytest.fixture(scope="session")
def tiny_run(tmp_path_factory):
    return build_tiny_run(tmp_path_factory.getbasetemp() / "inference")


@pytest.fixture
def run_copy(tiny_run, tmp_path):
    return copy_run(tiny_run, tmp_path / "run")


def reference():
    texts, _ = separable_corpus(150, seed=7)
    return texts


def test_the_float32_export_matches_pytorch_and_is_cached_by_model_hash(run_copy):
    coder = load_coder(run_copy, threads=1)
    first = prepare_onnx(coder.clf, coder.ref, quantize="none")
    assert not first.reused and first.path.name == "model.onnx"
    assert first.cache_dir == run_copy / "model" / "onnx" / coder.ref.fingerprint[:16]
    assert first.max_export_diff < 1e-4
    stamp = first.path.stat().st_mtime_ns
    again = prepare_onnx(coder.clf, coder.ref, quantize="none")
    assert again.reused and again.path.stat().st_mtime_ns == stamp
    texts = reference()
    ids = coder.tokenize(texts)  # varied lengths: dynamic batch and sequence axes, padded batches
    onnx = coder.__class__(coder.clf, coder.ref, backend=OnnxBackend(first.path, 1), batch_size=16)
    np.testing.assert_allclose(onnx.proba_ids(ids), coder.proba_ids(ids), atol=1e-4)
    meta = json.loads((first.cache_dir / "export.json").read_text(encoding="utf-8"))
    assert meta["fingerprint"] == coder.ref.fingerprint and meta["opset"] == 17


def test_int8_model_is_smaller_agrees_with_pytorch_and_the_check_is_cached(run_copy):
    coder = load_coder(run_copy, threads=1)
    onnx, info = onnx_coder(coder, quantize="int8", min_agreement=0.95, reference=reference())
    assert onnx.runtime == "onnx-int8" and info["fallback"] is None
    artifact = info["artifact"]
    assert artifact["path"].endswith("model.int8.onnx")
    fp32_size = (run_copy / "model" / "onnx" / coder.ref.fingerprint[:16] / "model.onnx").stat().st_size
    assert artifact["size_bytes"] < fp32_size
    report = info["agreement"]
    assert report["segments"] == 150 and report["agreement"] >= 0.95 and report["passed"]
    assert report["max_abs_prob_diff"] < 0.2
    texts = reference()[:40]
    same = (onnx.proba_texts(texts) >= onnx.thresholds) == (coder.proba_texts(texts) >= coder.thresholds)
    assert same.all(axis=1).mean() >= 0.9
    _, info2 = onnx_coder(coder, quantize="int8", min_agreement=0.95, reference=reference())
    assert info2["artifact"]["reused"] and info2["agreement"]["cached"]


def test_an_onnx_model_that_disagrees_is_refused_or_replaced_by_pytorch_when_allowed(run_copy, monkeypatch):
    coder = load_coder(run_copy, threads=1)
    real = OnnxBackend.logits
    monkeypatch.setattr(OnnxBackend, "logits", lambda self, ids, mask: real(self, ids, mask) + 4.0)  # a broken graph
    with pytest.raises(OnnxAgreementError) as err:
        onnx_coder(coder, quantize="none", reference=reference())
    message = str(err.value)
    assert "at least 99%" in message and "--runtime torch" in message and "--allow-fallback" in message
    assert err.value.report.agreement < 0.99 and not err.value.report.passed
    fallback, info = onnx_coder(coder, quantize="none", reference=reference(), allow_fallback=True)
    assert fallback is coder and info["runtime"] == "torch" and "Falling back to PyTorch" in info["fallback"]


def test_code_job_with_the_onnx_runtime(run_copy, tmp_path):
    from groundcoder import tables

    (tmp_path / "ref.csv").write_text("id,text\n" + "\n".join(f"r{i},{t}" for i, t in enumerate(reference())), encoding="utf-8")
    texts, _ = separable_corpus(20, seed=30)
    tables.write_csv([{"id": f"s{i}", "text": t} for i, t in enumerate(texts)], tmp_path / "in.csv")
    base = {"model": str(run_copy), "input.table": str(tmp_path / "in.csv"), "output.progress": False, "inference.threads": 1,
            "onnx.reference": str(tmp_path / "ref.csv"), "onnx.min_agreement": 0.9}
    torch_result = run_code(load_code_config(None, {**base, "output.folder": str(tmp_path / "torch")}))
    onnx_result = run_code(load_code_config(None, {**base, "output.folder": str(tmp_path / "onnx"), "inference.runtime": "onnx"}))
    assert onnx_result.runtime == "onnx-int8"
    summary = onnx_result.summary["runtime"]
    assert summary["agreement"]["segments"] == 150 and summary["artifact"]["quantize"] == "int8"
    a = pd.read_csv(torch_result.files["suggestions_csv"], encoding="utf-8-sig", keep_default_na=False)
    b = pd.read_csv(onnx_result.files["suggestions_csv"], encoding="utf-8-sig", keep_default_na=False)
    np.testing.assert_allclose(a["best_confidence"], b["best_confidence"], atol=0.1)
    assert (a.groupby("id")["concept"].apply(tuple) == b.groupby("id")["concept"].apply(tuple)).mean() >= 0.9


def test_onnx_is_an_optional_extra(tmp_path):
    code = (
        "import sys; sys.modules['onnxruntime'] = None; sys.modules['onnx'] = None\n"
        "import groundcoder.inference, groundcoder.inference.onnx_runtime as o\n"
        "from groundcoder.inference import load_code_config, run_code\n"
        "try:\n"
        f"    run_code(load_code_config(None, {{'model': 'x', 'input.table': {str(tmp_path / 'none.csv')!r}, 'inference.runtime': 'onnx'}}))\n"
        "except o.OnnxUnavailableError as exc:\n"
        "    print('REFUSED', exc)\n"
    )
    (tmp_path / "none.csv").write_text("id,text\na,公司推进数字化。\n", encoding="utf-8")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert "REFUSED" in out.stdout, out.stderr[-2000:]
    assert 'pip install "onnx>=1.16" "onnxruntime>=1.18"' in out.stdout and "--runtime torch" in out.stdout
    assert issubclass(__import__("groundcoder.inference.onnx_runtime", fromlist=["x"]).OnnxUnavailableError, GroundcoderError)
