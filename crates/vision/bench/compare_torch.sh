#!/usr/bin/env bash
# Side-by-side throughput of the MNIST CNN step: ours (the `throughput` example) and PyTorch
# (torch_cnn_sam.py), interleaved A B A B so that load from other processes hits both alike, with
# the machine's load printed before each run; then ours on one thread against two.
#
# Usage (from the workspace root, after `cargo build --workspace --release --examples`):
#   TORCH_PY=/path/to/venv/bin/python TORCH_SCRIPT=/path/to/torch_cnn_sam.py \
#     crates/vision/bench/compare_torch.sh [rounds]
set -euo pipefail
rounds=${1:-2}
ours=${OURS:-target/release/examples/throughput}
python=${TORCH_PY:-python3}
script=${TORCH_SCRIPT:?set TORCH_SCRIPT to torch_cnn_sam.py}
[ -x "$ours" ] || { echo "compare_torch.sh: $ours not built (cargo build --workspace --release --examples)" >&2; exit 2; }
[ -f "$script" ] || { echo "compare_torch.sh: TORCH_SCRIPT $script not found" >&2; exit 2; }
echo "# $(date -u +%Y-%m-%dT%H:%MZ)  $(nproc) cores  $(uname -m)"
for round in $(seq "$rounds"); do
    echo "## round $round  ours (2 threads)  load:$(uptime | sed 's/.*load average://')"
    RAYON_NUM_THREADS=2 "$ours"
    echo "## round $round  pytorch $("$python" -c 'import torch; print(torch.__version__, torch.get_num_threads(), "threads")')  load:$(uptime | sed 's/.*load average://')"
    "$python" "$script"
done
for round in $(seq "$rounds"); do
    echo "## round $round  ours (1 thread)  load:$(uptime | sed 's/.*load average://')"
    RAYON_NUM_THREADS=1 "$ours"
    echo "## round $round  ours (2 threads)  load:$(uptime | sed 's/.*load average://')"
    RAYON_NUM_THREADS=2 "$ours"
done
