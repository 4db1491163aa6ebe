#!/usr/bin/env bash
# What one translation unit costs to compile, side by side with the same model in plain Eigen.
# Compiles each variant ROUNDS times, alternating, with g++ -O2 -std=c++17 -c (as a user's build
# would), and prints the median CPU time (user + sys) and peak memory of each, and its ratio to
# plain Eigen. CPU time rather than wall time, so that a busy machine changes the figures less.
#
# Usage: bench/compile/measure.sh [ROUNDS]      (default 3; from the repository root)
#   CXX=clang++ bench/compile/measure.sh        another compiler
set -euo pipefail
cd "$(dirname "$0")/../.."
# shellcheck source=bench/compile/stats.sh
source bench/compile/stats.sh
rounds=${1:-3}
cxx=${CXX:-g++}
flags=(-std=c++17 -O2 -DNDEBUG -Iinclude -isystem /usr/include/eigen3)
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT

# name | source | extra flags
variants=(
  "plain Eigen model|bench/compile/model_eigen.cpp|"
  "glora model, header-only|bench/compile/model_glora.cpp|"
  "glora model, compiled mode|bench/compile/model_glora.cpp|-DGLORA_COMPILED_LIB"
  "glora model + 3 layer types, compiled mode|bench/compile/model_glora.cpp|-DGLORA_COMPILED_LIB -DGLORA_EXTRA_TYPES=3"
  "quickstart, header-only|examples/quickstart.cpp|"
  "quickstart, compiled mode|examples/quickstart.cpp|-DGLORA_COMPILED_LIB"
)

declare -A times mems
for ((round = 0; round < rounds; ++round)); do
  for i in "${!variants[@]}"; do
    IFS='|' read -r name source extra <<<"${variants[$i]}"
    # shellcheck disable=SC2086
    /usr/bin/time -f "%U %S %M" -o "$out/t" "$cxx" "${flags[@]}" $extra -c "$source" -o "$out/o.o"
    read -r user sys mem <"$out/t"
    times[$i]+="$(echo "$user + $sys" | bc) "
    mems[$i]+="$mem "
  done
done

base=$(echo "${times[0]}" | median)
printf '%-45s %9s %9s %9s\n' "translation unit ($cxx -O2)" "CPU s" "x Eigen" "peak MB"
for i in "${!variants[@]}"; do
  IFS='|' read -r name _ _ <<<"${variants[$i]}"
  t=$(echo "${times[$i]}" | median)
  m=$(echo "${mems[$i]}" | median)
  printf '%-45s %9.2f %9.2f %9d\n' "$name" "$t" "$(echo "$t / $base" | bc -l)" $((m / 1024))
done
