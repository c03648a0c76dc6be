"""Paper scale on one GPU: `paper-3b` Stage I, a few Stage II steps and the scorer, with full-size random-init stand-ins.

Usage:
    python bench/gpu_stage1.py prepare WORK                  # where salad's offline assets are: tokenizer + pool text
    python bench/gpu_stage1.py run WORK OUT [--width full] [--steps 12] [--layers 36] [--resume]

`prepare` writes WORK/tok (SmolLM2's tokenizer: the stand-in's ids stay below its 49,152 tokens, the output
layer keeps Qwen's 151,936) and WORK/pool.jsonl (real pool text), so that `run` needs no hub and no salad asset.

`run` goes through salad's own recipes with the `paper-3b` preset and every one of its switches (bf16, full LLM
training, the live teacher, packed 2048-position rows, activation checkpointing, the chunked loss, text replay):
- stand-ins made by the script: a Qwen2 with Qwen2.5-3B's exact shape (`--layers` fewer for a smaller one), Kyutai's
  Mimi at its default config, the preset's 12-layer Transformer adapter; random weights (no hub);
- speech: a folder of noise clips (4-28 s) with real pool text as transcripts (an encoder's cost does not depend on
  what is said); no TTS engine is needed: the spoken benchmarks, the voice checks and the benchmark-question filter
  are replaced by stand-ins (they are not measured);
- features: `FeatureCache.fill` on the device (clips/s, x real time);
- Stage I (`salad.stage1.Stage1`): s/step, positions/s, MFU against the H200's 989 TFLOP/s dense bf16 (6 FLOPs per
  trained parameter per position for the student and adapter, 2 per parameter per token for the teacher; attention
  and recomputation not counted), peak GPU memory, one checkpoint's size and write time;
- Stage II (`salad.stage2.Stage2.train`, from the pre-decay checkpoint, `--stage2-steps`), s/step;
- the scorer (`salad.evaluate.score_options`): text and speech items/s, 5-shot-length contexts;
- `--resume`: a second, smaller Stage I (`--resume-layers`) killed with SIGKILL after its first checkpoint and run
  again; its loss curve must equal an uninterrupted run's.
Everything is printed and written to OUT/gpu_stage1.json as it is measured. On the CPU, `--width tiny` runs the same
path in a few minutes (tests/test_gpu_bench.py).
"""

import argparse, json, os, shutil, signal, subprocess, sys, time
from pathlib import Path

import numpy as np
import soundfile as sf
import torch
from salad.plan import LLM_SHAPES  # Qwen2.5-3B's shape, as its config.json has it

H200_BF16 = 989e12  # dense bf16 FLOP/s of one H200 (the spec sheet)
QWEN3B = dict(LLM_SHAPES['Qwen/Qwen2.5-3B'], max_position_embeddings=32768, rope_theta=1e6, rms_norm_eps=1e-6)
TINY_LLM = dict(hidden_size=64, intermediate_size=128, num_hidden_layers=2, num_attention_heads=4, num_key_value_heads=2,
                max_position_embeddings=4096, tie_word_embeddings=True)
TINY_MIMI = dict(
    hidden_size=32,
    num_filters=4,
    num_hidden_layers=2,
    num_attention_heads=4,
    num_key_value_heads=4,
    head_dim=8,
    intermediate_size=64,
    codebook_dim=32,
    codebook_size=64,
    num_quantizers=4,
    vector_quantization_hidden_dimension=32,
    upsample_groups=32,
)
TINY_ADAPTER = dict(adapter_dim=32, adapter_layers=2, adapter_heads=4, adapter_kv_heads=2, adapter_mlp=64)


class Record(dict):
    "What the bench measured, printed and written to OUT/gpu_stage1.json as it goes."

    def __init__(self, out: Path):
        super().__init__()
        self.path = Path(out) / 'gpu_stage1.json'
        self.path.parent.mkdir(parents=True, exist_ok=True)

    def note(self, key, value):
        self[key] = value
        print(f'{key}: {value}', flush=True)
        self.path.write_text(json.dumps(self, indent=1, default=str))


def sync():
    if torch.cuda.is_available():
        torch.cuda.synchronize()


def prepare(work: Path):
    "The tokenizer and pool text `run` needs, from salad's offline assets."
    from salad.assets import load_llm
    from salad.data import broad_text_pool

    work.mkdir(parents=True, exist_ok=True)
    load_llm('smollm2-135m')[1].save_pretrained(work / 'tok')
    texts = [t for t in broad_text_pool(sources=['sciq', 'qasper'])['text'] if len(t.split()) > 60][:800]
    (work / 'pool.jsonl').write_text(''.join(json.dumps(dict(text=t)) + '\n' for t in texts))
    print(f'{work}: tok/ and pool.jsonl ({len(texts)} passages)')


