"""Inference throughput: images/s of a MobileNetV2-sized classifier at batch 1 and batch 32.

The model is ``tf.keras.applications.MobileNetV2(weights=None)`` (224 x 224 x 3 input, 1000
classes; random weights: no weights can be downloaded and throughput does not depend on them),
saved as a ``.keras`` file and loaded through the inference stage's own ``load_classifier``, so
the figure includes what the pipeline pays per image: converting a grey 1024 x 768 SEM image to
RGB, resizing it to 224 x 224, the model, and turning scores into a Classification. A second
figure (``model_input_images_per_second``) feeds images already at 224 x 224 x 3.

``measure_inference_throughput()`` returns a dict (medians of ``repetitions`` timed runs after
one warm-up run); ``python bench/inference_bench.py [--output FILE]`` prints / writes it as JSON.
Run it in a fresh process: TensorFlow's thread pools are sized once per process.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

_REPO = Path(__file__).resolve().parents[1]
if str(_REPO / "worker") not in sys.path:
    sys.path.insert(0, str(_REPO / "worker"))

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

SEM_IMAGE_SHAPE = (768, 1024)  # grey, height x width
MODEL_INPUT_SHAPE = (224, 224, 3)


def measure_inference_throughput(
    batch_sizes: tuple[int, ...] = (1, 32),
    repetitions: int = 5,
    images_per_repetition: dict[int, int] | None = None,
    threads: int | None = None,
) -> dict[str, Any]:
    """Images/s (median of ``repetitions``) per batch size, for SEM-sized grey inputs and for
    inputs already at the model's size. ``images_per_repetition`` defaults to 64 at batch 1 and
    8 batches otherwise."""
    import keras

    from semingest_worker.inference import ModelConfig, default_thread_count, load_classifier
    from semingest_worker.inference.tf_threads import configure_tensorflow_threads

    if repetitions < 1:
        raise ValueError("repetitions must be >= 1")
    # Building the model below starts TensorFlow: size its pools first, as load_classifier would.
    configure_tensorflow_threads(threads or default_thread_count())
    counts = images_per_repetition or {}
    rng = np.random.default_rng(0)
    sem_image = rng.integers(0, 256, SEM_IMAGE_SHAPE, dtype=np.uint8)
    model_image = rng.integers(0, 256, MODEL_INPUT_SHAPE, dtype=np.uint8)
    with tempfile.TemporaryDirectory(prefix="semingest-inference-bench-") as folder:
        model_path = Path(folder) / "mobilenet_v2.keras"
        labels_path = Path(folder) / "labels.txt"
        model = keras.applications.MobileNetV2(weights=None)
        model.save(model_path)
        labels_path.write_text("".join(f"class_{i}\n" for i in range(model.output_shape[-1])))
        del model
        results: dict[str, Any] = {
            "model": "keras.applications.MobileNetV2(weights=None), 224x224x3, 1000 classes, .keras",
            "cpu_count": os.cpu_count(),
            "repetitions": repetitions,
            "images_per_second": {},
            "model_input_images_per_second": {},
            "seconds_per_repetition": {},
        }
        for batch_size in batch_sizes:
            count = counts.get(batch_size, 64 if batch_size == 1 else 8 * batch_size)
            classifier = load_classifier(
                ModelConfig(
                    path=str(model_path), labels_path=str(labels_path), batch_size=batch_size, threads=threads
                )
            )
            results["threads"] = {
                "intra_op": classifier.threads.intra_op,
                "inter_op": classifier.threads.inter_op,
            }
            for key, image in (
                ("images_per_second", sem_image),
                ("model_input_images_per_second", model_image),
            ):
                images = [image] * count
                classifier.classify(images[: max(batch_size, 1)])  # warm-up (traces, allocates)
                seconds = []
                for _ in range(repetitions):
                    start = time.perf_counter()
                    classifier.classify(images)
                    seconds.append(time.perf_counter() - start)
                median = statistics.median(seconds)
                results[key][f"batch{batch_size}"] = round(count / median, 2)
                if key == "images_per_second":
                    results["seconds_per_repetition"][f"batch{batch_size}"] = [round(s, 3) for s in seconds]
                    results.setdefault("images_per_repetition", {})[f"batch{batch_size}"] = count
        results["input"] = f"grey uint8 {SEM_IMAGE_SHAPE[1]}x{SEM_IMAGE_SHAPE[0]} (resized to 224x224 RGB)"
    return results


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repetitions", type=int, default=5)
    parser.add_argument(
        "--threads", type=int, default=None, help="TensorFlow intra-op threads (default: all CPUs)"
    )
    parser.add_argument("--output", "--out", type=Path, default=None, help="also write the JSON here")
    args = parser.parse_args(argv)
    result = measure_inference_throughput(repetitions=args.repetitions, threads=args.threads)
    text = json.dumps(result, indent=2)
    print(text)
    if args.output:
        args.output.parent.mkdir(parents=True, exist_ok=True)
        args.output.write_text(text + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
