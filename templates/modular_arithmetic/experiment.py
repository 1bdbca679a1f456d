"""Modular arithmetic: a one-hidden-layer MLP trained with full-batch AdamW on (a op b) mod p, in NumPy only.

The AI Scientist's template contract: `python experiment.py --out_dir=run_i` writes
run_i/final_info.json ({dataset: {"means": {...}, "stderrs": {...}}}) and run_i/all_results.json
(per-seed loss and accuracy curves, read by plot.py). Half of all (a, b) pairs are trained on and the
rest held out, so the model memorises the training half within a few hundred steps and may or may not
generalise ("grok") to the held-out half later in the step budget. Runs on one CPU core in about half a
minute; no network, no GPU.
"""
import argparse
import json
import os
import time

# One BLAS thread: the run stays on one core, and its float sums come out the same every time.
for _name in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_name, "1")

import numpy as np  # noqa: E402

PRIME = 31


def _inverse(b, p):
    # Fermat's little theorem: b^(p-2) is the inverse of b modulo a prime p (b != 0).
    return np.array([pow(int(x), p - 2, p) for x in b], dtype=np.int64)


# name -> (c = f(a, b, p) on integer arrays, whether b = 0 is left out)
DATASETS = {
    "x_plus_y": (lambda a, b, p: (a + b) % p, False),
    "x_minus_y": (lambda a, b, p: (a - b) % p, False),
    "x_div_y": (lambda a, b, p: (a * _inverse(b, p)) % p, True),
}


def make_data(name, rng, p=PRIME, train_frac=0.5):
    """Every equation `a op b = c` with a, b in [0, p), split at random into train and validation.

    Returns two int arrays of shape (n, 3) holding the columns a, b, c.
    """
    op, nonzero_b = DATASETS[name]
    a, b = np.meshgrid(np.arange(p), np.arange(p), indexing="ij")
    a, b = a.ravel(), b.ravel()
    if nonzero_b:
        keep = b != 0
        a, b = a[keep], b[keep]
    table = np.stack([a, b, op(a, b, p)], axis=1)
    order = rng.permutation(len(table))
    n_train = int(round(train_frac * len(table)))
    return table[order[:n_train]], table[order[n_train:]]


class MLP:
    """Embeds a and b with one shared table, concatenates them, one ReLU hidden layer, logits over p classes."""

    def __init__(self, p, embed_dim, hidden, rng):
        init = {
            "emb": rng.standard_normal((p, embed_dim)) / np.sqrt(embed_dim),
            "w1": rng.standard_normal((2 * embed_dim, hidden)) / np.sqrt(2 * embed_dim),
            "b1": np.zeros(hidden),
            "w2": rng.standard_normal((hidden, p)) / np.sqrt(hidden),
            "b2": np.zeros(p),
        }
        # float32 halves the cost of every matrix product; the results are still deterministic.
        self.params = {k: v.astype(np.float32) for k, v in init.items()}
        self.p = p
        self.embed_dim = embed_dim
        self.cache = None

    def forward(self, data):
        """Logits for the rows (a, b, c) of `data`; the activations are kept for backward()."""
        x = np.concatenate([self.params["emb"][data[:, 0]], self.params["emb"][data[:, 1]]], axis=1)
        z = x @ self.params["w1"] + self.params["b1"]
        h = np.maximum(z, 0.0)
        self.cache = (data, x, z, h)
        return h @ self.params["w2"] + self.params["b2"]

    def backward(self, d_logits):
        """Gradients of the parameters, given the gradient of the loss with respect to the last logits."""
        data, x, z, h = self.cache
        grads = {"w2": h.T @ d_logits, "b2": d_logits.sum(axis=0)}
        d_z = d_logits @ self.params["w2"].T
        d_z *= z > 0
        grads["w1"] = x.T @ d_z
        grads["b1"] = d_z.sum(axis=0)
        d_x = d_z @ self.params["w1"].T
        # The embedding's gradient is a scatter-add over the rows looked up; a product with one-hot
        # matrices is the fastest way to do it in NumPy.
        one_hot = np.eye(self.p, dtype=np.float32)
        grads["emb"] = (one_hot[data[:, 0]].T @ d_x[:, :self.embed_dim]
                        + one_hot[data[:, 1]].T @ d_x[:, self.embed_dim:])
        return grads

    @staticmethod
    def log_softmax(logits):
        shifted = logits - logits.max(axis=1, keepdims=True)
        return shifted - np.log(np.exp(shifted).sum(axis=1, keepdims=True))

    def evaluate(self, data):
        """Mean cross-entropy and accuracy on `data`."""
        log_probs = self.log_softmax(self.forward(data))
        targets = data[:, 2]
        loss = float(-log_probs[np.arange(len(data)), targets].mean())
        acc = float((log_probs.argmax(axis=1) == targets).mean())
        return loss, acc

    def loss_and_grads(self, data):
        """Mean cross-entropy on `data` and its gradients."""
        log_probs = self.log_softmax(self.forward(data))
        n, targets = len(data), data[:, 2]
        loss = float(-log_probs[np.arange(n), targets].mean())
        d_logits = np.exp(log_probs)
        d_logits[np.arange(n), targets] -= 1.0
        d_logits /= n
        return loss, self.backward(d_logits)


