"""Your own models: TorchScript files exported here with Debian's python3-torch go through the real
`xbarsweep` in train, admm and crossbar_eval.

- A built-in model exported to TorchScript (same module names and forward, `model.init: seed`)
  gives the same metrics as the built-in in train, admm and crossbar_eval: accuracies and the
  cost model's counts exactly, losses within 1e-5 relative (float rounding of two call paths
  through the same ATen kernels).
- An MLP and a CNN with BatchNorm, a residual connection and a grouped convolution: with every
  non-ideality off and unlimited precision the hardware accuracy equals the software accuracy.
- admm prunes and quantizes the CNN by module path, masks holding through retraining.
- A model with a layer xbarsweep cannot map is refused at `plan` naming the module; so are files
  that are not models, forward passes that do not fit the data, and missing files: exit 2,
  nothing written."""
import os
import subprocess

import h5py

from harness import *

d = workdir("torchscript")
python = os.environ.get("XBARSWEEP_PYTHON", "/usr/bin/python3")
models = os.path.join(d, "models")
subprocess.run([python, os.path.join(SOURCE_DIR, "tests", "support", "export_models.py"), models], check=True)

DATA = "data: {name: synthetic, subset: 2000, test_subset: 200, seed: 4}\n"


def config(name, kind, model, extra=""):
    return write(f"{d}/{name}.yaml", f"name: {name}\nkind: {kind}\noutput: {d}/{name}.h5\nmodel: {model}\n"
                 + DATA + extra)


def metrics(name):
    with h5py.File(f"{d}/{name}.h5", "r") as f:
        check(f["points/status"].asstr()[0] == "done", f"{name}: {f['points/error'].asstr()[0]}")
        return {k: float(f["points/metrics"][k][0]) for k in f["points/metrics"]}


def close(a, b, rtol):
    return abs(a - b) <= rtol * max(abs(a), abs(b), 1e-12)


lenet = "{name: lenet5}"
lenet_ts = "{name: torchscript, path: " + f"{models}/lenet5.pt" + ", init: seed}"
lenet_traced = "{name: torchscript, path: " + f"{models}/lenet5-traced.pt" + ", init: seed}"
kinds = {
    "train": "train: {epochs: 2}\n",
    "crossbar_eval": "train: {epochs: 2}\ncrossbar_eval: {samples: 2, calibration_items: 50}\n"
                     "crossbar: {rows: 32, cols: 32, levels: 16, sigma: 0.05, read_noise: 0.01, dac_bits: 8, adc_bits: 8}\n",
    "admm": "train: {epochs: 1}\nadmm: {iterations: 2, retrain_epochs: 1, prune: block, keep: 0.5, levels: 8, "
            "hw_samples: 1, hw_test_items: 100}\ncrossbar: {rows: 32, cols: 32}\n",
}
exact = {"accuracy", "hw_accuracy_mean", "hw_accuracy_min", "dense_accuracy", "crossbars", "kept_weights",
         "dense_weights", "compression_ratio", "masks_hold", "parameters", "adcs", "crossbar_tiles"}
for kind, extra in kinds.items():
    results = {}
    for label, model in (("builtin", lenet), ("script", lenet_ts), ("traced", lenet_traced)):
        run(["run", config(f"{kind}-{label}", kind, model, extra)], check_rc=0, timeout=400)
        results[label] = metrics(f"{kind}-{label}")
    for label in ("script", "traced"):
        for key, want in results["builtin"].items():
            if key in ("wall_s", "pretrain_loaded") or key.endswith("_s"):
                continue
            got = results[label].get(key)
            check(got is not None, f"{kind} {label}: no metric {key}")
            ok = got == want if key in exact else close(got, want, 1e-5)
            check(ok, f"{kind}: {label} {key} = {got!r}, built-in {want!r}")
    print(f"ok {kind}: lenet5 from TorchScript (scripted and traced) = built-in "
          f"(accuracy {results['builtin']['accuracy']})")

# Ideal crossbars: hardware accuracy = software accuracy, for an MLP and the CNN.
for name in ("mlp", "cnn", "cnn-traced"):
    model = "{name: torchscript, path: " + f"{models}/{name}.pt" + "}"
    run(["run", config(f"ideal-{name}", "crossbar_eval", model,
                       "train: {epochs: 2}\ncrossbar_eval: {samples: 1}\ncrossbar: {rows: 16, cols: 8}\n")],
        check_rc=0, timeout=300)
    m = metrics(f"ideal-{name}")
    check(m["hw_accuracy_mean"] == m["accuracy"], f"{name}: ideal hardware {m['hw_accuracy_mean']} != software {m['accuracy']}")
    # A model traced in evaluation mode trains with its batch norms frozen (trace records the mode).
    check(name == "cnn-traced" or m["accuracy"] > 0.5, f"{name}: accuracy {m['accuracy']}: did it train?")
    print(f"ok {name}: ideal hardware accuracy = software accuracy = {m['accuracy']}")

