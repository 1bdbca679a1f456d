"""A tiny experiment in the shape of an AI-Scientist template's experiment.py.

Fits ridge regression with plain numpy on two synthetic datasets for a few regularisation strengths
and seeds, and writes the results to OUT_DIR/final_info.json in AI-Scientist's format:
{"dataset": {"means": {"metric": value, ...}}}. About a second of CPU with Debian's reference BLAS.
"""
import argparse
import json
import os
import time

import numpy as np


def make_dataset(name, rng, n=5000, d=150):
    x = rng.standard_normal((n, d))
    w = rng.standard_normal(d) * (np.arange(d) < (20 if name == "sparse" else d))
    y = x @ w + rng.standard_normal(n) * (0.5 if name == "sparse" else 2.0)
    return x, y


def ridge(gram, xty, lam):
    return np.linalg.solve(gram + lam * np.eye(len(gram)), xty)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--out_dir", default="out")
    parser.add_argument("--seeds", type=int, default=5)
    args = parser.parse_args()
    os.makedirs(args.out_dir, exist_ok=True)
    started = time.time()
    final_info = {}
    for dataset in ["sparse", "dense"]:
        errors = {lam: [] for lam in [0.1, 10.0, 1000.0]}
        for seed in range(args.seeds):
            x, y = make_dataset(dataset, np.random.default_rng(seed))
            split = len(y) * 3 // 4
            gram, xty = x[:split].T @ x[:split], x[:split].T @ y[:split]
            for lam in errors:
                w = ridge(gram, xty, lam)
                errors[lam].append(float(np.mean((x[split:] @ w - y[split:]) ** 2)))
        results = {f"test_mse_lambda_{lam:g}": float(np.mean(e)) for lam, e in errors.items()}
        best = min(results, key=results.get)
        results["best_lambda"] = float(best.rsplit("_", 1)[1])
        final_info[dataset] = {"means": results}
        print(f"{dataset}: best {best} = {results[best]:.4f}", flush=True)
    with open(os.path.join(args.out_dir, "final_info.json"), "w") as f:
        json.dump(final_info, f, indent=2)
    print(f"numpy {np.__version__}, {time.time() - started:.1f} s, wrote {args.out_dir}/final_info.json")


if __name__ == "__main__":
    main()
