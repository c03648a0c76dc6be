"Real offline models beyond the notebooks' checks: the second LLM, the small Whisper, the papermill path."
import json, shutil, subprocess, sys
from pathlib import Path
import numpy as np, pytest, torch
from salad.assets import load_llm, load_whisper, resolve
from salad.audio import load_audio, transcribe
from salad.synthesis import synthesize, list_voices
from salad.metrics import word_error_rate

ROOT = Path(__file__).resolve().parents[1]
SENTENCE = 'The quick brown fox jumps over the lazy dog near the river bank.'

@pytest.mark.slow
def test_gemma3_270m_loads_and_prefers_paris():
    model, tok = load_llm('gemma3-270m')
    assert model.config.model_type.startswith('gemma3')
    assert 260e6 < sum(p.numel() for p in model.parameters()) < 280e6
    # a base model may continue with " the capital of…"; what it must know is that Paris is far likelier
    ids = tok('The capital of France is', return_tensors='pt')
    with torch.no_grad(): logp = model(**ids).logits[0, -1].log_softmax(-1)
    score = {w: logp[tok(w, add_special_tokens=False).input_ids[0]].item() for w in (' Paris', ' London', ' Berlin', ' Rome')}
    print(score)
    assert max(score, key=score.get) == ' Paris' and score[' Paris'] - score[' London'] > 2

@pytest.mark.slow
def test_whisper_tiny_en_transcribes():
    model, proc = load_whisper('whisper-tiny.en')
    assert model.config.vocab_size == 51864  # English-only
    voice = 'piper:joe' if 'piper:joe' in list_voices() else list_voices()[0]
    hyp, = transcribe(model, proc, [synthesize(SENTENCE, voice)])
    print(voice, repr(hyp))
    assert word_error_rate(SENTENCE, hyp) <= 0.25

@pytest.mark.slow
def test_smoke_notebook_runs_under_papermill(tmp_path):
    voice = 'flite:slt' if 'flite:slt' in list_voices() else list_voices()[0]
    out = tmp_path/'out.ipynb'
    r = subprocess.run([sys.executable, '-m', 'papermill', str(ROOT/'nbs/experiments/smoke.ipynb'), str(out), '-k', 'python3',
                        '-p', 'voice', voice, '-p', 'out_dir', str(tmp_path/'run'), '--cwd', str(ROOT/'nbs/experiments')],
                       capture_output=True, text=True)
    assert r.returncode == 0, r.stderr[-3000:]
    m = json.loads((tmp_path/'run'/'metrics.json').read_text())
    assert m['voice'] == voice and m['wer'] <= 0.25 and 'Paris' in m['continuation']

@pytest.mark.slow
def test_build_data_notebook_runs_under_papermill(tmp_path):
    out = tmp_path/'out.ipynb'
    r = subprocess.run([sys.executable, '-m', 'papermill', str(ROOT/'nbs/experiments/build_data.ipynb'), str(out), '-k', 'python3',
                        '-p', 'preset', 'tiny', '-p', 'out_dir', str(tmp_path/'data'), '--cwd', str(ROOT/'nbs/experiments')],
                       capture_output=True, text=True)
    assert r.returncode == 0, r.stderr[-3000:]
    s = json.loads((tmp_path/'data'/'summary.json').read_text())
    assert s['stage1']['examples'] == 10 and s['benchmarks'] == {'arc_easy': 2, 'piqa': 2}

@pytest.mark.slow
def test_stage1_notebook_runs_under_papermill(tmp_path):
    out = tmp_path/'out.ipynb'
    r = subprocess.run([sys.executable, '-m', 'papermill', str(ROOT/'nbs/experiments/stage1.ipynb'), str(out), '-k', 'python3',
                        '-p', 'preset', 'tiny', '-p', 'run_dir', str(tmp_path/'run'),
                        '-y', 'overrides: [train.teacher_topk=8, train.align_steps=4, train.align_batch=2]',
                        '--cwd', str(ROOT/'nbs/experiments')],
                       capture_output=True, text=True)
    assert r.returncode == 0, r.stderr[-3000:]
    m = json.loads((tmp_path/'run'/'metrics.json').read_text())
    assert m['step'] == 6 and m['M_before'] > 0 and 'M_next_before' in m and 'M_next_ratio' in m
    assert m['probe_examples'] == 2 and m['M'] != m['M_mismatched']  # the control hears another passage's speech
    assert m['teacher_cache_hits'] + m['teacher_cache_misses'] == 6 * 2  # every batch's KD read the teacher's top-8 cache
    assert m['align_steps'] == 4 and m['M_aligned'] > 0 and 'M_next_aligned' in m and (tmp_path/'run'/'align'/'model').exists()
    assert (tmp_path/'run'/'stage1.png').exists() and (tmp_path/'run'/'final'/'trainable.safetensors').exists()
    # Stage II (active arm) continues it through its own notebook
    r = subprocess.run([sys.executable, '-m', 'papermill', str(ROOT/'nbs/experiments/stage2.ipynb'), str(tmp_path/'s2.ipynb'),
                        '-k', 'python3', '-p', 'preset', 'tiny', '-p', 'stage1_dir', str(tmp_path/'run'),
                        '-p', 'run_dir', str(tmp_path/'s2'), '--cwd', str(ROOT/'nbs/experiments')], capture_output=True, text=True)
    assert r.returncode == 0, r.stderr[-3000:]
    m2 = json.loads((tmp_path/'s2'/'metrics.json').read_text())
    assert m2['selected_texts'] == 4 and m2['start_checkpoint'] == 'step-000005' and len(m2['clusters']) == 3
    assert (tmp_path/'s2'/'selection.png').exists() and (tmp_path/'s2'/'cluster_m.png').exists()
    # the trained tiny run and the untrained base, evaluated side by side through the evaluation notebook
    ev = tmp_path/'eval'
    r = subprocess.run([sys.executable, '-m', 'papermill', str(ROOT/'nbs/experiments/evaluate.ipynb'), str(tmp_path/'ev.ipynb'), '-k', 'python3',
                        '-p', 'preset', 'tiny', '-y', f"targets: [base, '{tmp_path/'run'}']", '-p', 'out_dir', str(ev),
                        '--cwd', str(ROOT/'nbs/experiments')], capture_output=True, text=True)
    assert r.returncode == 0, r.stderr[-3000:]
    trained, = [p for p in ev.iterdir() if p.is_dir() and p.name not in ('base',)]
    rep = json.loads((trained/'report.json').read_text())
    assert rep['target']['model'].endswith('final') and rep['probe']['M'] > 0
    assert set(rep['average']) == {'text_original', 'text_adapted', 'speech@flite:slt', 'cascade@flite:slt', 'gap@flite:slt'}
    assert '| base |' in (ev/'comparison.md').read_text() and (ev/'m_vs_speech.png').exists()