# admm on the CNN: layers by module path, masks hold through retraining, quantized.
cnn = "{name: torchscript, path: " + f"{models}/cnn.pt" + "}"
run(["run", config("admm-cnn", "admm", cnn,
                   "train: {epochs: 2}\nadmm: {iterations: 2, retrain_epochs: 1, prune: irregular, keep: 0.5, "
                   "levels: 8, layer_keep: 'block.conv1=0.25', skip_last: true, hw_samples: 1}\n")],
    check_rc=0, timeout=300)
m = metrics("admm-cnn")
check(m["masks_hold"] == 1.0, "admm-cnn: masks do not hold")
check(m["kept_weights"] < 0.6 * m["dense_weights"], f"admm-cnn: kept {m['kept_weights']} of {m['dense_weights']}")
with h5py.File(f"{d}/admm-cnn.h5", "r") as f:
    kept = list(f["points/arrays/layer_kept_weights/values"][:])
    dense = list(f["points/arrays/layer_dense_weights/values"][:])
    bits = list(f["points/arrays/layer_bits/values"][:])
# stem, block.conv1, block.conv2, head.0, head.2 (skip_last: unpruned).
check(kept[1] == 0.25 * dense[1], f"block.conv1 kept {kept[1]} of {dense[1]}, expected a quarter")
check(kept[4] == dense[4], f"head.2 (skip_last) kept {kept[4]} of {dense[4]}")
check(all(b == 3 for b in bits), f"layer bits {bits}, expected 3 (8 levels)")
print(f"ok admm on the CNN: kept {m['kept_weights']:.0f} of {m['dense_weights']:.0f}, masks hold")

# The pretraining cache key holds the model file's contents: a file rewritten in place trains anew.
import glob
import shutil
shutil.copy(f"{models}/lenet5.pt", f"{d}/mine.pt")
mine = "{name: torchscript, path: " + f"{d}/mine.pt" + "}"
cache_run = "train: {epochs: 1}\nadmm: {iterations: 1, retrain_epochs: 1, keep: KEEP, hw_samples: 1, hw_test_items: 50}\n"
loaded = []
for step, keep in enumerate(("0.5", "0.4", "0.3")):
    if step == 2:
        shutil.copy(f"{models}/lenet5-traced.pt", f"{d}/mine.pt")  # the same weights, other bytes
    config("cache", "admm", mine, cache_run.replace("KEEP", keep))
    run(["run", f"{d}/cache.yaml"], check_rc=0, timeout=300)
    with h5py.File(f"{d}/cache.h5", "r") as f:
        loaded.append(float(f["points/metrics/pretrain_loaded"][-1]))
baselines = glob.glob(f"{d}/cache.h5.cache/baseline-*.pt")
check(loaded == [0.0, 1.0, 0.0], f"pretrain_loaded per run: {loaded}, expected [0, 1, 0]")
check(len(baselines) == 2, f"cached baselines: {baselines}, expected one per model file content")
print("ok the pretraining cache key holds the model file's contents")

# Refused at plan, nothing written.
bad = {
    "unsupported": ("crossbar_eval", f"{models}/unsupported.pt", "module 'up' (ConvTranspose2d)"),
    "unsupported-admm": ("admm", f"{models}/unsupported.pt", "module 'up' (ConvTranspose2d)"),
    "no-layers": ("train", f"{models}/no-layers.pt", "has no Linear or Conv2d layer"),
    "two-inputs": ("train", f"{models}/two-inputs.pt", "forward takes 2 arguments"),
    "missing": ("train", f"{models}/missing.pt", "missing.pt"),
    "garbage": ("train", write(f"{d}/garbage.pt", "not a model"), "cannot be loaded as TorchScript"),
    "wrong-shape": ("train", f"{models}/mlp.pt", "its forward fails on a batch of the data's images (2 x 1 x 32 x 32"),
}
for name, (kind, path, expect) in bad.items():
    extra = "data: {pad: true}\n" if name == "wrong-shape" else ""
    cfg = write(f"{d}/{name}.yaml", f"name: {name}\nkind: {kind}\noutput: {d}/{name}.h5\n"
                f"model: {{name: torchscript, path: {path}}}\n" + DATA.replace("}", ", pad: true}" if extra else "}"))
    for command in ("plan", "run"):
        p = run([command, cfg])
        check(p.returncode == 2, f"{name}: {command} exited {p.returncode}: {p.stderr}")
        check(expect in p.stderr and "model.path" in p.stderr and f"{name}.yaml:" in p.stderr,
              f"{name}: {command} says {p.stderr!r}, expected {expect!r} at the key model.path")
    check(not os.path.exists(f"{d}/{name}.h5"), f"{name}: a results file was written")
    print(f"ok refused: {name}")
# The train kind maps nothing: a model with a ConvTranspose2d trains.
p = run(["plan", config("unsupported-train", "train", "{name: torchscript, path: " + f"{models}/unsupported.pt" + "}")])
check(p.returncode == 0, f"train refused a model it does not map: {p.stderr}")
cleanup(d)
print("TorchScript models: equivalent to built-ins, ideal crossbars exact, admm by module path, bad files refused")
