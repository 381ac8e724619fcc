#!/usr/bin/env bash
# GPU acceptance in one command (issue 13): the CUDA tests, the speed benchmarks against their
# targets, one JSON. Usage: scripts/gpu_acceptance.sh [--dry-run] [--out-dir DIR] [--wheels DIR]
# [--inception-path FILE] [--only STEP] [--budget-s S]; --help says more, and so does
# docs/PERFORMANCE.md ("GPU acceptance"). PYTHON picks the interpreter (default: python).
set -euo pipefail
cd "$(dirname "$0")/.."
exec "${PYTHON:-python}" scripts/gpu_acceptance.py "$@"
