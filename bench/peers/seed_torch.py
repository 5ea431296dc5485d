"""The seed job in PyTorch, end to end: moons, Dense 3-4-2-1 relu/sigmoid,
RMSprop (Keras's defaults), BCE, batch 8, 5 epochs with validation, one line
per epoch, weights saved. Timed by bench/run.py from the shell, imports
included."""

import sys
import time
from pathlib import Path

import torch
from _moons import moons
from torch import nn

torch.set_num_threads(2)
torch.manual_seed(0)
(x, y), (xv, yv) = moons()
x, y, xv, yv = map(torch.from_numpy, (x, y, xv, yv))
net = nn.Sequential(
    nn.Linear(2, 3),
    nn.ReLU(),
    nn.Linear(3, 4),
    nn.ReLU(),
    nn.Linear(4, 2),
    nn.ReLU(),
    nn.Linear(2, 1),
)
opt = torch.optim.RMSprop(net.parameters(), lr=1e-3, alpha=0.9, eps=1e-7)
loss_fn = nn.BCEWithLogitsLoss()
for epoch in range(1, 6):
    start = time.perf_counter()
    order = torch.randperm(len(x))
    total, correct = 0.0, 0
    for i in range(0, len(x), 8):
        idx = order[i : i + 8]
        opt.zero_grad()
        out = net(x[idx])
        loss = loss_fn(out, y[idx])
        loss.backward()
        opt.step()
        total += loss.item() * len(idx)
        correct += int(((out > 0).float() == y[idx]).sum())
    with torch.no_grad():
        out = net(xv)
        val_loss = float(loss_fn(out, yv))
        val_acc = float(((out > 0).float() == yv).float().mean())
    print(
        f"epoch {epoch}/5 - loss: {total / len(x):.4f} - accuracy: "
        f"{correct / len(x):.4f} - val_loss: {val_loss:.4f} - val_accuracy: "
        f"{val_acc:.4f} - {time.perf_counter() - start:.2f}s",
        file=sys.stderr,
    )
torch.save(net.state_dict(), Path("seed_torch.pt"))
