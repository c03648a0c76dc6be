"""Seconds per Stage I KD step against its bound: one forward + backward of the student alone on the same batch.

Usage: python bench/train_step.py [--preset cpu] [--steps 8] [--data DIR] [--set key=value ...]

Stage I with a frozen LLM and the cached top-k teacher never runs the teacher, so the least a step can
cost is the student's forward and backward (with the loss) on its batch. The script fills the teacher
cache for the batches it times (as a resumed run, a later epoch or a later stage finds it), then times on
the same batches, each part alone and then the whole:

- step: `salad.train.Trainer.step`, exactly what `train_stage` runs (collation, teacher-cache reads,
  forward, loss, backward, gradient clipping, optimizer);
- collate: building the micro-batch from the examples (features are in memory, loaded once before training);
- teacher cache: reading the batch's top-k log-probs from `$SALAD_HOME/teacher`;
- forward + loss + backward: the bound, with the batch and the teacher tensors already in memory (the logits of
  the scored positions alone, as `Trainer.loss`; then the same loss from the full logits, for comparison);
- optimizer: clipping + AdamW step + zero_grad.

`--set model.llm_training=lora` times the LoRA-trained LLM (what LoRA adds to a step: `cpu-sweep`'s question).
Prints each part's mean seconds, and step / bound. Needs the preset's data (`salad data build --preset <p>`).
"""
import argparse, time
import torch
from salad.adapter import SpeechLM
from salad.assets import salad_home
from salad.cache import TeacherCache
from salad.layout import data_dir
from salad.config import get_config, parse_overrides
from salad.losses import marked_salad_loss, salad_loss, scored_positions
from salad.stage1 import stage_data
from salad.train import TrainData, Trainer, make_optimizer, micro_batch
from accelerate import Accelerator


def mean_time(fn, n):
    t0 = time.perf_counter()
    for i in range(n):
        fn(i)
    return (time.perf_counter() - t0) / n


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument('--preset', default='cpu')
    p.add_argument('--steps', type=int, default=8)
    p.add_argument('--data', default=None)
    p.add_argument('--set', nargs='*', default=[], help='config overrides, as for salad (key=value)')
    a = p.parse_args()
    cfg = get_config(a.preset, parse_overrides(a.set))
    t = cfg.train
    d = stage_data(cfg, a.data or data_dir(cfg.name), None, False)
    examples, llm, enc = d.train, d.llm, d.enc
    torch.manual_seed(t.seed)
    model = SpeechLM(cfg.model, llm, enc.dim, enc.key).train()
    acc = Accelerator(gradient_accumulation_steps=t.grad_accum, mixed_precision=t.mixed_precision,
                      cpu=not torch.cuda.is_available())
    opt = make_optimizer(model, t)
    model, opt = acc.prepare(model, opt)
    trainer = Trainer(acc, model, opt, None, cfg)
    tcache = TeacherCache(salad_home() / 'teacher', cfg.model.llm, t.teacher_topk)
    data = TrainData(examples, teacher_cache=tcache)
    n = a.steps * t.grad_accum
    batches = [micro_batch(acc, examples, s, t, False, cfg.model.stack) for s in range(n)]
    teachers = [tcache(model, b) for b in batches]  # fills the cache for these batches (not timed)
    toks = sum(int(b['attention_mask'].sum()) for b in batches) / n
    print(f"preset {cfg.name}: {cfg.model.llm} ({cfg.model.llm_training}) + {enc.key}, adapter {cfg.model.adapter}, "
          f"batch {t.batch_size} x accum {t.grad_accum}, {toks:.0f} tokens/micro-batch, teacher top-{t.teacher_topk}, "
          f"{torch.get_num_threads()} threads")
    trainer.step(data, 0)  # warm-up

    def bound(i):  # what `Trainer.loss` runs: the logits of the scored positions alone
        b = batches[i]
        out = marked_salad_loss(model(b, positions=scored_positions(b)), teachers[i], b, t.alpha, t.temperature)
        out['loss'].backward()
        opt.zero_grad()

    def full_logits(i):  # the same loss from the logits of every position (before 2026-12-07)
        out = salad_loss(model(batches[i]), teachers[i], batches[i], t.alpha, t.temperature)
        out['loss'].backward()
        opt.zero_grad()

    def optimizer(i):
        if t.max_grad_norm:
            acc.clip_grad_norm_(model.parameters(), t.max_grad_norm)
        opt.step()
        opt.zero_grad()

    parts = {
        'collate': mean_time(lambda i: micro_batch(acc, examples, i, t, False, cfg.model.stack), n),
        'teacher cache': mean_time(lambda i: tcache(model, batches[i]), n),
        'forward + loss + backward': mean_time(bound, n),
        '  the same, full logits': mean_time(full_logits, n),
        'optimizer': mean_time(optimizer, n),
    }
    step = mean_time(lambda i: trainer.step(data, i), a.steps) / t.grad_accum
    for k, v in parts.items():
        print(f"{k:28s} {v:7.3f} s / micro-batch")
    lim = parts['forward + loss + backward']
    print(f"{'step (train_stage)':28s} {step:7.3f} s / micro-batch\nstep / bound: {step / lim:.2f}x")


if __name__ == '__main__':
    main()
