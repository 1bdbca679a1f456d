"""Plots the accuracy curves of every run_* folder named in `labels`, one figure per dataset.

Each run is drawn in its own colour: validation accuracy (mean over seeds) as a solid line, training
accuracy as a dashed one, so the gap between memorising and generalising shows. PNG through matplotlib
when it is installed; otherwise a dependency-free SVG with the same content.
"""
import json
import os

# The runs to plot and their legend labels; the experiment stage adds one entry per run.
labels = {
    "run_0": "Baseline",
}

COLORS = ["#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b"]
THRESHOLD = 0.99  # the validation accuracy that experiment.py's step_val_acc_99 refers to


def mean_curve(seed_runs, key):
    steps = [s for s, _ in seed_runs[0][key]]
    values = [sum(run[key][i][1] for run in seed_runs) / len(seed_runs) for i in range(len(steps))]
    return steps, values


def load():
    curves = {}
    for run, label in labels.items():
        path = os.path.join(run, "all_results.json")
        if not os.path.exists(path):
            continue
        with open(path) as f:
            results = json.load(f)
        for dataset, seed_runs in results.items():
            steps, val_acc = mean_curve(seed_runs, "val_acc")
            _, train_acc = mean_curve(seed_runs, "train_acc")
            curves.setdefault(dataset, []).append((label, steps, val_acc, train_acc))
    return curves


def plot_matplotlib(dataset, series):
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    plt.figure(figsize=(6, 4))
    for i, (label, steps, val_acc, train_acc) in enumerate(series):
        color = COLORS[i % len(COLORS)]
        plt.plot(steps, val_acc, label=f"{label} (val)", color=color)
        plt.plot(steps, train_acc, label=f"{label} (train)", color=color, linestyle="--", alpha=0.6)
    plt.axhline(THRESHOLD, color="grey", linewidth=0.8, linestyle=":")
    plt.ylim(-0.02, 1.02)
    plt.xlabel("step")
    plt.ylabel("accuracy")
    plt.title(f"Accuracy: {dataset}")
    plt.legend(fontsize="small")
    plt.tight_layout()
    plt.savefig(f"val_acc_{dataset}.png")
    plt.close()


def plot_svg(dataset, series, width=600, height=400, margin=50):
    all_steps = [s for _, steps, _, _ in series for s in steps]
    x0, x1 = min(all_steps), max(all_steps)
    def px(step):
        return margin + (step - x0) / max(x1 - x0, 1) * (width - 2 * margin)
    def py(value):
        return height - margin - value * (height - 2 * margin)
    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}">',
             f'<text x="{width / 2}" y="20" text-anchor="middle">Accuracy: {dataset} (solid: val, dashed: train)</text>',
             f'<line x1="{margin}" y1="{height - margin}" x2="{width - margin}" y2="{height - margin}" stroke="black"/>',
             f'<line x1="{margin}" y1="{margin}" x2="{margin}" y2="{height - margin}" stroke="black"/>',
             f'<line x1="{margin}" y1="{py(THRESHOLD):.1f}" x2="{width - margin}" y2="{py(THRESHOLD):.1f}" '
             f'stroke="grey" stroke-dasharray="2,3"/>',
             f'<text x="{margin - 5}" y="{py(0.0) + 4:.1f}" text-anchor="end">0</text>',
             f'<text x="{margin - 5}" y="{py(1.0) + 4:.1f}" text-anchor="end">1</text>',
             f'<text x="{width - margin}" y="{height - margin + 18}" text-anchor="end">step {x1}</text>']
    for i, (label, steps, val_acc, train_acc) in enumerate(series):
        color = COLORS[i % len(COLORS)]
        for values, dash in ((val_acc, ""), (train_acc, ' stroke-dasharray="6,4" stroke-opacity="0.6"')):
            points = " ".join(f"{px(s):.1f},{py(v):.1f}" for s, v in zip(steps, values))
            parts.append(f'<polyline fill="none" stroke="{color}"{dash} points="{points}"/>')
        parts.append(f'<text x="{width - margin - 120}" y="{margin + 15 * (i + 1)}" fill="{color}">{label}</text>')
    parts.append("</svg>")
    with open(f"val_acc_{dataset}.svg", "w") as f:
        f.write("\n".join(parts))


def main():
    try:
        import matplotlib  # noqa: F401
        draw = plot_matplotlib
    except ImportError:
        draw = plot_svg
    for dataset, series in load().items():
        draw(dataset, series)


if __name__ == "__main__":
    main()
