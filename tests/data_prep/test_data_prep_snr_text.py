"""SNR estimate on clips of known SNR; question rewrite; annotation checks."""
from __future__ import annotations

import numpy as np
import pytest
import soxr

from audio_thinker.rows import USER_TEMPLATE, build_user_text
from data_prep.avqa import BadAnnotation, parse_record, wav_name
from data_prep.snr import estimate_snr_db, frame_powers
from data_prep.text import rewrite_question
from tests.helpers.media import ESPEAK, add_noise, speech, tone_bursts

RATE = 16000


@pytest.mark.parametrize("true_db", [0, 5, 15, 25, 40])
@pytest.mark.parametrize("seed", [0, 1])
def test_tone_bursts_within_2_db(true_db, seed):
    sig, on = tone_bursts(RATE, 3.0, freq=330 + 110 * seed)
    est = estimate_snr_db(add_noise(sig, on, true_db, seed=seed), RATE)
    assert abs(est - true_db) <= 2.0, est
    assert (est > 10) == (true_db > 10)  # the paper's filter decides correctly


@pytest.fixture(scope="module")
def espeak_with_pauses(tmp_path_factory):
    if ESPEAK is None:
        pytest.skip("espeak-ng not installed")
    voice, rate = speech("The quick brown fox jumps over the lazy dog. A boat sails on the river.",
                         tmp_path_factory.mktemp("sp") / "s.wav")
    voice = soxr.resample(voice, rate, RATE)
    gap = np.zeros(int(0.8 * RATE))
    clean = np.concatenate([gap, voice[: 2 * RATE], gap, voice[2 * RATE:], gap])
    # "active" = frames within 30 dB of the loudest clean frame
    active = np.zeros(len(clean), bool)
    for i, loud in enumerate(frame_powers(clean, RATE) > frame_powers(clean, RATE).max() * 1e-3):
        active[i * 160: i * 160 + 400] |= loud
    return clean, active


@pytest.mark.parametrize("true_db", [0, 5, 15, 25])
def test_speech_within_4_5_db_and_classified(espeak_with_pauses, true_db):
    clean, active = espeak_with_pauses
    est = estimate_snr_db(add_noise(clean, active, true_db, seed=true_db), RATE)
    assert abs(est - true_db) <= 4.5, est
    assert (est > 10) == (true_db > 10)


@pytest.mark.parametrize("signal,expect", [
    (np.zeros(3 * RATE), float("-inf")),                                          # digital silence
    (np.random.default_rng(0).normal(0, 0.1, 3 * RATE), "low"),                 # steady noise only
    (0.3 * np.sin(2 * np.pi * 440 * np.arange(3 * RATE) / RATE), "high"),       # clean steady tone: no pauses
    (np.concatenate([np.zeros(RATE), 0.3 * np.sin(np.arange(RATE))]), "high"),  # clean event after silence
    (np.zeros(100), float("-inf")),                                             # shorter than a frame
])
def test_edge_signals(signal, expect):
    est = estimate_snr_db(signal, RATE)
    if expect == "low":
        assert est < 0
    elif expect == "high":
        assert est > 60
    else:
        assert est == expect


@pytest.mark.parametrize("question,expected", [
    ("What happened in the video?", "What happened in the audio?"),
    ("Video shows what?", "Audio shows what?"),                      # capitalised
    ("IN THE VIDEO", "IN THE AUDIO"),                                # all caps
    ("How many frames contain a dog?", "How many segments contain a dog?"),  # plural
    ("Across the videos", "Across the audios"),                      # plural, as R1-AQA's replace
    ("the video's last frame", "the audio's last segment"),          # possessive
    ("videotape framework videos3", "videotape framework videos3"),  # not whole words
    ("frame-by-frame", "segment-by-segment"),                        # hyphen is a word boundary
])
def test_rewrite_question(question, expected):
    assert rewrite_question(question) == expected


def test_user_text_is_r1_aqa_without_format_instruction():
    text = build_user_text(" What is it? ", ["a boat", "Man's car"])
    assert text == ("<audio>What is it? Please choose the answer from the following options: "
                    "['a boat', \"Man's car\"].")
    assert "<answer>" not in USER_TEMPLATE and USER_TEMPLATE.startswith("<audio>")


GOOD = {"id": 1, "video_name": "x", "question_text": "q", "multi_choice": ["a", "b"], "answer": 1}


@pytest.mark.parametrize("change,ok", [
    ({}, True),
    ({"answer": "1"}, True),                  # digits as a string: AVQA dumps vary
    ({"id": "abc"}, True),
    ({"answer": 2}, False),                   # out of range
    ({"answer": -1}, False),
    ({"answer": True}, False),                # a bool is not an index
    ({"multi_choice": ["a"]}, False),         # one choice
    ({"multi_choice": ["a", ""]}, False),     # empty choice
    ({"multi_choice": "a,b"}, False),         # not a list
    ({"question_text": "  "}, False),
    ({"video_name": "a/b"}, False),           # a path, not a name
    ({"video_name": ""}, False),
    ({"id": None}, False),
])
def test_parse_record(change, ok):
    rec = {**GOOD, **change}
    if ok:
        assert parse_record(rec)["answer"] == int(rec["answer"])
    else:
        with pytest.raises(BadAnnotation):
            parse_record(rec)


@pytest.mark.parametrize("name,expected", [
    ("-HG3Omg_89c_000030", "-HG3Omg_89c_000030.wav"),
    ("clip.mp4", "clip.wav"),
])
def test_wav_name_plain(name, expected):
    assert wav_name(name) == expected


def test_wav_name_sanitises_and_stays_unique():
    a, b = wav_name("a b"), wav_name("a_b")
    assert a != b and a.startswith("a_b_") and a.isascii()
    assert wav_name("café") != wav_name("cafe") and not wav_name(".hidden").startswith(".")
