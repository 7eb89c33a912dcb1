#!/usr/bin/env bash
# Throughput and memory of `nanobragg ensemble` (docs/benchmarks.md, "Ensemble refinement").
#
# Renders N noisy stills of the recovery test's scene (48x48 pixels, three wavelengths, a
# 441-point F grid) with `nanobragg batch`, then refines F and each shot's misset from a
# perturbed start with 1, 2, ... MPI ranks (-max_iter ITER, one joint cycle), printing for
# each: wall time, shot evaluations/s (one loss-and-gradient of one shot) and peak resident
# memory per rank.
#
# Usage: scripts/bench_ensemble.sh BIN [SHOTS] [ITER] [RANKS...]
#   BIN: a nanobragg binary built with --features mpi (cargo build --release -p nanobragg-cli
#   --features mpi); SHOTS default 100, ITER default 20, RANKS default "1 2".
#   GRID_HALF: the F grid's half-widths "H K L" (default "3 3 4": 441 entries, about what the
#   stills reach); larger grids hold entries no shot sees, as a real HKL file does.
#   DETPIXELS, PIXEL_MM: the detector's pixels a side (default 48) and pixel size (default 0.2).
#   SHOEBOX: "RADIUS FRACTION" to fit shoeboxes only: each shot's mask keeps the pixels within
#   RADIUS of a pixel above FRACTION of its noiseless render's brightest
#   (scripts/shoebox_masks.py), given as `mask = ...` in its [[shot]] table.
#   SCHEDULE=shots: per-shot refinement ("stage 1"): F held at the truth (-schedule shots), and
#   each rank count's recovery printed by scripts/shot_recovery.py (the refined missets against
#   the rendered ones, in units of each shot's σ).
#   ENSEMBLE_FLAGS: more flags for `nanobragg ensemble` (e.g. "-backend cuda" with a binary
#   built with --features cuda,mpi: each rank takes GPU local-rank mod GPUs).
#   Without mpirun on PATH, one rank runs as a plain process (BIN may then lack the mpi feature).
set -euo pipefail
BIN=$(realpath "$1")
MASKS=$(realpath "$(dirname "$0")/shoebox_masks.py")
SHOTS=${2:-100}
ITER=${3:-20}
shift $(( $# < 3 ? $# : 3 ))
RANKS=${*:-1 2}
WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT
cd "$WORK"
SCENE="-cell 30 34 38 90 90 90 -N 4 -lambda 1 -dispersion 1 -dispsteps 3 -distance 60 -detpixels ${DETPIXELS:-48} -pixel ${PIXEL_MM:-0.2} -oversample 1 -fluence 1e29"
# Truth F in [20, 200]; the start 25 % off at random.
read -r HH HK HL <<< "${GRID_HALF:-3 3 4}"
awk -v hh="$HH" -v hk="$HK" -v hl="$HL" 'BEGIN { srand(7); for (h = -hh; h <= hh; h++) for (k = -hk; k <= hk; k++) for (l = -hl; l <= hl; l++) {
    f = 20 + 180 * rand(); printf "%d %d %d %.10g\n", h, k, l, f > "truth.hkl";
    printf "%d %d %d %.10g\n", h, k, l, f * (0.75 + 0.5 * rand()) > "start.hkl" } }'
awk -v n="$SHOTS" -v mask="${SHOEBOX:+1}" 'BEGIN { srand(11); for (i = 0; i < n; i++) {
    x = 360 * rand() - 180; y = 360 * rand() - 180; z = 360 * rand() - 180;
    printf "[[shot]]\nname = \"s%05d\"\nmisset_deg = [%.10g, %.10g, %.10g]\nseed = %d\n\n", i, x, y, z, 100 + i > "render.toml";
    printf "[[shot]]\nname = \"s%05d\"\nmisset_deg = [%.10g, %.10g, %.10g]\nimage = \"images/s%05d.noise.img\"\n", i, x + 0.02, y - 0.014, z + 0.008, i > "shots.toml";
    if (mask) printf "mask = \"images/s%05d.mask.img\"\n", i > "shots.toml"; printf "\n" > "shots.toml" } }'
mkdir images
"$BIN" batch -shots render.toml -outdir images $SCENE -hkl truth.hkl -nopgm -noprogress | tail -1
[ -n "${SHOEBOX:-}" ] && python3 "$MASKS" images $SHOEBOX
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
TIME=()
[ -x /usr/bin/time ] && TIME=(/usr/bin/time -f "rank peak RSS %M kB")
for R in $RANKS; do
    mkdir "out$R"
    LAUNCH=(mpirun --oversubscribe -np "$R")
    if ! command -v mpirun > /dev/null; then
        [ "$R" = 1 ] || { echo "ranks $R: no mpirun on this machine"; continue; }
        LAUNCH=()
    fi
    start=$(date +%s.%N)
    START=start.hkl
    [ "${SCHEDULE:-}" = shots ] && START=truth.hkl
    "${LAUNCH[@]}" "${TIME[@]}" "$BIN" ensemble $SCENE -hkl "$START" -schedule "${SCHEDULE:-joint}" ${ENSEMBLE_FLAGS:-} \
        -shots shots.toml -outdir "out$R" -refine_shot misset_x,misset_y,misset_z -max_iter "$ITER" -noprogress \
        > "log$R.txt" 2> "err$R.txt" || { echo "ranks $R: failed: $(tail -2 "err$R.txt")"; continue; }
    end=$(date +%s.%N)
    echo "ranks $R: $(grep '^cycle 1' "log$R.txt")"
    echo "ranks $R: wall $(awk -v a="$start" -v b="$end" "BEGIN { print b - a }") s; $(grep -h 'peak RSS' "err$R.txt" | tr '\n' ';')"
    [ "${SCHEDULE:-}" = shots ] && echo "ranks $R: $(python3 "$(dirname "$MASKS")/shot_recovery.py" render.toml "out$R/shots.json")"
done
