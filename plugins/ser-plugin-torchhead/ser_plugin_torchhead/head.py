"""The ``ssl-head`` network and its training loop (imports torch; see the package docstring)."""

from __future__ import annotations

import copy
import os
import time
from typing import Any, Sequence

import numpy as np

from ser_core import FeatureError, ModelContext, class_weights, require, thread_count, uar

#: Threads torch trains with; default: the runner's share of the cores (``SERBENCH_THREADS``), else torch's.
THREADS_VARIABLE = "SERBENCH_TORCH_THREADS"


def _torch():
    return require("torch", install="ser-plugin-torchhead", needed_by="model 'ssl-head' (ser-plugin-torchhead)")


def layout(context: ModelContext, width: int) -> tuple[int, int]:
    """``(layers, dims)`` of the feature's items of total width ``width``."""
    params = context.feature.params
    layers = int(params.get("layers_kept", 1) or 1)
    if width % layers:
        raise FeatureError(
            f"model 'ssl-head': feature {context.feature.name!r} says it keeps {layers} layers, but its items are "
            f"{width} wide, which is not a multiple of {layers}"
        )
    return layers, width // layers


def inner_split(groups: np.ndarray, fraction: float, seed: int) -> tuple[np.ndarray, list[str]]:
    """A boolean mask of the clips held out for validation (whole groups, drawn with ``seed``) and the
    held-out groups; no clip is held out when there are fewer than two groups."""
    names = np.unique(groups)
    if len(names) < 2:
        return np.zeros(len(groups), dtype=bool), []
    count = min(len(names) - 1, max(1, int(round(fraction * len(names)))))
    held = sorted(np.random.default_rng(seed).choice(names, size=count, replace=False).tolist())
    return np.isin(groups, held), held


def build(layers: int, width: int, hidden: int, classes: int, pooling: str, dropout: float):
    """The head as a ``torch.nn.Module``: ``forward(x, mask)`` with ``x`` of shape
    ``(batch, frames, layers, dims)`` and ``mask`` ``(batch, frames)`` marking valid frames."""
    torch = _torch()
    nn = torch.nn

    class Head(nn.Module):
        def __init__(self):
            super().__init__()
            self.layer_logits = nn.Parameter(torch.zeros(layers)) if layers > 1 else None
            self.score = nn.Linear(width, 1) if pooling == "attentive" else None
            self.hidden = nn.Linear(width, hidden)
            self.dropout = nn.Dropout(dropout)
            self.output = nn.Linear(hidden, classes)

        def layer_weights(self):
            return None if self.layer_logits is None else torch.softmax(self.layer_logits, dim=0)

        def forward(self, x, mask):
            if self.layer_logits is None:
                x = x[:, :, 0]
            else:
                x = (x * self.layer_weights()[None, None, :, None]).sum(dim=2)
            if self.score is None:
                weights = mask.float() / mask.sum(dim=1, keepdim=True).clamp(min=1)
            else:
                weights = torch.softmax(self.score(x).squeeze(-1).masked_fill(~mask, float("-inf")), dim=1)
            pooled = (weights.unsqueeze(-1) * x).sum(dim=1)
            return self.output(self.dropout(torch.relu(self.hidden(pooled))))

    return Head()


