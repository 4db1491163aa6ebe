# shellcheck shell=bash
# Sourced by scripts/test and scripts/demo. Installs the Debian packages that glora's build,
# tests, benchmarks and demo need, and picks the build tool.

GLORA_DEB_PACKAGES=(
  cmake
  ninja-build
  g++
  clang
  libclang-rt-14-dev # the sanitizer runtimes of clang 14
  clang-format
  lld                # links the test suite's executables, four times faster than ld (scripts/test)
  libeigen3-dev
  catch2
  libbenchmark-dev
  zlib1g-dev
  dataset-fashion-mnist
  gnuplot-nox
  nlohmann-json3-dev # glora::io: the file formats
  libfuzzer-14-dev   # the fuzzers over the file readers (clang -fsanitize=fuzzer)
  python3-numpy      # the example and tests that write files from Python
  python3-torch      # the test of scripts/convert_reference_checkpoint.py (about 25 s to install)
  libopenblas-dev    # the optional BLAS back end (cmake -DGLORA_BLAS=ON) and bench_blas.cpp
)

# Prints the packages of GLORA_DEB_PACKAGES that are not installed, one a line.
glora_missing_packages() {
  local package
  for package in "${GLORA_DEB_PACKAGES[@]}"; do
    if ! dpkg -s "$package" 2>/dev/null | grep -q '^Status: install ok installed$'; then
      echo "$package"
    fi
  done
}

# Installs what is missing when running as root; otherwise prints the command and fails.
glora_install_deps() {
  local missing
  mapfile -t missing < <(glora_missing_packages)
  if ((${#missing[@]} == 0)); then
    return 0
  fi
  if [[ $(id -u) -ne 0 ]]; then
    echo "Missing Debian packages: ${missing[*]}" >&2
    echo "Install them as root with:" >&2
    echo "  apt-get update && apt-get install -y --no-install-recommends ${missing[*]}" >&2
    return 1
  fi
  echo "Installing Debian packages: ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -q
  apt-get install -y -q --no-install-recommends "${missing[@]}"
}

# Sets GLORA_JOBS (parallel jobs) and GLORA_GENERATOR (Ninja when available) for the builds.
glora_build_settings() {
  GLORA_JOBS=$(nproc 2>/dev/null || echo 2)
  if command -v ninja >/dev/null 2>&1; then
    GLORA_GENERATOR=Ninja
  else
    GLORA_GENERATOR="Unix Makefiles"
  fi
  export GLORA_JOBS GLORA_GENERATOR
}
