"""The `tensors` data set on files in the real formats, written by numpy (np.savez,
np.savez_compressed) and h5py: good files plan and train (uint8 and float32, N x C x H x W and
N x H x W, with crops and flips); each bad file exits 2 at `plan` and at `run`, before any work,
with a message naming the file, the config key and the array key, and writes no results file."""
import os
import sys

from harness import *

try:
    import h5py
    import numpy as np
except ImportError as e:  # Debian: python3-numpy, python3-h5py
    print(f"skipped: {e}")
    sys.exit(77)

d = workdir("tensors")
rng = np.random.default_rng(5)


def make(n, classes=4, side=8, channels=1):
    """n images whose class is the bright quadrant: an MLP learns it in one epoch."""
    labels = rng.integers(0, classes, n)
    images = rng.integers(0, 60, (n, channels, side, side)).astype(np.uint8)
    h = side // 2
    for i, c in enumerate(labels):
        images[i, :, (c // 2) * h:(c // 2 + 1) * h, (c % 2) * h:(c % 2 + 1) * h] += 180
    return images, labels


train_x, train_y = make(400)
test_x, test_y = make(100)
np.savez(f"{d}/train.npz", images=train_x, labels=train_y.astype(np.int64))
np.savez(f"{d}/test.npz", images=test_x, labels=test_y.astype(np.int64))
np.savez_compressed(f"{d}/train_c.npz", images=train_x, labels=train_y.astype(np.uint8))
np.savez_compressed(f"{d}/test_c.npz", images=test_x, labels=test_y.astype(np.uint8))
with h5py.File(f"{d}/train.h5", "w") as f:  # float32, N x H x W, nested keys
    f.create_dataset("set/x", data=train_x[:, 0].astype(np.float32) / 255, compression="gzip")
    f.create_dataset("set/y", data=train_y.astype(np.int32))
with h5py.File(f"{d}/test.h5", "w") as f:
    f.create_dataset("set/x", data=test_x[:, 0].astype(np.float32) / 255)
    f.create_dataset("set/y", data=test_y.astype(np.int32))


def config(name, data, extra=""):
    return write(f"{d}/{name}.yaml", f"""
name: {name}
kind: train
seed: 3
output: {d}/{name}.h5
data: {data}
model: {{name: mlp, hidden: 32}}
train: {{epochs: 1, batch_size: 20, lr: 0.1}}
{extra}""")


# Good files: both npz flavours and HDF5 (other keys), with augmentation, train.
good = config("good", f"{{name: tensors, train_path: {d}/train.npz, test_path: {d}/test.npz, "
                      f"crop_padding: 1, hflip: true, subset: 300}}", f"""sweep:
  points:
    - {{data.train_path: {d}/train.npz, data.test_path: {d}/test.npz}}
    - {{data.train_path: {d}/train_c.npz, data.test_path: {d}/test_c.npz}}
    - {{data.train_path: {d}/train.h5, data.test_path: {d}/test.h5, data.images_key: set/x, data.labels_key: set/y}}
""")
p = run(["plan", good], check_rc=0)
check("3 points" in p.stdout or ": 3" in p.stdout, p.stdout[:400])
run(["run", good], check_rc=0, timeout=600)
rows = csv_report(f"{d}/good.h5").splitlines()
header = rows[0].split(",")
check(len(rows) == 4, f"3 points expected:\n{rows}")
for row in rows[1:]:
    values = dict(zip(header, row.split(",")))
    check(values["status"] == "done", f"a point failed: {row}")
    check(float(values["accuracy"]) > 0.4, f"accuracy {values['accuracy']} is near chance (0.25): {row}")
# Seeded crops and flips: the same point trains to the same result twice.
again = config("again", f"{{name: tensors, train_path: {d}/train.npz, test_path: {d}/test.npz, "
                        f"crop_padding: 1, hflip: true, subset: 300}}")
run(["run", again], check_rc=0, timeout=300)
first = dict(zip(header, rows[1].split(",")))
second = dict(zip(*[r.split(",") for r in csv_report(f"{d}/again.h5").splitlines()]))
check(first["accuracy"] == second["accuracy"] and first["train_loss"] == second["train_loss"],
      f"the same point trained twice differs: {first} vs {second}")
plain = config("plain", f"{{name: tensors, train_path: {d}/train.npz, test_path: {d}/test.npz, subset: 300}}")
run(["run", plain], check_rc=0, timeout=300)
third = dict(zip(*[r.split(",") for r in csv_report(f"{d}/plain.h5").splitlines()]))
check(third["train_loss"] != first["train_loss"], "crop_padding and hflip changed nothing in training")


# Bad files: (name, data section, the key at fault, texts the message must hold).
def bad_npz(name, **arrays):
    np.savez(f"{d}/{name}.npz", **arrays)
    return f"{d}/{name}.npz"


imgs, labs = train_x[:50], train_y[:50]
cut = open(f"{d}/train_c.npz", "rb").read()
open(f"{d}/truncated.npz", "wb").write(cut[:len(cut) // 2])
write(f"{d}/text.npz", "images,labels\n1,2\n")
write(f"{d}/text.h5", "not hdf5\n")
with h5py.File(f"{d}/group.h5", "w") as f:
    f.create_group("images").create_dataset("data", data=imgs)
    f.create_dataset("labels", data=labs)
cases = [
    ("missing_key", bad_npz("nolabels", images=imgs), "data.train_path", ["no array 'labels'", "'images'"]),
    ("float64_images", bad_npz("f64", images=imgs.astype(np.float64), labels=labs), "data.train_path",
     ["'images'", "float64", "uint8"]),
    ("complex_labels", bad_npz("cplx", images=imgs, labels=labs.astype(np.complex128)), "data.train_path",
     ["'labels'", "complex128", "integer"]),
    ("rank_2_images", bad_npz("rank2", images=imgs.reshape(50, -1), labels=labs), "data.train_path",
     ["'images'", "N x C x H x W"]),
    ("negative_label", bad_npz("neg", images=imgs, labels=np.where(labs == 0, -1, labs)), "data.train_path",
     ["'labels'", "-1"]),
    ("count_mismatch", bad_npz("count", images=imgs, labels=labs[:40]), "data.train_path",
     ["50 images ('images') but 40 labels ('labels')"]),
    ("not_a_zip", f"{d}/text.npz", "data.train_path", ["not a zip archive"]),
    ("truncated", f"{d}/truncated.npz", "data.train_path", ["zip"]),
    ("group_not_dataset", f"{d}/group.h5", "data.train_path", ["'images' is an HDF5 group"]),
    ("not_hdf5", f"{d}/text.h5", "data.train_path", ["not an HDF5 file"]),
    ("missing_file", f"{d}/absent.npz", "data.train_path", ["no such file"]),
]
failures = []


def refused(name, data, key, texts, files):
    cfg = config(name, data)
    for args in (["plan", cfg], ["run", cfg]):
        p = run(args, timeout=120)
        message = p.stderr
        if p.returncode != 2:
            failures.append(f"{name}: {args[0]} exited {p.returncode}, expected 2: {message[-400:]}")
            continue
        for text in [f"key '{key}'", "expected"] + files + texts:
            if text not in message:
                failures.append(f"{name}: {args[0]}: message lacks {text!r}: {message[-400:]}")
        if "computing" in p.stdout:
            failures.append(f"{name}: {args[0]} started computing")
        if os.path.exists(f"{d}/{name}.h5"):
            failures.append(f"{name}: {args[0]} wrote a results file")


for name, path, key, texts in cases:
    refused(name, f"{{name: tensors, train_path: {path}, test_path: {d}/test.npz}}", key, texts, [path])
    print(f"ok {name}")
# Train and test images of other shapes; labels above data.classes; mean of the wrong channel count.
bad_npz("wide", images=np.zeros((10, 1, 8, 9), np.uint8), labels=np.zeros(10, np.int64))
refused("shape_mismatch", f"{{name: tensors, train_path: {d}/train.npz, test_path: {d}/wide.npz}}",
        "data.test_path", ["1x8x9", "1x8x8"], [f"{d}/wide.npz", f"{d}/train.npz"])
refused("label_above_classes", f"{{name: tensors, train_path: {d}/train.npz, test_path: {d}/test.npz, classes: 3}}",
        "data.classes", ["'labels' holds the label 3"], [f"{d}/"])
refused("mean_channels", f"{{name: tensors, train_path: {d}/train.npz, test_path: {d}/test.npz, mean: '0.1,0.2'}}",
        "data.mean", ["2 values", "1 channel"], [])
refused("key_in_test_file", f"{{name: tensors, train_path: {d}/train.npz, test_path: {d}/nolabels.npz}}",
        "data.test_path", ["no array 'labels'"], [f"{d}/nolabels.npz"])
print("ok shape_mismatch, label_above_classes, mean_channels, key_in_test_file")
if failures:
    fail("\n".join(failures))
print(f"tensors: 3 good file sets trained; {len(cases) + 4} bad ones refused by plan and run, nothing written")
cleanup(d)
