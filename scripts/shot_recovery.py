#!/usr/bin/env python3
"""Per-shot recovery of `nanobragg ensemble -schedule shots`: each shot's refined misset
against the one it was rendered with, in units of its reported σ.

Usage: scripts/shot_recovery.py RENDER_LIST SHOTS_JSON
  RENDER_LIST: the shot list the images were rendered from (its misset_deg is the truth);
  SHOTS_JSON: the ensemble's out/shots.json (misset_x/y/z and sigma_misset_x/y/z per shot).
Prints the fraction of missets within 1σ and 2σ, the rms z and the shots whose σ is missing.
Pure Python (3.11+ for tomllib), no third-party module.
"""
import json
import math
import sys
import tomllib


def main():
    with open(sys.argv[1], "rb") as f:
        truth = {s["name"]: s["misset_deg"] for s in tomllib.load(f)["shot"]}
    with open(sys.argv[2]) as f:
        shots = json.load(f)
    z, missing = [], 0
    for s in shots:
        for axis, name in enumerate(("misset_x", "misset_y", "misset_z")):
            sigma = s.get("sigma_" + name)
            if sigma is None or not sigma > 0:
                missing += 1
                continue
            err = (s[name] - truth[s["name"]][axis] + 180.0) % 360.0 - 180.0
            z.append(err / sigma)
    if not z:
        print("no shot has a σ")
        return
    within1 = sum(abs(v) <= 1 for v in z) / len(z)
    within2 = sum(abs(v) <= 2 for v in z) / len(z)
    rms = math.sqrt(sum(v * v for v in z) / len(z))
    print(f"{len(shots)} shots: {100 * within1:.1f} % of missets within 1σ, {100 * within2:.1f} % within 2σ, rms z {rms:.2f}; {missing} without σ")


if __name__ == "__main__":
    main()
