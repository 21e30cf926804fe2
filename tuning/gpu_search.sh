#!/usr/bin/env bash
# The learning-rate search (keras-mnist-gan tune) on a GPU machine that has
# PyTorch but neither TensorFlow nor Keras, and perhaps no network: the
# package itself runs there under KERAS_BACKEND=torch, from a copy of this
# tree. Nothing here is a second implementation of the model or the step.
#
# Here, once (pip downloads from the package index):
#     bash tuning/gpu_search.sh prepare        # Keras and keras-tuner wheels into .whl/
# Copy the tree with .whl/ to the GPU machine; there:
#     bash tuning/gpu_search.sh run --data mnist.npz --max-trials 12 --steps-per-trial 4000
# On any machine with the package installed (tests/test_tuning.py does this on the CPU):
#     KERAS_BACKEND=torch bash tuning/gpu_search.sh run --data tiny.npz --max-trials 1 ...
# Options after `run` are `keras-mnist-gan tune`'s; --directory defaults to
# $OUT when it is set, else runs/gpu_search.
set -euo pipefail
cd "$(dirname "$0")/.."
mode=${1:-}
shift || true
case "$mode" in
  prepare)
    # Wheels for Python 3.12 on x86_64 Linux. The GPU machine needs numpy,
    # h5py, ml-dtypes, absl-py, rich, scipy, pillow, matplotlib and
    # scikit-learn already.
    python3 -m pip download --quiet --no-deps --only-binary=:all: --python-version 3.12 --implementation cp \
      --platform manylinux_2_28_x86_64 --platform manylinux_2_17_x86_64 --platform manylinux2014_x86_64 \
      -d .whl keras keras-tuner kt-legacy namex optree
    grep -qx '/.whl/' .git/info/exclude 2>/dev/null || echo '/.whl/' >> .git/info/exclude
    ls .whl
    ;;
  run)
    if ! python3 -c "import keras, keras_tuner" 2>/dev/null; then
      site=$(mktemp -d)
      trap 'rm -rf "$site"' EXIT
      python3 -m pip install -q --no-index --no-deps --no-compile --target "$site" .whl/*.whl
      export PYTHONPATH=$site${PYTHONPATH:+:$PYTHONPATH}
    fi
    export PYTHONPATH=$PWD${PYTHONPATH:+:$PYTHONPATH} KERAS_BACKEND=${KERAS_BACKEND:-torch} PYTHONUNBUFFERED=1
    python3 -c "import keras; print('keras', keras.__version__, 'on', keras.backend.backend())"
    has_dir=0
    for a in "$@"; do [ "$a" = "--directory" ] && has_dir=1; done
    if [ $has_dir = 0 ]; then set -- --directory "${OUT:-runs/gpu_search}" "$@"; fi
    python3 -m keras_mnist_gan tune "$@"
    ;;
  *)
    echo "usage: bash tuning/gpu_search.sh prepare | run [keras-mnist-gan tune options]" >&2
    exit 2
    ;;
esac
