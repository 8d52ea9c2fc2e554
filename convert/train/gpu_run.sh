#!/bin/bash
# Train the adapter on a CUDA machine with no network that has torch, transformers and peft (a lent GPU), from a
# checkout's root:
#
#   bash convert/train/gpu_run.sh smoke STAGE                  # 3 steps on a tiny GGUF: the whole path in a minute
#   bash convert/train/gpu_run.sh train STAGE MINUTES OUTDIR   # the letter-code recipe for MINUTES of training
#
# STAGE holds what the machine lacks: the base GGUF in parts named c0, c1, ... (concatenated in name order and checked
# against BASE_SHA256), wheels (gguf, jsonschema and its dependencies), train.jsonl and tiny.gguf
# (tests/tiny_gguf.py). OUTDIR gets the adapter, training.json, train.log and up to four snapshots (a learning curve).
# DTYPE (default float32): one bfloat16 run on an H200 went NaN at step ~38 (docs/experiments.md).
# Making STAGE here (a folder .git/info/exclude ignores, carried to the machine):
#   split -b 61425008 -d -a 1 BASE.gguf STAGE/c            # 8 parts of 58.6 MiB: one per call where 64 MiB travel
#   pip download --no-deps --only-binary=:all: --python-version 3.12 --platform manylinux2014_x86_64 -d STAGE \
#       gguf jsonschema jsonschema-specifications referencing rpds-py
#   cp ../shared/data/notifai/train.jsonl STAGE/
#   python -c "import sys; sys.path.insert(0, 'tests'); from tiny_gguf import write_tiny_model as w; w('STAGE/tiny.gguf', arch='qwen2', seed=0)"
set -uo pipefail
cd "$(dirname "$0")/../.."
mode=$1 stage=$2
export PYTHONUNBUFFERED=1 TOKENIZERS_PARALLELISM=false
python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target /tmp/site "$stage"/*.whl || exit 3
export PYTHONPATH=/tmp/site
BASE_SHA256=${BASE_SHA256:-1d9614638d18024d0fbb36575a15f1302a3adf044df10345688ec4f6e1c4ff32}
RECIPE="--folder-codes --repeat-codes --near-misses --near-miss-rate 0.3 --hint-miss-rate 0.4
 --conventions-per-batch 1,2,2,3 --corrections-only 0.5 --scoped-conventions 0.6 --examples-rate 0.7
 --preferences-rate 0.5 --rules-per-batch 1,2,3,4,5,6 --preference-hints --example-hints --inject-rate 0.35
 --sibling-sets 0.3 --generated 40 --data $stage/train.jsonl --seed-emergent= --eval-n 0 --dtype ${DTYPE:-float32}"
if [ "$mode" = smoke ]; then
  python3 -c "import sys, torch, transformers, peft; print(sys.version.split()[0], torch.__version__,
  transformers.__version__, peft.__version__, 'cuda' if torch.cuda.is_available() else 'no cuda')"
  exec python3 -m convert.train --base "$stage/tiny.gguf" --out /tmp/smoke/adapter --run-dir /tmp/smoke \
    --max-steps 3 --batch-size 4 $RECIPE
fi
minutes=$3 out=$4
cat $(ls "$stage"/c[0-9]* | sort -V) > /tmp/base.gguf
echo "$BASE_SHA256  /tmp/base.gguf" | sha256sum -c || exit 4
python3 -m convert.train --base /tmp/base.gguf --out /tmp/gpu/adapter --run-dir /tmp/gpu --max-steps 100000 \
  --batch-size 32 --rank 8 --alpha 16 --lr 2e-4 --warmup 30 --schedule-minutes "$minutes" --ckpt-every 100 \
  --snapshot-every 100 --log-every 10 --seed 31 $RECIPE 2>&1 | grep --line-buffered -v -i warn
mkdir -p "$out"
cp /tmp/gpu/adapter/adapter_model.safetensors /tmp/gpu/adapter/adapter_config.json /tmp/gpu/adapter/training.json \
  /tmp/gpu/train.log "$out"/
snaps=$(ls -d /tmp/gpu/snapshots/step-* 2>/dev/null | sort -V)
n=$(echo "$snaps" | grep -c step-)
for i in 0 1 2 3; do  # four snapshots spread over the run
  [ "$n" -gt 0 ] || break
  s=$(echo "$snaps" | sed -n "$(( 1 + i * (n - 1) / 3 ))p")
  cp "$s/adapter_model.safetensors" "$out/snap-$(basename "$s").safetensors"
done
ls -la "$out"
