"""Reference loss and gradient of the MNIST CNN on a fixed batch, computed independently with PyTorch.

Writes torch_reference.txt, read by crates/vision/tests/torch_reference.rs. Run once (from this
directory, with `pip install torch numpy` in a throwaway venv):  python make_torch_reference.py

Parameters are float32 draws (burn's default init bounds), images are k/255 intensities, targets
random {0, 1}; the network (conv3x3(1->16,pad1)-ReLU-maxpool2 -> conv3x3(16->32,pad1)-ReLU-maxpool2 ->
linear(1568->1), mean logistic loss log(1+exp(-y f)), y = +-1) is evaluated in float64 on those exact
float32 values, so the reference carries no float32 rounding. Each array is written as
`name count` followed by one line of `count` numbers (float32 inputs with 9 significant digits,
which round-trip; float64 outputs with 17).
"""
import numpy as np
import torch
import torch.nn.functional as F

rng = np.random.default_rng(20260)
n = 6
def u(shape, fan_in):
    b = 1.0 / np.sqrt(fan_in)
    return rng.uniform(-b, b, size=shape).astype(np.float32)
# Flat order and shapes of crates/vision CnnConfig::shapes: w1, b1, w2, b2, w3 [1568, 1], b3.
shapes = [((16, 1, 3, 3), 9), ((16,), 9), ((32, 16, 3, 3), 144), ((32,), 144), ((1568, 1), 1568), ((1,), 1568)]
params = [u(s, f) for s, f in shapes]
images = (rng.integers(1, 256, size=(n, 1, 28, 28)) / 255.0).astype(np.float32)
targets = rng.integers(0, 2, size=n)

p = [torch.tensor(a, dtype=torch.float64, requires_grad=True) for a in params]
x = torch.tensor(images, dtype=torch.float64)
y = torch.tensor(np.where(targets == 1, 1.0, -1.0), dtype=torch.float64)
h = F.max_pool2d(F.relu(F.conv2d(x, p[0], p[1], padding=1)), 2)
h = F.max_pool2d(F.relu(F.conv2d(h, p[2], p[3], padding=1)), 2)
z = (h.flatten(1) @ p[4] + p[5])[:, 0]
loss = F.softplus(-y * z).mean()
grads = torch.autograd.grad(loss, p)

with open("torch_reference.txt", "w") as out:
    def write(name, values, fmt):
        values = list(values)
        out.write(f"{name} {len(values)}\n" + " ".join(fmt % v for v in values) + "\n")
    write("params", np.concatenate([a.ravel() for a in params]).astype(np.float64), "%.9g")
    write("images", images.ravel().astype(np.float64), "%.9g")
    write("targets", targets, "%d")
    write("loss", [loss.item()], "%.17g")
    write("grad", torch.cat([g.reshape(-1) for g in grads]).tolist(), "%.17g")
    write("logits", z.detach().tolist(), "%.17g")
