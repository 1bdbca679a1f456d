"""Toy regression: a two-layer tanh MLP fitted with full-batch Adam to 1-D functions, in NumPy only.

The AI Scientist's template contract: `python experiment.py --out_dir=run_i` writes
run_i/final_info.json ({dataset: {"means": {...}, "stderrs": {...}}}) and run_i/all_results.json
(per-seed loss curves, read by plot.py). Runs on one CPU core in a few seconds; no network, no GPU.
"""
import argparse
import json
import os
import time

import numpy as np

DATASETS = {
    "sine": lambda x: np.sin(3.0 * x),
    "abs": lambda x: np.abs(x) - 0.5,
    "step": lambda x: np.where(x > 0.1, 0.8, -0.4),
}


def make_data(name, rng, n_train=256, n_val=256, noise=0.05):
    f = DATASETS[name]
    x_train = rng.uniform(-1.0, 1.0, size=(n_train, 1))
    x_val = rng.uniform(-1.0, 1.0, size=(n_val, 1))
    y_train = f(x_train) + noise * rng.standard_normal(size=x_train.shape)
    y_val = f(x_val)
    return x_train, y_train, x_val, y_val


class MLP:
    def __init__(self, hidden, rng):
        self.params = {
            "w1": rng.standard_normal((1, hidden)) * 1.0,
            "b1": np.zeros(hidden),
            "w2": rng.standard_normal((hidden, 1)) / np.sqrt(hidden),
            "b2": np.zeros(1),
        }

    def forward(self, x):
        h = np.tanh(x @ self.params["w1"] + self.params["b1"])
        return h, h @ self.params["w2"] + self.params["b2"]

    def loss_and_grads(self, x, y):
        h, pred = self.forward(x)
        err = pred - y
        loss = float(np.mean(err ** 2))
        d_pred = 2.0 * err / len(x)
        grads = {"w2": h.T @ d_pred, "b2": d_pred.sum(axis=0)}
        d_h = (d_pred @ self.params["w2"].T) * (1.0 - h ** 2)
        grads["w1"] = x.T @ d_h
        grads["b1"] = d_h.sum(axis=0)
        return loss, grads


class Adam:
    def __init__(self, params, lr, beta1=0.9, beta2=0.999, eps=1e-8):
        self.lr, self.beta1, self.beta2, self.eps = lr, beta1, beta2, eps
        self.m = {k: np.zeros_like(v) for k, v in params.items()}
        self.v = {k: np.zeros_like(v) for k, v in params.items()}
        self.t = 0

    def step(self, params, grads, lr):
        self.t += 1
        for k in params:
            self.m[k] = self.beta1 * self.m[k] + (1 - self.beta1) * grads[k]
            self.v[k] = self.beta2 * self.v[k] + (1 - self.beta2) * grads[k] ** 2
            m_hat = self.m[k] / (1 - self.beta1 ** self.t)
            v_hat = self.v[k] / (1 - self.beta2 ** self.t)
            params[k] -= lr * m_hat / (np.sqrt(v_hat) + self.eps)


def train(dataset, seed, hidden=32, steps=3000, lr=1e-2, eval_every=50):
    rng = np.random.default_rng(seed)
    x_train, y_train, x_val, y_val = make_data(dataset, rng)
    model = MLP(hidden, rng)
    optimizer = Adam(model.params, lr)
    train_curve, val_curve = [], []
    start = time.perf_counter()
    for step in range(1, steps + 1):
        loss, grads = model.loss_and_grads(x_train, y_train)
        optimizer.step(model.params, grads, lr)
        if step % eval_every == 0 or step == steps:
            _, pred = model.forward(x_val)
            train_curve.append((step, loss))
            val_curve.append((step, float(np.mean((pred - y_val) ** 2))))
    elapsed = time.perf_counter() - start
    return {
        "final_train_loss": train_curve[-1][1],
        "final_val_loss": val_curve[-1][1],
        "train_time_s": elapsed,
        "train_curve": train_curve,
        "val_curve": val_curve,
    }


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out_dir", type=str, default="run_0")
    parser.add_argument("--seeds", type=int, default=3)
    args = parser.parse_args()
    os.makedirs(args.out_dir, exist_ok=True)

    final_info, all_results = {}, {}
    for dataset in DATASETS:
        runs = [train(dataset, seed) for seed in range(args.seeds)]
        metrics = ["final_train_loss", "final_val_loss", "train_time_s"]
        final_info[dataset] = {
            "means": {m: float(np.mean([r[m] for r in runs])) for m in metrics},
            "stderrs": {m: float(np.std([r[m] for r in runs]) / np.sqrt(len(runs))) for m in metrics},
        }
        all_results[dataset] = [{"seed": s, "train_curve": r["train_curve"], "val_curve": r["val_curve"]}
                                for s, r in enumerate(runs)]
        print(f"{dataset}: val loss {final_info[dataset]['means']['final_val_loss']:.5f}")

    with open(os.path.join(args.out_dir, "final_info.json"), "w") as f:
        json.dump(final_info, f, indent=2)
    with open(os.path.join(args.out_dir, "all_results.json"), "w") as f:
        json.dump(all_results, f)


if __name__ == "__main__":
    main()
