"""Loading models: clear errors for every bad model or labels file, model ids, the per-process
cache, and TensorFlow thread pools sized to the process's share of the cores."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest
from inference_models import build_tiny_model

from semingest_api.spec import DEFAULT_LABELS
from semingest_worker.inference import (
    ModelConfig,
    ModelLoadError,
    clear_classifier_cache,
    default_thread_count,
    load_classifier,
    model_digest,
    read_labels,
)

TESTS_DIR = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def models(tmp_path_factory):
    root = tmp_path_factory.mktemp("models")
    return {
        "seed0": build_tiny_model(root, seed=0, name="seed0"),
        "seed1": build_tiny_model(root, seed=1, name="seed1"),
    }


@pytest.fixture(autouse=True)
def _fresh_cache():
    clear_classifier_cache()
    yield
    clear_classifier_cache()


def test_model_id_is_stable_and_differs_between_models_forms_and_labels(models, tmp_path):
    tiny = models["seed0"]
    first = load_classifier(ModelConfig(path=str(tiny.keras))).model_id
    clear_classifier_cache()
    again = load_classifier(ModelConfig(path=str(tiny.keras))).model_id
    assert first == again and len(first) == 64 and int(first, 16) >= 0
    copy = tmp_path / "renamed.keras"
    shutil.copyfile(tiny.keras, copy)
    assert load_classifier(ModelConfig(path=str(copy))).model_id == first  # bytes decide, not the name
    other_seed = load_classifier(ModelConfig(path=str(models["seed1"].keras))).model_id
    saved = load_classifier(ModelConfig(path=str(tiny.saved_model))).model_id
    graph = load_classifier(ModelConfig(path=str(tiny.graphdef))).model_id
    relabelled_file = tmp_path / "labels.txt"
    relabelled_file.write_text("\n".join(f"kind_{i}" for i in range(10)) + "\n")
    relabelled = load_classifier(ModelConfig(path=str(tiny.keras), labels_path=str(relabelled_file))).model_id
    assert len({first, other_seed, saved, graph, relabelled}) == 5
    # The default labels and a file holding the same labels are the same model.
    assert load_classifier(ModelConfig(path=str(tiny.keras), labels_path=str(tiny.labels))).model_id == first
    assert model_digest(tiny.keras, DEFAULT_LABELS, ModelConfig(path=str(tiny.keras))) == first


def test_saved_model_id_covers_every_file_of_the_directory(models, tmp_path):
    copy = tmp_path / "saved"
    shutil.copytree(models["seed0"].saved_model, copy)
    before = model_digest(copy, DEFAULT_LABELS, ModelConfig(path=str(copy)))
    (copy / "assets").mkdir(exist_ok=True)
    (copy / "assets" / "note.txt").write_text("extra")
    assert model_digest(copy, DEFAULT_LABELS, ModelConfig(path=str(copy))) != before


def test_a_model_is_loaded_once_per_process_and_reloaded_when_replaced(models, tmp_path):
    path = tmp_path / "model.keras"
    shutil.copyfile(models["seed0"].keras, path)
    config = ModelConfig(path=str(path))
    first = load_classifier(config)
    assert load_classifier(ModelConfig(path=str(path))) is first
    shutil.copyfile(models["seed1"].keras, path)
    os.utime(path, ns=(first_ns := path.stat().st_mtime_ns + 10**9, first_ns))
    replaced = load_classifier(config)
    assert replaced is not first and replaced.model_id != first.model_id


def test_missing_model(tmp_path):
    with pytest.raises(ModelLoadError, match=r"model .*nowhere\.keras does not exist"):
        load_classifier(ModelConfig(path=str(tmp_path / "nowhere.keras")))


def test_unknown_format_and_plain_directory(tmp_path):
    odd = tmp_path / "model.onnx"
    odd.write_bytes(b"\x08\x01")
    with pytest.raises(
        ModelLoadError, match=r"unknown model format .*model\.onnx.*\.keras.*SavedModel.*GraphDef"
    ):
        load_classifier(ModelConfig(path=str(odd)))
    with pytest.raises(ModelLoadError, match="is not a SavedModel: it has no saved_model.pb"):
        load_classifier(ModelConfig(path=str(tmp_path)))


def test_corrupt_keras_file(tmp_path):
    path = tmp_path / "broken.keras"
    path.write_bytes(np.random.default_rng(0).bytes(2000))
    with pytest.raises(ModelLoadError, match=r"cannot load Keras model .*broken\.keras"):
        load_classifier(ModelConfig(path=str(path)))


def test_corrupt_and_truncated_graphdef(models, tmp_path):
    garbage = tmp_path / "garbage.pb"
    garbage.write_bytes(b"\xff\xfe" + np.random.default_rng(1).bytes(3000))
    with pytest.raises(ModelLoadError, match=r"garbage\.pb"):
        load_classifier(ModelConfig(path=str(garbage)))
    truncated = tmp_path / "truncated.pb"
    data = models["seed0"].graphdef.read_bytes()
    truncated.write_bytes(data[: len(data) // 2])
    with pytest.raises(ModelLoadError, match=r"truncated\.pb"):
        load_classifier(ModelConfig(path=str(truncated)))


def test_corrupt_saved_model(models, tmp_path):
    copy = tmp_path / "saved"
    shutil.copytree(models["seed0"].saved_model, copy)
    (copy / "saved_model.pb").write_bytes(b"not a protobuf at all")
    with pytest.raises(ModelLoadError, match="cannot load SavedModel"):
        load_classifier(ModelConfig(path=str(copy)))


def test_tensor_or_signature_key_not_found(models):
    tiny = models["seed0"]
    with pytest.raises(ModelLoadError, match=r"has no output tensor 'scores_out:0'"):
        load_classifier(ModelConfig(path=str(tiny.graphdef), output_tensor="scores_out"))
    with pytest.raises(
        ModelLoadError,
        match=r"has no input tensor 'image:0'; its possible inputs: DecodeJpeg/contents, DecodeJpeg",
    ):
        load_classifier(ModelConfig(path=str(tiny.graphdef), input_tensor="image"))
    with pytest.raises(ModelLoadError, match=r"has no input 'pixels' \(it has: "):
        load_classifier(ModelConfig(path=str(tiny.saved_model), input_tensor="pixels"))
    with pytest.raises(ModelLoadError, match="tensor names apply to SavedModel and GraphDef"):
        load_classifier(ModelConfig(path=str(tiny.keras), output_tensor="x"))


def test_label_count_different_from_model_outputs(models, tmp_path):
    labels = tmp_path / "three.txt"
    labels.write_text("a\nb\nc\n")
    for path in (models["seed0"].keras, models["seed0"].saved_model, models["seed0"].graphdef):
        with pytest.raises(
            ModelLoadError, match=r"outputs 10 scores per image but labels file .*three\.txt has 3"
        ):
            load_classifier(ModelConfig(path=str(path), labels_path=str(labels)))


def test_model_with_other_class_count_and_default_labels(tmp_path):
    four = build_tiny_model(tmp_path, labels=("a", "b", "c", "d"))
    with pytest.raises(
        ModelLoadError, match="outputs 4 scores per image but the default SEM category list has 10"
    ):
        load_classifier(ModelConfig(path=str(four.keras)))
    assert load_classifier(ModelConfig(path=str(four.keras), labels_path=str(four.labels))).labels == (
        "a",
        "b",
        "c",
        "d",
    )


def test_sigmoid_model_is_refused(tmp_path):
    sigmoid = build_tiny_model(tmp_path, final_activation="sigmoid")
    with pytest.raises(ModelLoadError, match="ends in a sigmoid"):
        load_classifier(ModelConfig(path=str(sigmoid.keras)))


def test_labels_files(tmp_path):
    assert read_labels(None) == DEFAULT_LABELS
    path = tmp_path / "labels.txt"
    path.write_text("\ufeffone\r\n two \n\nthree\n\n", encoding="utf-8")
    assert read_labels(str(path)) == ("one", "two", "three")
    with pytest.raises(ModelLoadError, match=r"labels file .*missing\.txt does not exist"):
        read_labels(str(tmp_path / "missing.txt"))
    path.write_text("\n  \n")
    with pytest.raises(ModelLoadError, match="has no labels"):
        read_labels(str(path))
    path.write_text("a\nb\na\n")
    with pytest.raises(ModelLoadError, match="repeats labels: a"):
        read_labels(str(path))
    path.write_bytes(b"\xff\xfe\x00bad")
    with pytest.raises(ModelLoadError, match="cannot be read as UTF-8"):
        read_labels(str(path))


def test_missing_labels_file_fails_the_load(models, tmp_path):
    with pytest.raises(ModelLoadError, match="does not exist"):
        load_classifier(ModelConfig(path=str(models["seed0"].keras), labels_path=str(tmp_path / "none.txt")))


@pytest.mark.parametrize("bad", [{"batch_size": 0}, {"batch_size": True}, {"threads": 0}, {"threads": 1.5}])
def test_model_config_rejects_bad_numbers(bad):
    with pytest.raises(ValueError):
        ModelConfig(path="m.keras", **bad)


def test_default_thread_count_outside_spark(monkeypatch):
    monkeypatch.setenv("SPARK_EXECUTOR_CORES", "3")
    assert default_thread_count() == 3
    monkeypatch.delenv("SPARK_EXECUTOR_CORES")
    assert 1 <= default_thread_count() <= (os.cpu_count() or 1)


def test_tensorflow_pools_are_sized_before_tensorflow_starts(models):
    """In a fresh process (as a Spark Python worker is): threads from SPARK_EXECUTOR_CORES."""
    script = textwrap.dedent(
        f"""
        import tensorflow as tf
        from semingest_worker.inference import ModelConfig, load_classifier
        classifier = load_classifier(ModelConfig(path={str(models["seed0"].keras)!r}))
        print(classifier.threads.intra_op, classifier.threads.inter_op,
              tf.config.threading.get_intra_op_parallelism_threads(),
              tf.config.threading.get_inter_op_parallelism_threads())
        """
    )
    env = dict(os.environ, SPARK_EXECUTOR_CORES="1", TF_CPP_MIN_LOG_LEVEL="3")
    done = subprocess.run(
        [sys.executable, "-c", script], env=env, capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.split()[-4:] == ["1", "1", "1", "1"]
