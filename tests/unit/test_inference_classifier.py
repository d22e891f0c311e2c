"""The classifier on real (tiny) TensorFlow models in all three forms: same results, batching,
input kinds, per-image failures, logits vs softmax."""

from __future__ import annotations

import numpy as np
import pytest
from inference_models import build_tiny_model
from PIL import Image

from semingest_worker.inference import (
    InferenceImageError,
    ModelConfig,
    clear_classifier_cache,
    load_classifier,
    prepare_for_model,
    to_rgb_uint8,
)
from semingest_worker.records import Classification

SIZE = 32


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    return build_tiny_model(tmp_path_factory.mktemp("inference"), seed=0, input_size=SIZE)


@pytest.fixture(scope="module")
def tiny_logits(tmp_path_factory):
    return build_tiny_model(
        tmp_path_factory.mktemp("inference"), seed=0, input_size=SIZE, final_activation=None
    )


@pytest.fixture(autouse=True, scope="module")
def _fresh_cache():
    clear_classifier_cache()
    yield
    clear_classifier_cache()


def sample_images() -> list:
    """Model-sized images of every input kind the pipeline hands over."""
    rng = np.random.default_rng(11)
    yy, xx = np.mgrid[0:SIZE, 0:SIZE]
    gradient = np.stack([xx * 8, yy * 8, (xx + yy) * 4], -1).astype(np.uint8)
    checker = (((xx // 4 + yy // 4) % 2) * 255).astype(np.uint8)
    palette = Image.fromarray((checker // 255 + (xx > 16)).astype(np.uint8), mode="P")
    palette.putpalette([20, 30, 200, 250, 240, 10, 0, 128, 0] + [0] * (768 - 9))
    return [
        np.zeros((SIZE, SIZE, 3), np.uint8),
        np.full((SIZE, SIZE, 3), 128, np.uint8),
        gradient,
        checker,  # 2-D grey
        checker.astype(np.uint16) * 257 // 3,  # 16-bit grey
        palette,  # palette image
        rng.integers(0, 256, (SIZE, SIZE, 3), dtype=np.uint8),
        rng.integers(0, 256, (SIZE, SIZE), dtype=np.uint8),
    ]


def score_matrix(results: list[Classification], labels) -> np.ndarray:
    return np.array([[r.scores[label] for label in labels] for r in results])


def reference_scores(model, images) -> np.ndarray:
    """The Keras model's own output on the same pixels (its input is 0..255 floats)."""
    batch = np.stack([to_rgb_uint8(image) for image in images]).astype(np.float32)
    return np.asarray(model(batch, training=False))


def test_all_three_forms_give_the_same_top1_and_scores(tiny):
    images = sample_images()
    expected = reference_scores(tiny.model, images)
    outcomes = {}
    for path in (tiny.keras, tiny.saved_model, tiny.graphdef):
        classifier = load_classifier(ModelConfig(path=str(path), labels_path=str(tiny.labels)))
        results = classifier.classify(images)
        scores = score_matrix(results, tiny.labels_list)
        np.testing.assert_allclose(scores, expected, atol=1e-5, rtol=0)
        assert [r.top1_label for r in results] == [tiny.labels_list[i] for i in expected.argmax(axis=1)]
        outcomes[classifier.form] = results
    assert set(outcomes) == {"keras", "saved_model", "graphdef"}
    assert len({tuple(r.top1_label for r in results) for results in outcomes.values()}) == 1
    assert len({r.top1_label for r in outcomes["keras"]}) > 1, "the sample images should not all look alike"


def test_scores_are_probabilities_summing_to_one(tiny):
    for path in (tiny.keras, tiny.saved_model, tiny.graphdef):
        classifier = load_classifier(ModelConfig(path=str(path), labels_path=str(tiny.labels)))
        for result in classifier.classify(sample_images()):
            assert result.model_id == classifier.model_id
            assert list(result.scores) == list(tiny.labels_list)
            assert all(isinstance(v, float) and 0.0 <= v <= 1.0 for v in result.scores.values())
            assert sum(result.scores.values()) == pytest.approx(1.0, abs=1e-5)
            assert result.top1_score == max(result.scores.values())
            assert result.scores[result.top1_label] == result.top1_score


def test_a_logits_model_gets_softmax_applied_once(tiny_logits):
    images = sample_images()
    logits = reference_scores(tiny_logits.model, images)
    assert not np.allclose(logits.sum(axis=1), 1.0), "the model should output logits"
    exp = np.exp(logits - logits.max(axis=1, keepdims=True))
    expected = exp / exp.sum(axis=1, keepdims=True)
    for path in (tiny_logits.keras, tiny_logits.saved_model):
        results = load_classifier(ModelConfig(path=str(path))).classify(images)
        np.testing.assert_allclose(
            score_matrix(results, tiny_logits.labels_list), expected, atol=1e-5, rtol=0
        )
        assert all(sum(r.scores.values()) == pytest.approx(1.0, abs=1e-6) for r in results)


def test_batch_sizes_1_and_32_give_the_same_results(tiny):
    rng = np.random.default_rng(5)
    images = [rng.integers(0, 256, (SIZE, SIZE, 3), dtype=np.uint8) for _ in range(30)]
    images += [rng.integers(0, 65536, (96, 128), dtype=np.uint16) for _ in range(10)]  # resized
    for path in (tiny.keras, tiny.saved_model, tiny.graphdef):
        one = load_classifier(ModelConfig(path=str(path), batch_size=1)).classify(images)
        many_classifier = load_classifier(ModelConfig(path=str(path), batch_size=32))
        many = many_classifier.classify(images)
        assert len(one) == len(many) == 40
        assert [r.top1_label for r in one] == [r.top1_label for r in many]
        np.testing.assert_allclose(
            score_matrix(one, tiny.labels_list), score_matrix(many, tiny.labels_list), atol=1e-6, rtol=0
        )
        assert many_classifier.batch_size == (1 if many_classifier.form == "graphdef" else 32)


def test_grey_palette_and_16bit_versions_of_an_image_classify_the_same(tiny):
    grey = np.random.default_rng(8).integers(0, 256, (SIZE, SIZE), dtype=np.uint8)
    grey_palette = Image.fromarray(grey, mode="P")
    grey_palette.putpalette([v for i in range(256) for v in (i, i, i)])
    variants = [grey, np.repeat(grey[:, :, None], 3, axis=2), grey.astype(np.uint16) * 257, grey_palette]
    results = load_classifier(ModelConfig(path=str(tiny.keras))).classify(variants)
    first = results[0]
    for other in results[1:]:
        assert other.top1_label == first.top1_label
        assert other.scores == pytest.approx(first.scores, abs=1e-7)


def test_a_large_sem_image_is_resized_to_the_model_input(tiny):
    image = np.random.default_rng(2).integers(0, 65536, (768, 1024), dtype=np.uint16)
    keras_result = load_classifier(ModelConfig(path=str(tiny.keras))).classify([image])[0]
    saved_result = load_classifier(ModelConfig(path=str(tiny.saved_model))).classify([image])[0]
    classifier = load_classifier(ModelConfig(path=str(tiny.keras)))
    resized = prepare_for_model(image, classifier.input_spec)
    assert resized.shape == (SIZE, SIZE, 3)
    expected = np.asarray(tiny.model(resized[None], training=False))[0]
    np.testing.assert_allclose(
        [keras_result.scores[label] for label in tiny.labels_list], expected, atol=1e-6, rtol=0
    )
    assert saved_result.scores == pytest.approx(keras_result.scores, abs=1e-6)


def test_one_bad_image_does_not_fail_the_others(tiny):
    good = sample_images()[:3]
    bad_empty = np.zeros((0, 5), np.uint8)
    bad_flat = np.zeros(7, np.uint8)
    for path in (tiny.keras, tiny.graphdef):
        classifier = load_classifier(ModelConfig(path=str(path), batch_size=4))
        outcomes = classifier.classify_each([good[0], bad_empty, good[1], bad_flat, good[2]])
        assert isinstance(outcomes[1], InferenceImageError) and outcomes[1].index == 1
        assert "empty" in outcomes[1].reason
        assert isinstance(outcomes[3], InferenceImageError) and "dimensions" in outcomes[3].reason
        alone = classifier.classify(good)
        assert [outcomes[0], outcomes[2], outcomes[4]] == alone
        with pytest.raises(InferenceImageError, match="image 1: cannot convert"):
            classifier.classify([good[0], bad_empty])


def test_a_graph_with_other_tensor_names_is_read_with_configured_names(tmp_path, tiny):
    other = build_tiny_model(
        tmp_path, seed=0, input_size=SIZE, graphdef_names=("input_image", "probabilities")
    )
    config = ModelConfig(
        path=str(other.graphdef), input_tensor="input_image:0", output_tensor="probabilities"
    )
    images = sample_images()
    results = load_classifier(config).classify(images)
    np.testing.assert_allclose(
        score_matrix(results, other.labels_list), reference_scores(tiny.model, images), atol=1e-5, rtol=0
    )


def test_a_batched_graphdef_runs_whole_batches(tmp_path, tiny):
    batched = build_tiny_model(
        tmp_path, seed=0, input_size=SIZE, graphdef_names=("input", "output"), graphdef_batched=True
    )
    classifier = load_classifier(
        ModelConfig(path=str(batched.graphdef), input_tensor="input", output_tensor="output")
    )
    assert classifier.batch_size == 32 and classifier.input_spec.dtype == "float32"
    images = sample_images() + [np.full((70, 50), 90, np.uint8)]  # the last one is resized
    results = classifier.classify(images)
    expected = load_classifier(ModelConfig(path=str(tiny.keras))).classify(images)
    np.testing.assert_allclose(
        score_matrix(results, tiny.labels_list), score_matrix(expected, tiny.labels_list), atol=1e-5, rtol=0
    )


def test_a_model_of_any_input_size_isolates_the_image_it_fails_on(tmp_path):
    """Images of one size share a batch; when the model fails on a batch, each image is retried
    alone so only the failing one is reported."""
    import keras

    inputs = keras.Input((None, None, 3))
    x = keras.layers.Conv2D(4, 3, activation="relu")(inputs)  # "valid": a 1x1 image cannot pass
    x = keras.layers.GlobalAveragePooling2D()(x)
    model = keras.Model(inputs, keras.layers.Dense(10, activation="softmax")(x))
    path = tmp_path / "any_size.keras"
    model.save(path)
    classifier = load_classifier(ModelConfig(path=str(path), batch_size=8))
    assert classifier.input_spec.height is None and classifier.input_spec.width is None
    images = [
        np.full((20, 20), 50, np.uint8),
        np.zeros((1, 1), np.uint8),
        np.full((30, 25, 3), 9, np.uint8),
        np.full((20, 20), 200, np.uint8),
    ]
    outcomes = classifier.classify_each(images)
    assert isinstance(outcomes[1], InferenceImageError)
    assert outcomes[1].reason.startswith("the model failed on this image: InvalidArgumentError")
    for index in (0, 2, 3):
        expected = np.asarray(model(to_rgb_uint8(images[index])[None].astype(np.float32), training=False))[0]
        got = [outcomes[index].scores[label] for label in classifier.labels]
        np.testing.assert_allclose(got, expected, atol=1e-6, rtol=0)
