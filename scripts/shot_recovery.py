#!/usr/bin/env python3
"""Per-shot recovery of `nanobragg ensemble -schedule shots`: each shot's refined variables
against the values it was rendered with, in units of its reported σ.

Usage: scripts/shot_recovery.py RENDER_LIST SHOTS_JSON
  RENDER_LIST: the shot list the images were rendered from: its misset_deg, cell and n_cells
  are the truth of misset_x/y/z, cell_a/b/c and N_a/N_b/N_c; the truth of scale is 1.
  SHOTS_JSON: the ensemble's out/shots.json (<variable> and sigma_<variable> per shot).
Prints, for every variable refined, the share of shots within 1σ and 2σ and the rms z (misset
errors taken modulo 360°), then the same over all of them, and the values without a σ.
Pure Python (3.11+ for tomllib), no third-party module.
"""
import json
import math
import sys
import tomllib

KEYS = {
    "misset_deg": ("misset_x", "misset_y", "misset_z"),
    "cell": ("cell_a", "cell_b", "cell_c"),
    "n_cells": ("N_a", "N_b", "N_c"),
}


def truth_of(shot):
    """Variable name -> true value of one rendered shot."""
    truth = {"scale": 1.0}
    for key, names in KEYS.items():
        for name, value in zip(names, shot.get(key, ())):
            truth[name] = value
    return truth


def summary(z):
    within1 = sum(abs(v) <= 1 for v in z) / len(z)
    within2 = sum(abs(v) <= 2 for v in z) / len(z)
    rms = math.sqrt(sum(v * v for v in z) / len(z))
    return f"{100 * within1:.1f} % within 1σ, {100 * within2:.1f} % within 2σ, rms z {rms:.2f}"


def main():
    with open(sys.argv[1], "rb") as f:
        truth = {s["name"]: truth_of(s) for s in tomllib.load(f)["shot"]}
    with open(sys.argv[2]) as f:
        shots = json.load(f)
    per_name, missing = {}, 0
    for s in shots:
        for name, true in truth[s["name"]].items():
            if name not in s:
                continue
            sigma = s.get("sigma_" + name)
            if sigma is None or not sigma > 0:
                missing += 1
                continue
            err = s[name] - true
            if name.startswith("misset"):
                err = (err + 180.0) % 360.0 - 180.0
            per_name.setdefault(name, []).append(err / sigma)
    if not per_name:
        print("no shot has a σ")
        return
    parts = [f"{name}: {summary(z)}" for name, z in per_name.items()]
    everything = [v for z in per_name.values() for v in z]
    print(f"{len(shots)} shots, {len(per_name)} variables each: {summary(everything)}; {missing} values without σ")
    for p in parts:
        print("  " + p)


if __name__ == "__main__":
    main()
