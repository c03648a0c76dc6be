"""The paper presets offline: each is the paper's recipe in every switch it has (the README's difference table lists
what has none), and its data build, Stage I, Stage II and evaluation run end to end with random-init stand-ins of
the same architectures at reduced width (a Qwen2 LLM, a Mimi encoder, the Transformer adapter) and local stand-ins
for the hub corpora (LibriHeavy and Emilia-YODAS mirrors of real recordings)."""
import json
from pathlib import Path
import pytest, torch
from safetensors.torch import load_file
import salad.audio, salad.data, salad.stage1, salad.stage2, salad.evaluate, salad.assets
from salad.assets import load_llm
from salad.config import get_config
from salad.corpora import CORPORA, write_emilia_mirror, write_libriheavy_mirror
from salad.runs import read_jsonl

PAPER = {'paper-3b': ('Qwen/Qwen2.5-3B', 1e-3, 5e-5), 'paper-7b': ('Qwen/Qwen2.5-7B', 1e-4, 5e-6)}


@pytest.mark.parametrize('name', list(PAPER))
def test_paper_preset_is_the_papers_recipe(name):
    c, (llm, lr_adapter, lr_llm) = get_config(name), PAPER[name]
    m, t, s2 = c.model, c.train, c.stage2
    assert (m.llm, m.encoder, m.adapter) == (llm, 'kyutai/mimi', 'transformer')
    assert (m.llm_training, m.adapter_norm) == ('full', False)
    assert (m.adapter_dim, m.adapter_layers, m.adapter_heads) == (960, 12, 15)
    assert (m.adapter_kv_heads, m.adapter_mlp) == (5, 2560)
    assert (t.lr_adapter, t.lr_llm) == (lr_adapter, lr_llm)
    assert (t.weight_decay, t.warmup_steps, t.decay_fraction) == (0.1, 500, 0.2)
    assert (t.alpha, t.teacher_topk, t.align_steps, t.span_window, t.mixed_precision) == (1.0, 0, 0, 0, 'bf16')
    assert t.seq_len == 2048 and t.batch_size * t.seq_len * t.grad_accum * 8 == 2**20  # ~1M positions a step, 8 GPUs
    assert t.steps * 2**20 == pytest.approx(24e9, rel=0.05) and s2.steps * 2**20 == pytest.approx(1.9e9, rel=0.05)
    assert (t.activation_checkpointing, t.loss_chunk, m.hub_kernels) == (True, 1024, False)  # fits 80 GB, offline
    assert (s2.gamma, s2.clusters, s2.embedder, s2.voices) == (5.0, 128, 'BAAI/bge-large-en-v1.5', ['kokoro:af_heart'])
    assert s2.budget == pytest.approx(0.01 * 141_612 * 3600)  # 1% of the natural speech
    assert (s2.restart, s2.lr_decay) == ('continue', 'linear')  # the pre-decay AdamW state, LR from the peak to 0
    assert c.data.few_shot == 5 and c.eval.max_tokens == 2048 and c.eval.metric == 'acc_norm'
    assert c.data.items_per_task == 0 and c.data.stage1_source == 'libriheavy+emilia-yodas-en'  # streamed
    hubs = (CORPORA['libriheavy'].hub, CORPORA['emilia-yodas-en'].hub)
    assert hubs == ('pkufool/libriheavy', 'amphion/Emilia-Dataset')
    assert CORPORA['emilia-yodas-en'].files == 'Emilia-YODAS/EN/*.tar' and c.data.stage1_passages == 0  # all of it
    assert sum(x.hours for x in CORPORA.values()) == 141_612
    assert c.data.tasks == ['storycloze', 'mmsu', 'openbookqa', 'hellaswag', 'arc_challenge', 'piqa']  # the paper's six
    assert c.data.interleave == 'words'  # 5-15-word speech spans cut at word boundaries, 10-30-word text spans
    assert c.data.pool_sources == ['HuggingFaceFW/fineweb-edu:sample-10BT:train']
    assert (c.data.pool_tokens, c.data.pool_docs) == (10_000_000_000, 0)  # the paper's 10B tokens
    assert c.eval.asr == 'openai/whisper-large-v3'


def _stand_in_llm(out: Path) -> str:
    "A random-init Qwen2 (the Qwen2.5 architecture: GQA, tied embeddings, QKV bias) at width 64, a real tokenizer."
    from transformers import Qwen2Config, Qwen2ForCausalLM
    _, tok = load_llm('smollm2-135m')
    cfg = Qwen2Config(vocab_size=len(tok), hidden_size=64, intermediate_size=128, num_hidden_layers=2,
                      num_attention_heads=4, num_key_value_heads=2, tie_word_embeddings=True,
                      max_position_embeddings=4096, bos_token_id=tok.bos_token_id, eos_token_id=tok.eos_token_id)
    torch.manual_seed(0)
    Qwen2ForCausalLM(cfg).save_pretrained(out)
    tok.save_pretrained(out)
    return str(out)


