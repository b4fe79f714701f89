"""A small training script, written the way v1 scripts are.

Fits a logistic regression with plain Python on a dataset it generates (no downloads),
logs the loss per epoch and the final accuracy, and saves the model to ./outputs.
"""

import argparse
import json
import math
import os
import random

from runyard.core.run import Run

parser = argparse.ArgumentParser()
parser.add_argument("--epochs", type=int, default=20)
parser.add_argument("--learning-rate", type=float, default=0.5)
args = parser.parse_args()

run = Run.get_context()
rng = random.Random(0)

# Two Gaussian blobs in 2-D: label 1 around (1, 1), label 0 around (-1, -1).
points = [((rng.gauss(1, 0.8), rng.gauss(1, 0.8)), 1) for _ in range(500)]
points += [((rng.gauss(-1, 0.8), rng.gauss(-1, 0.8)), 0) for _ in range(500)]
rng.shuffle(points)
train, test = points[:800], points[800:]

w = [0.0, 0.0]
b = 0.0


def predict(x):
    z = w[0] * x[0] + w[1] * x[1] + b
    return 1.0 / (1.0 + math.exp(-z))


print(f"Training on {len(train)} points for {args.epochs} epochs")
for epoch in range(1, args.epochs + 1):
    grad_w, grad_b, loss = [0.0, 0.0], 0.0, 0.0
    for x, y in train:
        p = predict(x)
        loss -= y * math.log(p + 1e-12) + (1 - y) * math.log(1 - p + 1e-12)
        grad_w[0] += (p - y) * x[0]
        grad_w[1] += (p - y) * x[1]
        grad_b += p - y
    n = len(train)
    w = [w[0] - args.learning_rate * grad_w[0] / n, w[1] - args.learning_rate * grad_w[1] / n]
    b -= args.learning_rate * grad_b / n
    run.log("Loss", loss / n)
    print(f"epoch {epoch:3d}  loss {loss / n:.4f}")

accuracy = sum((predict(x) > 0.5) == bool(y) for x, y in test) / len(test)
run.log("Accuracy", accuracy)
print(f"test accuracy {accuracy:.3f}")

os.makedirs("outputs", exist_ok=True)
with open("outputs/model.json", "w") as f:
    json.dump({"w": w, "b": b}, f)