class HeadEstimator:
    """One ``ssl-head`` for one fold: :meth:`fit`, :meth:`predict`, :meth:`parameter_count`, :meth:`describe`."""

    def __init__(self, context: ModelContext):
        self.context = context
        self.settings = dict(context.settings)
        self.seed = int(context.seed)
        self.net = None
        self.layers = self.width = 0
        self.info: dict[str, Any] = {}
        torch = _torch()
        threads = thread_count(THREADS_VARIABLE, "SERBENCH_THREADS")  # else the runner's share
        if threads:
            torch.set_num_threads(threads)
        self.device = torch.device("cuda" if torch.cuda.is_available() else "cpu")

    def _items(self, X: Sequence[np.ndarray]) -> list[np.ndarray]:
        """Each item as ``(frames, layers, dims)`` float32."""
        out = []
        for item in X:
            item = np.asarray(item, dtype=np.float32)
            rows = item.reshape(1, -1) if item.ndim == 1 else item
            out.append(rows.reshape(rows.shape[0], self.layers, self.width))
        return out

    def _batch(self, items: list[np.ndarray], indices: Sequence[int]):
        torch = _torch()
        longest = max(items[i].shape[0] for i in indices)
        x = np.zeros((len(indices), longest, self.layers, self.width), dtype=np.float32)
        mask = np.zeros((len(indices), longest), dtype=bool)
        for row, i in enumerate(indices):
            x[row, : items[i].shape[0]] = items[i]
            mask[row, : items[i].shape[0]] = True
        return torch.from_numpy(x).to(self.device), torch.from_numpy(mask).to(self.device)

    def _scores(self, items: list[np.ndarray]) -> np.ndarray:
        torch = _torch()
        self.net.eval()
        order = np.argsort([item.shape[0] for item in items], kind="stable")  # little padding
        size = int(self.settings["batch_size"])
        out = np.zeros((len(items), self.context.n_classes), dtype=np.float32)
        with torch.inference_mode():
            for first in range(0, len(order), size):
                chosen = order[first : first + size]
                out[chosen] = self.net(*self._batch(items, chosen)).float().cpu().numpy()
        return out

    def fit(self, X: Sequence[np.ndarray], y: np.ndarray, groups: np.ndarray) -> None:
        torch = _torch()
        started = time.perf_counter()
        if self.device.type == "cpu":
            torch.use_deterministic_algorithms(True)
        torch.manual_seed(self.seed)
        s = self.settings
        width = int(np.asarray(X[0]).shape[-1])
        self.layers, self.width = layout(self.context, width)
        items = self._items(X)
        y = np.asarray(y, dtype=np.int64)
        held, held_groups = inner_split(np.asarray(groups), float(s["validation_fraction"]), self.seed)
        train = np.flatnonzero(~held)
        valid = np.flatnonzero(held)
        self.net = build(self.layers, self.width, int(s["hidden"]), self.context.n_classes, s["pooling"],
                         float(s["dropout"])).to(self.device)
        weights = torch.tensor(class_weights(y[train], self.context.n_classes), dtype=torch.float32, device=self.device)
        loss_fn = torch.nn.CrossEntropyLoss(weight=weights)
        optimiser = torch.optim.Adam(self.net.parameters(), lr=float(s["learning_rate"]),
                                     weight_decay=float(s["weight_decay"]))
        shuffle = np.random.default_rng(self.seed)
        targets = torch.from_numpy(y).to(self.device)
        size = int(s["batch_size"])
        best_uar, best_epoch, best_state, waited, epoch = -1.0, 0, None, 0, 0
        history: list[float] = []
        for epoch in range(1, int(s["epochs"]) + 1):
            self.net.train()
            order = shuffle.permutation(train)
            for first in range(0, len(order), size):
                chosen = order[first : first + size]
                optimiser.zero_grad()
                loss = loss_fn(self.net(*self._batch(items, chosen)), targets[chosen])
                loss.backward()
                optimiser.step()
            if len(valid) == 0:
                continue
            score = uar(y[valid], self._scores([items[i] for i in valid]).argmax(axis=1))
            history.append(round(float(score), 4))
            if score > best_uar:
                best_uar, best_epoch, waited = float(score), epoch, 0
                best_state = copy.deepcopy(self.net.state_dict())
            else:
                waited += 1
                if waited >= int(s["patience"]):
                    break
        if best_state is not None:
            self.net.load_state_dict(best_state)
        weights_now = self.net.layer_weights()
        self.info = {
            "layers": self.layers,
            "layer_weights": None if weights_now is None else [round(float(w), 4) for w in weights_now.detach().cpu()],
            "epochs_run": epoch,
            "best_epoch": best_epoch if len(valid) else epoch,
            "validation": (
                f"{len(held_groups)} of {len(np.unique(groups))} training groups held out for early stopping: "
                + ", ".join(map(str, held_groups))
                if len(valid)
                else "one training group: no validation split, trained for all epochs"
            ),
            "validation_uar": best_uar if len(valid) else None,
            "validation_history": history,
            "device": self.device.type,
            "train_seconds": round(time.perf_counter() - started, 3),
        }

    def predict(self, X: Sequence[np.ndarray]) -> np.ndarray:
        if self.net is None:
            raise RuntimeError("model 'ssl-head': predict() before fit()")
        return self._scores(self._items(X)).argmax(axis=1).astype(np.int64)

    def parameter_count(self) -> int | None:
        return None if self.net is None else int(sum(p.numel() for p in self.net.parameters() if p.requires_grad))

    def describe(self) -> dict[str, Any]:
        return dict(self.info)