def _stand_in_mimi(out: Path) -> str:
    "A random-init Mimi (the paper's encoder architecture: conv encoder + Transformer, 12.5 frames/s) at width 32."
    from transformers import MimiConfig, MimiModel
    torch.manual_seed(0)
    MimiModel(MimiConfig(hidden_size=32, num_filters=4, num_hidden_layers=2, num_attention_heads=4,
                         num_key_value_heads=4, head_dim=8, intermediate_size=64, codebook_dim=32, codebook_size=64,
                         num_quantizers=4, vector_quantization_hidden_dimension=32,
                         upsample_groups=32)).save_pretrained(out)
    return str(out)


def _stand_in_corpora(root: Path) -> tuple:
    "(data.corpus_sources, broad pool): LibriHeavy and Emilia mirrors of real recordings, a JSON-lines text corpus."
    nat = salad.data.natural_speech().select(range(40))  # real human recordings (Asterisk prompts)
    utts = [(salad.audio.load_audio(a), t) for a, t in zip(nat['audio'], nat['text'])]
    sources = {**write_libriheavy_mirror([utts[:10], utts[10:20]], root / 'lh'),
               **write_emilia_mirror([utts[20:30], utts[30:]], root / 'em')}
    pool = salad.data.broad_text_pool(sources=['sciq', 'qasper'])['text'][:400]
    (root / 'edu.jsonl').write_text(''.join(json.dumps(dict(text=t)) + '\n' for t in pool))
    return sources, str(root / 'edu.jsonl')


@pytest.mark.slow
@pytest.mark.parametrize('name', ['paper-3b'])
def test_paper_preset_runs_with_random_init_stand_ins(name, tmp_path):
    "Every paper switch stays on; only names (hub models, corpora, voices) and sizes are swapped for offline ones."
    speech, pool = _stand_in_corpora(tmp_path)
    cfg = get_config(name, {
        'model': dict(llm=_stand_in_llm(tmp_path / 'llm'), encoder=_stand_in_mimi(tmp_path / 'mimi'), adapter_dim=32,
                      adapter_layers=2, adapter_heads=4, adapter_kv_heads=2, adapter_mlp=64),
        'data': dict(corpus_sources=speech, pool_sources=[pool], pool_docs=300, eval_voice='flite:slt',
                     tasks=['arc_easy'], items_per_task=2, workers=1),
        'train': dict(steps=4, batch_size=2, grad_accum=2, warmup_steps=1, checkpoint_every=2, eval_every=2,
                      probe_examples=2, log_every=1),
        'stage2': dict(embedder='minilm', clusters=3, probe_per_cluster=2, budget=4, budget_unit='texts',
                       voices=['flite:kal'], max_cer=1.0, steps=2, warmup_steps=1),
        'eval': dict(asr='whisper-tiny.en', probe_passages=4, batch_size=2, bootstrap=50),
    })
    data, s1, s2 = tmp_path / 'data', tmp_path / 'stage1', tmp_path / 'stage2'
    summary = salad.data.build_data(cfg, data, progress=False)
    assert summary['stage1']['corpora'] == ['libriheavy', 'emilia-yodas-en'] and summary['pool']['sources'][pool] > 0
    assert summary['stage1']['utterances'] == 40  # every utterance of both mirrors (stage1_passages=0: all)
    rows = salad.data.load_data(data, 'stage1')
    heard = [a for r in rows for k, a in zip(r['span_kinds'], r['span_audio']) if k == 'speech']
    assert heard and all(Path(a).parent.parent.name == 'spans' for a in heard)  # cut at word boundaries
    bench = salad.data.load_data(data, 'benchmarks/arc_easy')
    assert all(f.count('Question:') == 5 for f in bench['fewshot'])  # five shots before each item

    res1 = salad.stage1.stage1(cfg, s1, data, progress=False)
    assert not (s1 / 'align').exists() and res1['step'] == 4  # no CTC pre-alignment
    trained = load_file(s1 / 'final' / 'trainable.safetensors')
    assert any(k.startswith('adapter.body.layers.1.self_attn.') for k in trained)  # the Transformer adapter
    llm0 = load_file(Path(cfg.model.llm) / 'model.safetensors')
    k = 'model.layers.0.mlp.up_proj.weight'
    assert not torch.equal(trained['llm.' + k], llm0[k])  # the full LLM was trained (no LoRA, not frozen)
    assert not (salad.assets.salad_home() / 'teacher' / Path(cfg.model.llm).name).exists()  # the live teacher
    log = read_jsonl(s1 / 'log.jsonl')
    assert len(log) == 4 and all(r['lr'] >= 0 for r in log)

    res2 = salad.stage2.stage2(cfg, s2, s1, data, progress=False)
    assert res2['selected_texts'] == 4 and len(res2['clusters']) == 3

    rep = salad.evaluate.evaluate_target(cfg, s2, tmp_path / 'eval', progress=False)
    assert set(rep['readings']) == {'text_original', 'text_adapted', 'speech@flite:slt', 'cascade@flite:slt'}
    assert rep['tasks']['arc_easy']['speech@flite:slt']['n'] == 2 and rep['probe']['passages'] == 4
    assert (rep['target']['adapter'], rep['target']['llm_training']) == ('transformer', 'full')
