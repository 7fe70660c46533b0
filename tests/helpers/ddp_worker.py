"""Run under torchrun by test_train.py: a few DDP steps on CPU (gloo), then each rank
writes the item indices it trained on and a hash of its final weights."""

import hashlib
import json
import sys
from pathlib import Path

from lightning.pytorch.callbacks import Callback

from centrifuge.config import load_config
from centrifuge.train.run import train


class Record(Callback):
    def __init__(self):
        self.indices = []

    def on_train_batch_start(self, trainer, pl_module, batch, batch_idx):
        self.indices += [int(i) for i in batch["meta"]["index"]]

    def on_train_end(self, trainer, pl_module):
        h = hashlib.sha256()
        for k, v in sorted(pl_module.model.state_dict().items()):
            h.update(k.encode())
            h.update(v.detach().float().contiguous().numpy().tobytes())
        out = Path(sys.argv[1]) / f"rank{trainer.global_rank}.json"
        out.write_text(json.dumps({"indices": self.indices, "weights": h.hexdigest(),
                                   "world": trainer.world_size}))


videos, out = sys.argv[2], sys.argv[1]
config = load_config("tiny", [
    "data.source=folder", f"data.root={videos}", "data.frames=8", "data.size=32",
    "data.batch_size=2", "data.workers=0", "data.cache=false", "data.val_samples=2",
    "trainer.max_steps=3", "trainer.val_every=3", "trainer.precision=32-true",
    "trainer.accelerator=cpu", "trainer.devices=2", "trainer.strategy=ddp", f"out_dir={out}",
])
train(config, run_dir=Path(out) / "run", extra_callbacks=[Record()], enable_progress_bar=False)
