# Shared by the bench scripts (source it): the bench-only virtualenv .venv-bench/ at the
# repository root, for heavy Python packages neither the product nor its tests need (PyTorch,
# llama.cpp). Everything is installed on demand, so a fresh clone needs nothing by hand.
#
#   . "$repo/bench/lib/bench-venv.sh"
#   bench_venv                          # creates .venv-bench/ when missing; sets $bench_python
#   bench_venv_has 'NAME[==VERSION]'    # is the distribution installed (at that version)?
#   bench_venv_install 'SPEC' [PIP ARGS]  # pip install SPEC unless bench_venv_has SPEC
#   bench_venv_llama_cpp                # the pinned llama-cpp-python, built from source
#
# llama-cpp-python is pinned (LLAMA_CPP_PYTHON_VERSION) so that figures compare across runs: it
# bundles a fixed llama.cpp commit. pip builds it from the sdist (PyPI has no wheels of it) with
# llama.cpp's default CMake options: GGML_NATIVE=ON (-march=native, so the kernels match the
# machine it is built on: AVX2/FMA/AVX-512 with VNNI and BF16 where present), the llamafile
# sgemm, OpenMP threads. No CMAKE_ARGS are set unless LLAMA_CPP_CMAKE_ARGS is. The build takes
# a few minutes on 2 cores; its log goes to .venv-bench/llama-cpp-build.log. The built wheel is
# in pip's cache, so a new .venv-bench/ on the same machine does not rebuild it. A wheel built
# on another CPU is not portable (native flags): delete .venv-bench/ and pip's cache to rebuild.

bench_repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
bench_venv_dir="$bench_repo/.venv-bench"
bench_python="$bench_venv_dir/bin/python"
LLAMA_CPP_PYTHON_VERSION=0.3.36

bench_venv() {
  [ -x "$bench_python" ] || python3 -m venv "$bench_venv_dir"
}

bench_venv_has() {
  bench_venv
  "$bench_python" - "$1" <<'PY' 2>/dev/null
import sys
from importlib import metadata
name, _, version = sys.argv[1].partition("==")
try:
    have = metadata.version(name)
except metadata.PackageNotFoundError:
    sys.exit(1)
sys.exit(0 if not version or have == version else 1)
PY
}

bench_venv_install() {
  local spec="$1"
  shift
  bench_venv_has "$spec" && return 0
  echo "installing $spec into .venv-bench/" >&2
  "$bench_python" -m pip install -q --disable-pip-version-check "$spec" "$@"
}

bench_venv_llama_cpp() {
  local spec="llama-cpp-python==$LLAMA_CPP_PYTHON_VERSION"
  bench_venv_has "$spec" && return 0
  echo "building $spec into .venv-bench/ from source (a few minutes; log: .venv-bench/llama-cpp-build.log)" >&2
  if ! env CMAKE_ARGS="${LLAMA_CPP_CMAKE_ARGS:-}" CMAKE_BUILD_PARALLEL_LEVEL="${CMAKE_BUILD_PARALLEL_LEVEL:-$(nproc)}" \
      "$bench_python" -m pip install -v --disable-pip-version-check --no-binary llama-cpp-python "$spec" \
      >"$bench_venv_dir/llama-cpp-build.log" 2>&1; then
    tail -30 "$bench_venv_dir/llama-cpp-build.log" >&2
    echo "building $spec failed; the whole log is .venv-bench/llama-cpp-build.log" >&2
    return 1
  fi
}
