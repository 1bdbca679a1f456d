"""Reads a scientist archive after bench/scientist.sh's launch: tokens and cost per stage at two price tables,
the paper's total against the AI Scientist's "less than $15 per paper", and the wall time of each stage.

    python3 scientist_report.py ARCHIVE.db
"""
import sqlite3
import sys

PRICES = {"gpt-4o": (2.5, 10.0), "claude-3-5-sonnet": (3.0, 15.0)}  # USD per million tokens, in and out (Pricing.swift)
db = sqlite3.connect(sys.argv[1])

rows = db.execute("""SELECT stage, COUNT(*), SUM(input_tokens), SUM(output_tokens) FROM llm_calls
                     WHERE outcome = 'ok' GROUP BY stage ORDER BY MIN(id)""").fetchall()
print("| stage | calls | tokens in | tokens out | gpt-4o | claude-3-5-sonnet |")
print("|---|---:|---:|---:|---:|---:|")
totals = [0, 0, 0]
for stage, calls, tin, tout in rows:
    costs = [(tin * p_in + tout * p_out) / 1e6 for p_in, p_out in PRICES.values()]
    print(f"| {stage} | {calls} | {tin:,} | {tout:,} | ${costs[0]:.3f} | ${costs[1]:.3f} |")
    totals = [totals[0] + calls, totals[1] + tin, totals[2] + tout]
costs = [(totals[1] * p_in + totals[2] * p_out) / 1e6 for p_in, p_out in PRICES.values()]
print(f"| **the paper** | **{totals[0]}** | **{totals[1]:,}** | **{totals[2]:,}** | **${costs[0]:.2f}** | **${costs[1]:.2f}** |")
print()

def span(sql):
    value = db.execute(sql).fetchone()
    return value[0] if value and value[0] is not None else float("nan")

launch_start = span("SELECT MIN(started_at) FROM launches")
idea_end = span("SELECT MAX(created_at) FROM ideas WHERE source = 'generated'")
novelty = span("SELECT SUM(finished_at - started_at) FROM novelty_checks")
experiment = span("SELECT SUM(finished_at - started_at) FROM experiments")
runs = span("SELECT SUM(wall_seconds) FROM experiment_runs")
writeup = span("SELECT SUM(finished_at - started_at) FROM papers")
review = span("SELECT MAX(r.created_at) - MAX(p.finished_at) FROM reviews r JOIN papers p ON p.id = r.paper_id")
print("| stage | wall time | of which sandboxed runs |")
print("|---|---:|---:|")
print(f"| ideas | {idea_end - launch_start:.2f} s | – |")
print(f"| novelty | {novelty:.2f} s | – |")
print(f"| experiments and plots | {experiment:.2f} s | {runs:.2f} s |")
print(f"| write-up (compiles included) | {writeup:.2f} s | – |")
print(f"| review (pdftotext included) | {review:.2f} s | – |")