def stand_ins(work: Path, width: str, layers: int | None) -> tuple:
    "(LLM folder, Mimi folder): random-init Qwen2 and Mimi at full or tiny width, saved once."
    from transformers import AutoTokenizer, MimiConfig, MimiModel, Qwen2Config, Qwen2ForCausalLM

    tok = AutoTokenizer.from_pretrained(work / 'tok')
    shape = dict(QWEN3B) if width == 'full' else dict(TINY_LLM, vocab_size=len(tok))
    if layers:
        shape['num_hidden_layers'] = layers
    llm_dir = work / f"llm-{width}-{shape['num_hidden_layers']}"
    mimi_dir = work / f'mimi-{width}'
    dev = 'cuda' if torch.cuda.is_available() else 'cpu'
    if not (llm_dir / 'config.json').exists():
        torch.manual_seed(0)
        with torch.device(dev):
            cfg = Qwen2Config(bos_token_id=tok.bos_token_id, eos_token_id=tok.eos_token_id, **shape)
            Qwen2ForCausalLM(cfg).to(torch.bfloat16).save_pretrained(llm_dir)
        tok.save_pretrained(llm_dir)
    if not (mimi_dir / 'config.json').exists():
        torch.manual_seed(0)
        MimiModel(MimiConfig(**({} if width == 'full' else TINY_MIMI))).save_pretrained(mimi_dir)
    return llm_dir, mimi_dir


def speech_folder(work: Path, texts: list, n: int) -> Path:
    "n noise clips with real pool text as their transcripts (0.4 s a word, 4-28 s)."
    out = work / f'speech-{n}'
    if not out.exists():
        tmp, rng = work / f'.speech-{n}.tmp', np.random.default_rng(0)
        tmp.mkdir(parents=True, exist_ok=True)
        for i in range(n):
            words = texts[i % len(texts)].split()[:70]
            secs = min(28.0, max(4.0, 0.4 * len(words)))
            sf.write(tmp / f'u{i:04d}.wav', (0.05 * rng.standard_normal(int(secs * 16000))).astype('float32'), 16000)
            (tmp / f'u{i:04d}.txt').write_text(' '.join(words))
        tmp.rename(out)
    return out


def stub_unmeasured():
    "No TTS engine or benchmark asset on the GPU machine: what Stage I and II do not need is replaced."
    import salad.data, salad.stage2
    from datasets import Dataset

    def benchmark(task, n=None, **kw):
        return Dataset.from_list(
            [
                dict(
                    id=f'{task}{i}',
                    task=task,
                    prefix='Q: ',
                    spoken='question',
                    suffix=' A:',
                    context='Q: question A:',
                    options=[' a', ' b'],
                    gold=0,
                )
                for i in range(n or 12)
            ]
        )

    salad.data.check_voice = salad.stage2.check_voice = lambda v: None
    salad.data.speak_benchmark = lambda ds, *a, **k: ds
    salad.data.benchmark_questions = salad.stage2.benchmark_questions = lambda home=None, n=6: {}
    salad.data.load_benchmark = benchmark


def config(a, llm_dir: Path, mimi_dir: Path, speech: Path, pool: Path, steps: int, every: int):
    "`paper-3b` with the stand-ins' names, a short schedule and small held-out sets; every other switch as is."
    from salad.config import get_config

    tiny = a.width == 'tiny'
    return get_config(
        'paper-3b',
        {
            'model': dict(llm=str(llm_dir), encoder=str(mimi_dir), **(TINY_ADAPTER if tiny else {})),
            'data': dict(
                stage1_source=str(speech),
                pool_sources=[str(pool)],
                pool_docs=400,
                eval_voice='flite:slt',
                tasks=['arc_easy'],
                items_per_task=2,
                workers=1,
            ),
            'train': dict(
                steps=steps,
                batch_size=a.micro_batch,
                grad_accum=a.grad_accum,
                warmup_steps=2,
                checkpoint_every=every,
                keep_checkpoints=1,
                eval_every=10**6,
                probe_examples=4,
                log_every=1,
                decay_fraction=0.0,  # the end is the pre-decay step: one 3B checkpoint (38 GB) fits the disk
                **(dict(seq_len=256, loss_chunk=64) if tiny else {}),
            ),
            'stage2': dict(steps=a.stage2_steps, warmup_steps=1, clusters=4, probe_per_cluster=2),  # selection: not run
            'eval': dict(probe_passages=16),
        },
    )


