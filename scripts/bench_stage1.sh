#!/usr/bin/env bash
# Per-shot refinement ("stage 1", diffBragg's hopper) at the scale of the "Many shots" issue's
# benchmark 2: SHOTS stills of a 61 x 67 x 73 A cell on a 512^2 detector (about 100-250 spots
# each above 5 % of the brightest), Poisson noise, shoeboxes of 7 x 7 pixels around the spots
# (scripts/shoebox_masks.py, radius 3), each shot refined for 10 variables of its own
# (misset x/y/z, cell a/b/c, N_a/N_b/N_c, scale) from a perturbed start (misset 0.02 deg,
# cell 0.3 %, N 10 % off) with F held at the truth (`nanobragg ensemble -schedule shots`).
# Prints for each rank count the refinement cycle, the wall time (shots/s) and the recovery of
# every variable in units of its reported sigma (scripts/shot_recovery.py).
#
# Usage: scripts/bench_stage1.sh BIN [SHOTS] [ITER] [RANKS...]
#   BIN: a nanobragg binary (built with --features mpi for several ranks); SHOTS default 100,
#   ITER (L-BFGS iterations per shot) default 50, RANKS default 1.
#   ENSEMBLE_FLAGS: more flags for `nanobragg ensemble` (e.g. "-backend cuda").
#   REFINE: the own variables (default the ten above); N_OFF: the start's relative N error
#   (default 0.1: N 10 % too large, 8 % too small, 6 % too large along a, b, c).
set -euo pipefail
BIN=$(realpath "$1")
HERE=$(dirname "$(realpath "$0")")
SHOTS=${2:-100}
ITER=${3:-50}
shift $(( $# < 3 ? $# : 3 ))
RANKS=${*:-1}
WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT
cd "$WORK"
CELL="61 67 73 90 90 90"
N=8
SCENE="-lambda 1 -dispersion 1 -dispsteps 3 -distance 100 -detpixels 512 -pixel 0.1 -oversample 1 -fluence 1e28"
# Truth F in [20, 200] over every reflection the detector sees (d >= 2.8 A).
awk 'BEGIN { srand(7); for (h = -22; h <= 22; h++) for (k = -24; k <= 24; k++) for (l = -26; l <= 26; l++)
    printf "%d %d %d %.10g\n", h, k, l, 20 + 180 * rand() }' > truth.hkl
awk -v n="$SHOTS" -v cell="$CELL" -v N="$N" -v off="${N_OFF:-0.1}" 'BEGIN { srand(11); split(cell, c, " ");
    for (i = 0; i < n; i++) {
        x = 360 * rand() - 180; y = 360 * rand() - 180; z = 360 * rand() - 180;
        printf "[[shot]]\nname = \"s%05d\"\nmisset_deg = [%.10g, %.10g, %.10g]\ncell = [%s, %s, %s, 90, 90, 90]\nn_cells = [%d, %d, %d]\nseed = %d\n\n", i, x, y, z, c[1], c[2], c[3], N, N, N, 100 + i > "render.toml";
        printf "[[shot]]\nname = \"s%05d\"\nmisset_deg = [%.10g, %.10g, %.10g]\n", i, x + 0.02, y - 0.014, z + 0.008 > "shots.toml";
        printf "cell = [%.10g, %.10g, %.10g, 90, 90, 90]\n", c[1] * 1.003, c[2] * 0.997, c[3] * 1.002 > "shots.toml";
        printf "n_cells = [%.10g, %.10g, %.10g]\n", N * (1 + off), N * (1 - 0.8 * off), N * (1 + 0.6 * off) > "shots.toml";
        printf "image = \"images/s%05d.noise.img\"\nmask = \"images/s%05d.mask.img\"\n\n", i, i > "shots.toml" } }'
mkdir images
clock=$(date +%s.%N)
"$BIN" batch -shots render.toml -outdir images $SCENE -cell $CELL -N $N -hkl truth.hkl -nopgm -noprogress | tail -1
python3 "$HERE/shoebox_masks.py" images 3 0.05
echo "data: $(awk -v a="$clock" -v b="$(date +%s.%N)" 'BEGIN { printf "%.1f", b - a }') s"
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
TIME=()
[ -x /usr/bin/time ] && TIME=(/usr/bin/time -f "rank peak RSS %M kB")
for R in $RANKS; do
    mkdir "out$R"
    LAUNCH=(mpirun --oversubscribe -np "$R")
    if ! command -v mpirun > /dev/null || [ "$R" = 1 ]; then
        [ "$R" = 1 ] || { echo "ranks $R: no mpirun on this machine"; continue; }
        LAUNCH=()
    fi
    start=$(date +%s.%N)
    "${LAUNCH[@]}" "${TIME[@]}" "$BIN" ensemble $SCENE -cell $CELL -N $N -hkl truth.hkl -schedule shots ${ENSEMBLE_FLAGS:-} \
        -shots shots.toml -outdir "out$R" -max_iter "$ITER" -noprogress \
        -refine_shot "${REFINE:-misset_x,misset_y,misset_z,cell_a,cell_b,cell_c,N_a,N_b,N_c,scale}" \
        > "log$R.txt" 2> "err$R.txt" || { echo "ranks $R: failed: $(tail -2 "err$R.txt")"; continue; }
    end=$(date +%s.%N)
    echo "ranks $R: $(grep '^cycle 1' "log$R.txt")"
    echo "ranks $R: wall $(awk -v a="$start" -v b="$end" -v n="$SHOTS" 'BEGIN { printf "%.2f s, %.2f shots/s", b - a, n / (b - a) }'); $(grep -h 'peak RSS' "err$R.txt" | tr '\n' ';')"
    echo "ranks $R: $(python3 "$HERE/shot_recovery.py" render.toml "out$R/shots.json")"
done
