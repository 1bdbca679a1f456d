"""Plots the validation-loss curves of every run_* folder named in `labels`, one figure per dataset.

PNG through matplotlib when it is installed; otherwise a dependency-free SVG with the same content.
"""
import json
import os

# The runs to plot and their legend labels; the experiment stage adds one entry per run.
labels = {
    "run_0": "Baseline",
}

COLORS = ["#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b"]


def mean_curve(seed_runs):
    steps = [s for s, _ in seed_runs[0]["val_curve"]]
    values = [sum(run["val_curve"][i][1] for run in seed_runs) / len(seed_runs) for i in range(len(steps))]
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
            curves.setdefault(dataset, []).append((label, *mean_curve(seed_runs)))
    return curves


def plot_matplotlib(dataset, series):
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    plt.figure(figsize=(6, 4))
    for i, (label, steps, values) in enumerate(series):
        plt.plot(steps, values, label=label, color=COLORS[i % len(COLORS)])
    plt.yscale("log")
    plt.xlabel("step")
    plt.ylabel("validation MSE")
    plt.title(f"Validation loss: {dataset}")
    plt.legend()
    plt.tight_layout()
    plt.savefig(f"val_loss_{dataset}.png")
    plt.close()


def plot_svg(dataset, series, width=600, height=400, margin=50):
    import math
    all_steps = [s for _, steps, _ in series for s in steps]
    all_values = [math.log10(max(v, 1e-12)) for _, _, values in series for v in values]
    x0, x1 = min(all_steps), max(all_steps)
    y0, y1 = min(all_values), max(all_values)
    def px(step):
        return margin + (step - x0) / max(x1 - x0, 1) * (width - 2 * margin)
    def py(value):
        return height - margin - (math.log10(max(value, 1e-12)) - y0) / max(y1 - y0, 1e-9) * (height - 2 * margin)
    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}">',
             f'<text x="{width / 2}" y="20" text-anchor="middle">Validation loss: {dataset} (log scale)</text>',
             f'<line x1="{margin}" y1="{height - margin}" x2="{width - margin}" y2="{height - margin}" stroke="black"/>',
             f'<line x1="{margin}" y1="{margin}" x2="{margin}" y2="{height - margin}" stroke="black"/>']
    for i, (label, steps, values) in enumerate(series):
        points = " ".join(f"{px(s):.1f},{py(v):.1f}" for s, v in zip(steps, values))
        color = COLORS[i % len(COLORS)]
        parts.append(f'<polyline fill="none" stroke="{color}" points="{points}"/>')
        parts.append(f'<text x="{width - margin - 120}" y="{margin + 15 * i}" fill="{color}">{label}</text>')
    parts.append("</svg>")
    with open(f"val_loss_{dataset}.svg", "w") as f:
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