def timed_steps(rec_list: list):
    "Wrap `Trainer.step` to record (seconds, positions, teacher tokens) per optimizer step."
    import salad.train as st
    from salad.train import Trainer

    step, collate = Trainer.step, st.micro_batch
    teacher_tokens = [0]

    def counting(*a, **k):
        b = collate(*a, **k)
        teacher_tokens[0] += int(b['teacher_mask'].sum())
        return b

    def timed(self, data, i):
        sync()
        t0, teacher_tokens[0] = time.perf_counter(), 0
        out = step(self, data, i)
        sync()
        rec_list.append((time.perf_counter() - t0, out[2], teacher_tokens[0]))
        return out

    st.micro_batch, Trainer.step = counting, timed


def param_counts(m) -> tuple:
    "(parameters the step trains, parameters the teacher runs) of a `SpeechLM`: what MFU counts."
    teacher = m.teacher_llm[0] if m.teacher_llm else m.llm
    return sum(p.numel() for p in m.parameters() if p.requires_grad), sum(p.numel() for p in teacher.parameters())


def mfu(steps: list, n_student: int, n_teacher: int, skip: int = 2) -> dict:
    "s/step, positions/s and MFU over the steps after the first `skip` (warm-up)."
    s = steps[skip:] or steps
    secs, pos, ttok = (sum(x[i] for x in s) for i in range(3))
    flops = 6 * n_student * pos + 2 * n_teacher * ttok
    return dict(
        s_per_step=round(secs / len(s), 3),
        positions_per_s=round(pos / secs),
        steps_timed=len(s),
        positions_per_step=round(pos / len(s)),
        tflops=round(flops / secs / 1e12, 1),
        mfu=round(flops / secs / H200_BF16, 4),
    )


def dir_gb(p: Path) -> float:
    return round(sum(f.stat().st_size for f in Path(p).rglob('*') if f.is_file()) / 1e9, 2)


def features(rec: Record, cfg, speech: Path, home: Path):
    "Encode every clip on the device in batches (`FeatureCache.fill`): seconds and x real time."
    from salad.adapter import load_speech_encoder
    from salad.cache import FeatureCache

    dev = 'cuda' if torch.cuda.is_available() else 'cpu'
    enc = load_speech_encoder(cfg.model.encoder).to(dev)
    clips = sorted(speech.glob('*.wav'))
    audio = sum(sf.info(str(c)).duration for c in clips)
    sync()
    t0 = time.perf_counter()
    n = FeatureCache(home / 'features', enc).fill(clips, batch_seconds=600 if dev == 'cuda' else 120, progress=False)
    sync()
    secs = time.perf_counter() - t0
    rec.note(
        'features',
        dict(
            clips=n,
            audio_s=round(audio),
            seconds=round(secs, 1),
            x_real_time=round(audio / secs, 1),
            hours_per_hour=round(audio / secs),
        ),
    )
    del enc


def stage1(rec: Record, cfg, run: Path, data: Path, home: Path):
    "Stage I through `Stage1.run`, timed per step; peak memory; the checkpoint's size and write time."
    import salad.train
    from salad.stage1 import Stage1

    steps, saves, gathers, save, gather = [], [], [], salad.train.save_checkpoint, salad.train.gathered_state
    timed_steps(steps)

    def timed_gather(*a, **k):  # the states gathered onto the CPU, before the main process writes them
        sync()
        t0 = time.perf_counter()
        out = gather(*a, **k)
        gathers.append(round(time.perf_counter() - t0, 1))
        return out

    def timed_save(*a, **k):
        t0 = time.perf_counter()
        out = save(*a, **k)
        gb, gather_s = dir_gb(out), gathers[-1] if gathers else 0.0
        saves.append(dict(step=a[1], gather_s=gather_s, write_s=round(time.perf_counter() - t0, 1), gb=gb))
        return out

    salad.train.save_checkpoint, salad.train.gathered_state = timed_save, timed_gather
    if torch.cuda.is_available():
        torch.cuda.reset_peak_memory_stats()
    t0 = time.perf_counter()
    s1 = Stage1(cfg, run, data, home, progress=False)
    res = s1.run()
    n_student, n_teacher = param_counts(s1.model)
    rec.note(
        'stage1',
        dict(
            mfu(steps, n_student, n_teacher),
            wall_s=round(time.perf_counter() - t0, 1),
            trained_params_B=round(n_student / 1e9, 3),
            loss=res.get('loss'),
            M=res.get('M'),
        ),
    )
    if torch.cuda.is_available():
        rec.note('peak_gpu_GiB', round(torch.cuda.max_memory_allocated() / 2**30, 1))
    rec.note('checkpoints', saves)
    salad.train.save_checkpoint, salad.train.gathered_state = save, gather
    return s1