def _ct2_folder(name, tmp):
    "The CTranslate2 files of a Whisper asset as one folder the CTranslate2 runtime can load."
    from salad.assets import REGISTRY
    if name == 'whisper-tiny.en': return REGISTRY[name].source_dirs()[0]/'model'
    p1, p2 = REGISTRY[name].source_dirs()
    with open(tmp/'model.bin', 'wb') as f:
        for part in (p1/'data'/'model.bin.part1', p2/'data'/'model.bin.part2'): f.write(part.read_bytes())
    for n in ('config.json', 'tokenizer.json', 'vocabulary.json'): shutil.copy(p2/'data'/n, tmp/n)
    return tmp

@pytest.mark.slow
@pytest.mark.parametrize('name', ['whisper-tiny.en', 'whisper-base'])
def test_converted_whisper_matches_the_ctranslate2_runtime(name, tmp_path):
    "An independent reference: the CTranslate2 runtime itself on the shipped files, against our HF conversion."
    import ctranslate2
    from salad.audio import log_mel
    from salad.data import natural_speech
    nat = natural_speech()
    clip = max(nat.select(range(min(60, len(nat)))), key=lambda r: len(r['text'])) if len(nat) else None  # natural speech
    wav = load_audio(clip['audio']) if clip else synthesize(SENTENCE, list_voices()[0])
    ct = ctranslate2.models.Whisper(str(_ct2_folder(name, tmp_path)), device='cpu', compute_type='float32')
    hf, proc = load_whisper(name)
    mel = log_mel(wav, hf.config.num_mel_bins)[None].numpy()
    feats = ctranslate2.StorageView.from_array(mel)
    with torch.no_grad(): enc = hf.model.encoder(torch.from_numpy(mel)).last_hidden_state.numpy()
    assert np.abs(np.array(ct.encode(feats, to_cpu=True)) - enc).max() < 2e-3  # the encoder
    tok = proc.tokenizer
    lang = [] if name.endswith('.en') else ['<|en|>', '<|transcribe|>']
    prompt = tok.convert_tokens_to_ids(['<|startoftranscript|>', *lang, '<|notimestamps|>'])
    r, = ct.generate(feats, [prompt], beam_size=1, return_scores=True, length_penalty=0, suppress_tokens=[], suppress_blank=False)
    seq = r.sequences_ids[0]
    ids = torch.tensor([prompt + seq + [tok.eos_token_id]])
    with torch.no_grad(): logp = hf(input_features=torch.from_numpy(mel), decoder_input_ids=ids[:, :-1]).logits.log_softmax(-1)
    ours = logp[0, len(prompt) - 1:].gather(-1, ids[0, len(prompt):, None]).sum().item()
    assert abs(ours - r.scores[0]) < 5e-3, (ours, r.scores[0])  # the decoder: the same log-prob for the same tokens
    hyp, = transcribe(hf, proc, [wav])
    print(name, repr(hyp), ours, r.scores[0])
    assert hyp == tok.decode(seq, skip_special_tokens=True).strip()  # and the same greedy transcript

@pytest.mark.slow
def test_ct2_cascade_transcribes_natural_speech_as_well_as_transformers():
    "The cascade's default ASR (CTranslate2 int8) on real human recordings, against the transformers path."
    from salad.assets import load_asr
    from salad.data import natural_speech
    nat = natural_speech()
    if len(nat) < 16:
        pytest.skip('the natural-speech recordings (asterisk, pocketsphinx) are not installed')
    rows = nat.shuffle(seed=0).select(range(16)).to_list()
    wavs, refs = [load_audio(r['audio']) for r in rows], [r['text'] for r in rows]
    wer = {b: word_error_rate(refs, transcribe(*load_asr('whisper-base', b), wavs)) for b in ('ct2', 'hf')}
    print(wer)
    assert wer["ct2"] <= 0.20  # measured 0.119 (both backends) on these 16 clips
    assert abs(wer['ct2'] - wer['hf']) <= 0.03
