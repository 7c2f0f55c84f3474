"""SNR estimate on continuous sounds (no pauses) of known SNR, noise alone, and cost."""
from __future__ import annotations


import numpy as np
import pytest

from data_prep.snr import NOISE_BIAS, estimate_snr_db
from tests.helpers.media import add_noise

RATE = 16000
LEVELS = [0, 5, 15, 25, 30]


def steady_tone(seconds: float) -> np.ndarray:
    t = np.arange(int(seconds * RATE)) / RATE
    return 0.3 * np.sin(2 * np.pi * 440 * t)


def slow_chord(seconds: float) -> np.ndarray:
    """C-E-G chord under a slow 0.5 Hz envelope (0.2..1.0): loudness varies but never pauses."""
    t = np.arange(int(seconds * RATE)) / RATE
    env = 0.6 + 0.4 * np.sin(2 * np.pi * 0.5 * t)
    return env * sum(0.15 * np.sin(2 * np.pi * f * t + ph) for f, ph in ((261.63, 0), (329.63, 1), (392.0, 2)))


def coloured_noise(seconds: float, slope: float, seed: int = 0) -> np.ndarray:
    """Gaussian noise with amplitude spectrum ~ f**-slope (0 white, 0.5 pink, 1 brown), floor at 20 Hz."""
    white = np.random.default_rng(seed).normal(0.0, 0.1, int(seconds * RATE))
    f = np.fft.rfftfreq(len(white), 1 / RATE)
    x = np.fft.irfft(np.fft.rfft(white) / np.maximum(f, 20.0) ** slope, len(white))
    return x * 0.1 / x.std()


@pytest.mark.parametrize("make", [steady_tone, slow_chord])
@pytest.mark.parametrize("seconds", [3.0, 10.0])
@pytest.mark.parametrize("true_db", LEVELS)
def test_continuous_within_1_5_db_and_classified(make, seconds, true_db):
    sig = make(seconds)
    est = estimate_snr_db(add_noise(sig, np.ones(len(sig), bool), true_db, seed=true_db), RATE)
    assert abs(est - true_db) <= 1.5, est
    assert (est > 10) == (true_db > 10)  # the paper's filter decides correctly


@pytest.mark.parametrize("slope", [0.0, 0.5, 1.0])
@pytest.mark.parametrize("seconds", [1.5, 10.0])
def test_noise_alone_is_low(slope, seconds):
    est = estimate_snr_db(coloured_noise(seconds, slope), RATE)
    assert est < (0 if slope < 1 else 10), est  # brown noise reads higher (see data_prep.snr), still rejected


def test_silence_and_quiet_noise():
    assert estimate_snr_db(np.zeros(10 * RATE), RATE) == float("-inf")
    assert estimate_snr_db(np.full(10 * RATE, 1e-6), RATE) == float("-inf")  # below -90 dBFS


def test_noise_bias_matches_white_noise():
    """NOISE_BIAS turns the 20th percentile into the mean: a pure-noise clip's
    signal power then comes out near zero (SNR far below 0 dB rather than ~+3 dB)."""
    assert 1.5 < NOISE_BIAS < 2.0
    for seed in range(3):
        x = np.random.default_rng(seed).normal(0, 0.05, 10 * RATE)
        assert estimate_snr_db(x, RATE) < -5
