"""The model of a training run and what changes with it: the optimizer,
mixed precision, the weight average and the RNN state carried between steps
(batching="tbptt"); one optimizer step, and their part of a checkpoint."""
from __future__ import annotations

import torch
import torch.nn.functional as F

from composer.errors import ComposerError
from composer.model.harmonizer_data import batch_nll
from composer.model.harmonizer_network import HarmonizerRNN
from composer.model.infill_network import InfillRNN
from composer.model.modelfile import load_model
from composer.model.network import MusicRNN
from composer.representations.base import PAD
from training import distributed as D
from training.config import model_config
from training.ema import WeightAverage
from training.optim import amp_setup, is_oom, oom_message


class NonFiniteLoss(ComposerError):
    """The loss became NaN or infinite; the last good checkpoint is kept."""


def _step_seed(seed: int, rank: int, step: int) -> int:
    return (seed * 1_000_003 + rank * 7_919 + step * 104_729) % (2**63 - 1)


class RunModel:
    """Builds the model of `config` for `tokenizer` (seeded by `config.seed`,
    wrapped in DistributedDataParallel under torchrun) and its optimizer."""

    def __init__(self, config, tokenizer, info, device):
        c = self.c = config
        self.info, self.device = info, device
        self.infill = c.objective == "infill"
        self.accompany = c.objective == "accompany"
        self.model_config = model_config(c, tokenizer)
        torch.manual_seed(c.seed)
        self.model = {"infill": InfillRNN, "accompany": HarmonizerRNN}.get(c.objective, MusicRNN)(self.model_config)
        if self.infill and c.init_from and not c.resume:
            try:
                self.model.init_from_plain(load_model(c.init_from, "cpu").model)
            except ValueError as exc:
                raise ComposerError(f"--init-from {c.init_from}: {exc}") from None
        self.model.to(device)
        self.net = self.model
        if info.enabled:
            from torch.nn.parallel import DistributedDataParallel
            ids = [device.index] if device.type == "cuda" else None
            self.net = DistributedDataParallel(self.model, device_ids=ids)
        self.optimizer = torch.optim.AdamW(self.model.parameters(), lr=c.lr, weight_decay=c.weight_decay)
        self.precision, self.scaler = amp_setup(device)
        self.rnn_state = None       # carried between steps with batching="tbptt"
        self.ema = WeightAverage(self.model, c.ema) if c.ema else None

    def set_lr(self, lr: float) -> None:
        for group in self.optimizer.param_groups:
            group["lr"] = lr

    def train_step(self, sampler, step: int) -> tuple[float, int]:
        """One optimizer step on the `sampler`'s batch `step`; returns (loss in
        nats/token, tokens). Raises NonFiniteLoss before a non-finite loss or
        gradient reaches the weights."""
        c = self.c
        torch.manual_seed(_step_seed(c.seed, self.info.rank, step))   # dropout: a function of the step
        batch = sampler.batch_at(step)
        self.net.train()
        try:
            with self.precision.autocast(self.device):
                loss, state = self._loss(batch)
            bad = D.sync_max(self.info, [0.0 if torch.isfinite(loss).item() else 1.0], self.device)[0]
            if bad:
                raise NonFiniteLoss(f"the loss became non-finite ({loss.item()}) at step {step + 1}")
            self._descend(loss, step)
            if c.batching == "tbptt":     # keep the state, cut the graph (truncated BPTT)
                self.rnn_state = tuple(t.detach() for t in state) if isinstance(state, tuple) else state.detach()
        except RuntimeError as exc:
            if is_oom(exc):
                raise ComposerError(oom_message(c.batch, c.seq_len, self.device)) from None
            raise
        return float(loss.item()), (batch.n_targets if self.accompany else batch.n_tokens)

    def _loss(self, batch):
        """(mean loss in nats per target, the RNN state to carry) of one batch."""
        if self.accompany:      # chords and voices under the melody, every output its own softmax
            batch = batch.to(self.device)
            chord_nll, voice_nll = batch_nll(self.net, batch)
            return (chord_nll.sum() + voice_nll.sum()) / max(1, batch.n_targets), None
        if self.infill:         # left context + span, conditioned on the right context
            logits, state = self.net(**batch.model_inputs(self.device)), None       # (B, T, V)
        else:
            positions = batch.positions.to(self.device) if self.model_config.position_classes > 1 else None
            lookback = batch.lookback.to(self.device) if batch.lookback is not None else None
            logits, state = self.net(batch.inputs.to(self.device), self.rnn_state, positions=positions,
                                     lookback=lookback)
        y = batch.targets.to(self.device)                                          # (B, T)
        loss = F.cross_entropy(logits.float().reshape(-1, logits.shape[-1]), y.reshape(-1), ignore_index=PAD)
        return loss, state

    def _descend(self, loss, step: int) -> None:
        """Backward pass, clipping, optimizer step (scaled on CUDA), weight average."""
        c = self.c
        self.optimizer.zero_grad(set_to_none=True)
        if self.scaler is not None:
            self.scaler.scale(loss).backward()
            self.scaler.unscale_(self.optimizer)
            if c.clip:
                torch.nn.utils.clip_grad_norm_(self.model.parameters(), c.clip)
            self.scaler.step(self.optimizer)
            self.scaler.update()
        else:
            loss.backward()
            if c.clip:
                norm = torch.nn.utils.clip_grad_norm_(self.model.parameters(), c.clip)
                if not torch.isfinite(norm):
                    raise NonFiniteLoss(f"the gradients became non-finite at step {step + 1}")
            self.optimizer.step()
        if self.ema is not None:
            self.ema.update(step)

    # ---- checkpoints --------------------------------------------------------------
    def checkpoint_extra(self) -> dict:
        """The tensors a checkpoint stores beside the weights: the carried RNN state and the weight average."""
        state = self.rnn_state
        parts = [] if state is None else (list(state) if isinstance(state, tuple) else [state])
        extra = {f"rnn_state.{i}": t for i, t in enumerate(parts)}
        if self.ema is not None:
            extra.update(self.ema.tensors())
        return extra

    def scaler_state(self):
        return self.scaler.state_dict() if self.scaler is not None else None

    def load(self, ckpt) -> None:
        """Everything of a resumed run's checkpoint `ckpt` that lives here."""
        self.model.load_state_dict(ckpt.model_state)
        self.optimizer.load_state_dict(ckpt.optimizer_state)
        extra = ckpt.extra or {}
        n_state = sum(1 for k in extra if k.startswith("rnn_state."))
        if n_state:
            parts = [extra[f"rnn_state.{i}"].to(self.device) for i in range(n_state)]
            self.rnn_state = tuple(parts) if self.model_config.cell == "lstm" else parts[0]
        if self.ema is not None:
            self.ema.load(extra)
        if self.scaler is not None and ckpt.meta.get("scaler"):
            self.scaler.load_state_dict(ckpt.meta["scaler"])

    def load_good_weights(self, ckpt) -> None:
        """The weights (and weight average) of the last good checkpoint, after a non-finite loss."""
        self.model.load_state_dict(ckpt.model_state)
        if self.ema is not None:
            self.ema.load(ckpt.extra or {})
