#!/usr/bin/env bash
# Where the header-only glora model (model_glora.cpp) spends its compile time: the same file
# compiled with one part of the arithmetic declared `extern template` at a time, so that the
# compiler skips that part's code (as the compiled mode skips all of them). A part's cost is
# what the file saves without it. Compiles each variant ROUNDS times, alternating, with
# g++ -O2 -c, and prints the median CPU time (user + sys) of each, its range, and what it saves.
#
# Usage: bench/compile/breakdown.sh [ROUNDS]    (default 3; from the repository root)
set -euo pipefail
cd "$(dirname "$0")/../.."
# shellcheck source=bench/compile/stats.sh
source bench/compile/stats.sh
rounds=${1:-3}
cxx=${CXX:-g++}
root=$(pwd)
flags=(-std=c++17 -O2 -DNDEBUG -Iinclude -isystem /usr/include/eigen3)
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT

# The float instances the model uses, as the compiled library declares them.
backward="backward_kernel<float>(const FrozenView<float>&, const AdapterView<const float>&, \
  const ConstMatrixRef<float>&, const ConstMatrixRef<float>&, AdapterView<float>, bool, \
  MatrixRef<float>, BackwardWorkspace<float>&)"
forward="grouped_forward_kernel<float, Eigen::ColMajor>(const FrozenView<float>&, \
  const GroupedBatch<float>&, const ConstMatrixRef<float>&, MatrixRef<float>, Workspace<float>&)"
merge="merge_kernel<float, Eigen::ColMajor>(const FrozenView<float>&, \
  const AdapterView<const float>&, const MergeTarget<float>&, VectorRef<float>)"
row_major_stream="stream_row_major_add<float>(const float*, Eigen::Index, Eigen::Index, \
  Eigen::Index, const float*, Eigen::Index, Eigen::Index, float*, Eigen::Index)"
column_major_stream="stream_product_add<float>(const Eigen::Ref<const MatrixX<float>>&, \
  const Eigen::Ref<const MatrixX<float>>&, Eigen::Ref<MatrixX<float>>)"

# name | the instances declared extern
variants=(
  "header-only (all of it compiled)|"
  "without the backward|$backward"
  "without the forward|$forward"
  "without the merge|$merge"
  "without the row-major streaming kernel|$row_major_stream"
  "without the column-major streaming kernel|$column_major_stream"
  "without both streaming kernels|$row_major_stream;$column_major_stream"
  "without forward, backward and merge|$backward;$forward;$merge"
)

for i in "${!variants[@]}"; do
  IFS='|' read -r _ instances <<<"${variants[$i]}"
  {
    echo '#include <glora/glora.hpp>'
    echo 'namespace glora::detail {'
    IFS=';' read -ra list <<<"$instances"
    for instance in "${list[@]}"; do echo "extern template void $instance;"; done
    echo '}  // namespace glora::detail'
    echo "#include \"$root/bench/compile/model_glora.cpp\""
  } >"$out/variant$i.cpp"
done

declare -A times
for ((round = 0; round < rounds; ++round)); do
  for i in "${!variants[@]}"; do
    /usr/bin/time -f "%U %S" -o "$out/t" "$cxx" "${flags[@]}" -c "$out/variant$i.cpp" -o "$out/o.o"
    read -r user sys <"$out/t"
    times[$i]+="$(echo "$user + $sys" | bc) "
  done
done

whole=$(echo "${times[0]}" | median)
printf '%-45s %9s %13s %9s\n' "glora model, header-only ($cxx -O2)" "CPU s" "(range)" "saves"
for i in "${!variants[@]}"; do
  IFS='|' read -r name _ <<<"${variants[$i]}"
  t=$(echo "${times[$i]}" | median)
  printf '%-45s %9.2f %13s %9.2f\n' "$name" "$t" "($(echo "${times[$i]}" | range))" \
    "$(echo "$whole - $t" | bc -l)"
done