def stage2(rec: Record, cfg, run: Path, stage1_dir: Path, data: Path, home: Path, speech: Path):
    "A few Stage II steps (`Stage2.train`) from the pre-decay checkpoint, on the mix with 'selected' speech."
    from salad.stage2 import Stage2

    clips = sorted(speech.glob('*.wav'))[-16:]  # as selected speech: the last clips, read whole
    picks = [
        dict(
            span_kinds=['speech'],
            span_texts=[c.with_suffix('.txt').read_text()],
            span_audio=[str(c)],
            seconds=sf.info(str(c)).duration,
        )
        for c in clips
    ]
    steps = []
    timed_steps(steps)
    s2 = Stage2(cfg, run, stage1_dir, data, home)
    s2.progress = False
    s2.setup()
    res = s2.train(picks)
    n_student, n_teacher = param_counts(s2.model)
    rec.note(
        'stage2',
        dict(
            mfu(steps, n_student, n_teacher, skip=1),
            loss=res.get('loss'),
            start=s2.checkpoint.name,
            train_examples=res.get('train_examples'),
        ),
    )
    return s2


def scorer(rec: Record, model, tok, n: int = 64):
    "Items/s of the scorer (`score_options`) reading 5-shot-length text contexts, and speech in their place."
    from salad.evaluate import score_options, speech_embeds, text_embeds

    dev = next(model.parameters()).device
    rng = np.random.default_rng(0)
    model.eval()
    ctx_ids = [rng.integers(100, len(tok), 600).tolist() for _ in range(n)]  # ~5 shots of ARC-length questions
    options = [[rng.integers(100, len(tok), k).tolist() for k in (3, 5, 4, 6)] for _ in range(n)]
    feats = torch.randn(150, model.enc_dim)  # 12 s of speech at 12.5 frames/s
    out = {}
    with torch.no_grad(), torch.autocast(dev.type, torch.bfloat16, enabled=dev.type == 'cuda'):
        for reading in ('text', 'speech'):
            if reading == 'text':
                ctx = [text_embeds(model.llm, ids) for ids in ctx_ids]
            else:
                spans = lambda ids: [dict(kind='text', ids=ids[:450]), dict(kind='speech', ids=[], feats=feats)]
                ctx = [speech_embeds(model, spans(ids)) for ids in ctx_ids]
            sync()
            t0 = time.perf_counter()
            score_options(model.llm, ctx, options, batch_size=8)
            sync()
            out[f'{reading}_items_per_s'] = round(n / (time.perf_counter() - t0), 1)
    rec.note('scorer', out)


def resume(rec: Record, a, work: Path):
    "A smaller Stage I, SIGKILLed after its first checkpoint and run again, against one that was never stopped."
    n, every = 6, 3
    args = [sys.executable, __file__, 'child', str(work), '{run}', '--width', a.width, '--layers', str(a.resume_layers),
            '--steps', str(n), '--every', str(every), '--micro-batch', str(a.micro_batch)]
    runs = {k: work / f'resume-{k}' for k in ('whole', 'killed')}
    subprocess.run([x.format(run=runs['whole']) for x in args], check=True)
    killed = [x.format(run=runs['killed']) for x in args]
    child = subprocess.Popen(killed, env=dict(os.environ, BENCH_PAUSE_AT=str(every)))
    ck = runs['killed'] / 'checkpoints' / f'step-{every:06d}' / 'state.pt'
    while child.poll() is None and not ck.exists():
        time.sleep(0.1)
    child.send_signal(signal.SIGKILL)  # paused just after writing the checkpoint
    child.wait()
    subprocess.run(killed, check=True)
    loss = {
        k: [r['loss'] for r in map(json.loads, (d / 'log.jsonl').read_text().splitlines())] for k, d in runs.items()
    }
    diff = max(abs(x - y) for x, y in zip(loss['whole'], loss['killed']))
    rec.note(
        'resume',
        dict(
            layers=a.resume_layers,
            steps=n,
            killed_after=every,
            max_loss_difference=diff,
            same_curve=len(loss['whole']) == len(loss['killed']) == n and diff < 1e-3,
        ),
    )