class AdamW:
    """Adam with decoupled weight decay (Loshchilov & Hutter): the decay shrinks every parameter directly
    instead of being added to the gradient, so it is not rescaled by Adam's second-moment estimate."""

    def __init__(self, params, lr, weight_decay, beta1=0.9, beta2=0.98, eps=1e-8):
        self.lr, self.weight_decay, self.beta1, self.beta2, self.eps = lr, weight_decay, beta1, beta2, eps
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
            params[k] -= lr * (m_hat / (np.sqrt(v_hat) + self.eps) + self.weight_decay * params[k])


def train(dataset, seed, p=PRIME, train_frac=0.5, embed_dim=64, hidden=128, steps=3000, lr=1e-2,
          weight_decay=1.0, eval_every=50, acc_threshold=0.99):
    rng = np.random.default_rng(seed)
    train_data, val_data = make_data(dataset, rng, p, train_frac)
    model = MLP(p, embed_dim, hidden, rng)
    optimizer = AdamW(model.params, lr, weight_decay)
    curves = {"train_loss": [], "val_loss": [], "train_acc": [], "val_acc": []}
    # The first evaluated step (one in every eval_every) at which validation accuracy reaches
    # acc_threshold, i.e. where the model has "grokked" the held-out equations. A run that never
    # gets there within the budget reports the budget itself (`steps`), so the mean over seeds stays
    # defined; final_val_acc tells such a run apart from one that got there on the very last step.
    step_val_acc_99 = None
    start = time.perf_counter()
    for step in range(1, steps + 1):
        _, grads = model.loss_and_grads(train_data)
        optimizer.step(model.params, grads, lr)
        if step % eval_every == 0 or step == steps:
            train_loss, train_acc = model.evaluate(train_data)
            val_loss, val_acc = model.evaluate(val_data)
            for key, value in (("train_loss", train_loss), ("val_loss", val_loss),
                               ("train_acc", train_acc), ("val_acc", val_acc)):
                curves[key].append((step, float(f"{value:.6g}")))
            if step_val_acc_99 is None and val_acc >= acc_threshold:
                step_val_acc_99 = step
    elapsed = time.perf_counter() - start
    return {
        "final_train_loss": train_loss,
        "final_val_loss": val_loss,
        "final_train_acc": train_acc,
        "final_val_acc": val_acc,
        "step_val_acc_99": step_val_acc_99 if step_val_acc_99 is not None else steps,
        "grokked": step_val_acc_99 is not None,
        "train_time_s": elapsed,
        "curves": curves,
    }


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out_dir", type=str, default="run_0")
    parser.add_argument("--seeds", type=int, default=3)
    args = parser.parse_args()
    os.makedirs(args.out_dir, exist_ok=True)

    final_info, all_results = {}, {}
    for dataset in DATASETS:
        runs = []
        for seed in range(args.seeds):
            r = train(dataset, seed)
            runs.append(r)
            reached = f"val acc >= 0.99 at step {r['step_val_acc_99']}" if r["grokked"] else "val acc never >= 0.99"
            print(f"{dataset} seed {seed}: train acc {r['final_train_acc']:.3f}, val acc {r['final_val_acc']:.3f}, "
                  f"{reached} ({r['train_time_s']:.1f} s)", flush=True)
        metrics = ["final_train_loss", "final_val_loss", "final_train_acc", "final_val_acc", "step_val_acc_99",
                   "train_time_s"]
        final_info[dataset] = {
            "means": {m: float(np.mean([r[m] for r in runs])) for m in metrics},
            "stderrs": {m: float(np.std([r[m] for r in runs]) / np.sqrt(len(runs))) for m in metrics},
        }
        all_results[dataset] = [{"seed": s, "grokked": r["grokked"], **r["curves"]} for s, r in enumerate(runs)]
        means = final_info[dataset]["means"]
        print(f"{dataset}: val acc {means['final_val_acc']:.3f}, step to 0.99 val acc {means['step_val_acc_99']:.0f}",
              flush=True)

    with open(os.path.join(args.out_dir, "final_info.json"), "w") as f:
        json.dump(final_info, f, indent=2)
    with open(os.path.join(args.out_dir, "all_results.json"), "w") as f:
        json.dump(all_results, f)


if __name__ == "__main__":
    main()