def child(a):
    "One Stage I of the resume check (`BENCH_PAUSE_AT=k`: sleep after writing checkpoint k, to be killed there)."
    import salad.train
    from salad.stage1 import Stage1

    work = Path(a.work)
    stub_unmeasured()
    llm_dir, mimi_dir = stand_ins(work, a.width, a.layers)
    cfg = config(a, llm_dir, mimi_dir, _speech(work, a), work / 'pool.jsonl', a.steps, a.every)
    save, pause = salad.train.save_checkpoint, int(os.environ.get('BENCH_PAUSE_AT', '0'))

    def save_then_pause(*args, **kw):
        out = save(*args, **kw)
        if args[1] == pause:
            time.sleep(600)
        return out

    salad.train.save_checkpoint = save_then_pause
    Stage1(cfg, a.run_dir, _data(work, a), Path(os.environ['SALAD_HOME']), progress=False).run()


def _data(work: Path, a) -> Path:
    return work / f"data-{_speech(work, a).name}"


def _speech(work: Path, a) -> Path:
    texts = [json.loads(l)['text'] for l in open(work / 'pool.jsonl')]
    return speech_folder(work, texts, 160 if a.width == 'full' else 48)


def run(a):
    "Every measurement, in order; each is written as soon as it is made."
    import gc
    import salad.data

    work, rec = Path(a.work), Record(a.out)
    home = Path(os.environ['SALAD_HOME'])
    for d in ['stage1', 'stage2', 'resume-whole', 'resume-killed', home / 'features']:
        shutil.rmtree(work / d, ignore_errors=True)  # measured from scratch every time
    rec.note('device', torch.cuda.get_device_name(0) if torch.cuda.is_available() else 'cpu')
    rec.note('versions', dict(torch=torch.__version__, python=sys.version.split()[0]))
    stub_unmeasured()
    t0 = time.perf_counter()
    llm_dir, mimi_dir = stand_ins(work, a.width, a.layers)
    speech, pool = _speech(work, a), work / 'pool.jsonl'
    rec.note('stand_ins_s', round(time.perf_counter() - t0, 1))
    cfg = config(a, llm_dir, mimi_dir, speech, pool, a.steps, a.steps)
    t0 = time.perf_counter()
    salad.data.build_data(cfg, _data(work, a), progress=False)
    rec.note('data_build_s', round(time.perf_counter() - t0, 1))
    features(rec, cfg, speech, home)
    s1 = stage1(rec, cfg, work / 'stage1', _data(work, a), home)
    scorer(rec, s1.model, s1.data.tok)
    del s1
    gc.collect()
    torch.cuda.empty_cache() if torch.cuda.is_available() else None
    rec.note('disk_free_GB', round(shutil.disk_usage(work).free / 1e9, 1))
    stage2(rec, cfg, work / 'stage2', work / 'stage1', _data(work, a), home, speech)
    if a.resume:
        resume(rec, a, work)
    print(json.dumps(rec, indent=1, default=str))


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument('cmd', choices=['prepare', 'run', 'child'])
    p.add_argument('work', help='working folder (stand-ins, speech, data, runs, $SALAD_HOME)')
    p.add_argument('out', nargs='?', default='.', help='run: where gpu_stage1.json goes; child: the run folder')
    p.add_argument('--width', choices=['full', 'tiny'], default='full')
    p.add_argument('--layers', type=int, default=None, help="the LLM's layers (default: Qwen2.5-3B's 36)")
    p.add_argument('--steps', type=int, default=12, help='Stage I steps (the first 2 are not timed)')
    p.add_argument('--every', type=int, default=None, help=argparse.SUPPRESS)
    p.add_argument('--micro-batch', type=int, default=8, help='rows of 2048 positions a micro-batch')
    p.add_argument('--grad-accum', type=int, default=1)
    p.add_argument('--stage2-steps', type=int, default=4)
    p.add_argument('--resume', action='store_true', help='also the kill-and-resume check on a smaller model')
    p.add_argument('--resume-layers', type=int, default=4)
    a = p.parse_args()
    work = Path(a.work).absolute()
    os.environ['HF_HUB_OFFLINE'] = '1'
    os.environ.setdefault('TOKENIZERS_PARALLELISM', 'false')
    if a.cmd == 'prepare':
        return prepare(work)  # from $SALAD_HOME's assets
    os.environ.setdefault('SALAD_HOME', str(work / 'home'))
    a.work, a.run_dir = str(work), a.out
    return run(a) if a.cmd == 'run' else child(a)


if __name__ == '__main__':
    main()
