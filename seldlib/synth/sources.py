"""Dry, mono sound sources for the 13 DCASE classes.

Two banks share one interface, ``bank.draw(cls, rng, max_seconds) -> (T,) float32`` at 24 kHz,
peak-normalised to 1 (as SpatialScaper does on load):

* :class:`ProceduralBank`: offline default. Every call draws fresh random parameters from ``rng``
  (durations, pitches, formant targets, rhythms, timbre variants), so no two events are alike and a
  model has to learn spectro-temporal patterns, not a single frequency (``docs/spatial-scenes.md#sound-sources``).
* :class:`FolderBank`: the real path, a SpatialScaper/FSD50K tree ``<root>/<classFolder>/<split>/**``
  (SpatialScaper's class folder names, ``scripts/prepare_fsd50k_fma.py``), as the ``prepare_sources``
  stage writes it at 24 kHz (docs/real-data.md#the-source-tree). A uniform file is drawn and its first
  ``max_seconds`` used.

Leading and trailing near-silence is trimmed from every source, so the labelled span (the whole dry
signal) starts and ends with sound.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np
from scipy.signal import butter, sosfilt

from seldlib.constants import N_CLASSES, SAMPLE_RATE
from seldlib.errors import SeldInputError

SR = SAMPLE_RATE
FOLDER_NAMES: tuple[str, ...] = (
    "femaleSpeech", "maleSpeech", "clapping", "telephone", "laughter", "domesticSounds", "footsteps",
    "doorCupboard", "music", "musicInstrument", "waterTap", "bell", "knock",
)
AUDIO_EXTENSIONS = (".wav", ".flac", ".ogg", ".mp3", ".aiff", ".aif")

# Duration range (seconds) per class for procedural events.
DURATIONS: tuple[tuple[float, float], ...] = (
    (1.0, 4.0), (1.0, 4.0), (0.8, 3.0), (1.5, 4.0), (0.8, 3.0), (1.5, 4.0), (1.5, 4.0),
    (0.8, 2.5), (2.0, 4.5), (1.0, 4.0), (1.5, 4.0), (1.0, 3.5), (0.4, 1.5),
)


# ----------------------------------------------------------------------------------------------
# small DSP helpers


def _bandpass(x: np.ndarray, lo: float, hi: float, order: int = 2) -> np.ndarray:
    hi = min(hi, 0.45 * SR)
    lo = max(lo, 20.0)
    return sosfilt(butter(order, [lo, hi], btype="band", fs=SR, output="sos"), x)


def _lowpass(x: np.ndarray, fc: float, order: int = 2) -> np.ndarray:
    return sosfilt(butter(order, min(fc, 0.45 * SR), btype="low", fs=SR, output="sos"), x)


def _highpass(x: np.ndarray, fc: float, order: int = 2) -> np.ndarray:
    return sosfilt(butter(order, fc, btype="high", fs=SR, output="sos"), x)


def _resonance(x: np.ndarray, fc: float, q: float) -> np.ndarray:
    bw = fc / q
    return _bandpass(x, fc - bw / 2, fc + bw / 2, order=1)


def _decay(n: int, tau_s: float) -> np.ndarray:
    return np.exp(-np.arange(n) / (tau_s * SR))


def _add(out: np.ndarray, x: np.ndarray, start: int) -> None:
    """Add ``x`` into ``out`` at ``start``, clipped to ``out``'s bounds."""
    if start >= len(out) or start + len(x) <= 0:
        return
    a, b = max(start, 0), min(start + len(x), len(out))
    out[a:b] += x[a - start:b - start]


def _harmonic(f0: np.ndarray, n_harm: int, tilt: float, rng: np.random.Generator) -> np.ndarray:
    """Band-limited harmonic tone following the f0 contour ``f0`` (T,) Hz; harmonic k has gain k^-tilt."""
    phase = 2 * np.pi * np.cumsum(f0) / SR + rng.uniform(0, 2 * np.pi)
    out = np.zeros_like(f0)
    for k in range(1, n_harm + 1):
        alive = (k * f0) < 0.45 * SR
        if not alive.any():
            break
        out += alive * np.sin(k * phase) * k ** (-tilt)
    return out


def _adsr(n: int, attack: float, release: float) -> np.ndarray:
    env = np.ones(n)
    na, nr = max(1, min(n // 2, int(attack * SR))), max(1, min(n // 2, int(release * SR)))
    env[:na] = np.linspace(0, 1, na)
    env[-nr:] *= np.linspace(1, 0, nr)
    return env


def _smooth_random(n: int, rate_hz: float, rng: np.random.Generator) -> np.ndarray:
    """A smooth random contour (T,) around 0 with std ~1, varying at about ``rate_hz``."""
    n_knots = max(2, int(n / SR * rate_hz) + 2)
    knots = rng.standard_normal(n_knots)
    return np.interp(np.linspace(0, n_knots - 1, n), np.arange(n_knots), knots)


# ----------------------------------------------------------------------------------------------
# class recipes: each takes (rng, n_samples) and returns (n_samples,) float64

_VOWELS = np.array([  # F1, F2, F3 (Hz), adult female-ish; male scales by 0.85
    [850, 1610, 2900], [390, 2300, 3000], [310, 2790, 3300], [610, 1900, 2900], [590, 880, 2700],
    [450, 1030, 2600], [370, 950, 2650], [700, 1220, 2600], [500, 1500, 2500],
])


def _voice(rng: np.random.Generator, n: int, male: bool) -> np.ndarray:
    f_base = rng.uniform(85, 150) if male else rng.uniform(175, 265)
    scale = 0.85 if male else 1.0
    out = np.zeros(n)
    pos = int(rng.uniform(0, 0.05) * SR)
    phrase_start = pos
    while pos < n:
        syl = int(rng.uniform(0.11, 0.26) * SR)
        seg = min(syl, n - pos)
        if seg < int(0.03 * SR):
            break
        t_phrase = (pos - phrase_start) / SR
        # intonation: declination over the phrase, a random accent and 5 Hz vibrato/jitter
        f0 = f_base * (1.15 - 0.08 * t_phrase) * (1 + rng.uniform(-0.12, 0.15))
        glide = np.linspace(1 + rng.uniform(-0.1, 0.1), 1 + rng.uniform(-0.1, 0.1), seg)
        vib = 1 + 0.015 * np.sin(2 * np.pi * rng.uniform(4, 6) * np.arange(seg) / SR) + 0.01 * _smooth_random(seg, 30, rng)
        src = _harmonic(f0 * glide * vib, 40, 1.0, rng)
        src += 0.1 * rng.standard_normal(seg) * np.abs(src).mean() * 3  # breath
        formants = _VOWELS[rng.integers(len(_VOWELS))] * scale * rng.uniform(0.92, 1.08, 3)
        voiced = sum(g * _resonance(src, f, q) for f, q, g in zip(formants, (6, 10, 12), (1.0, 0.6, 0.3)))
        voiced *= np.sin(np.pi * np.linspace(0, 1, seg)) ** 0.7
        if rng.random() < 0.4:  # a fricative/plosive consonant at the syllable start
            nc = min(seg, int(rng.uniform(0.02, 0.07) * SR))
            fr = _bandpass(rng.standard_normal(nc), rng.uniform(2500, 4000), rng.uniform(5500, 9000))
            voiced[:nc] += fr * np.hanning(nc) * np.abs(voiced).max() * rng.uniform(0.2, 0.5)
        _add(out, voiced, pos)
        pos += seg
        if rng.random() < 0.22:  # word/phrase pause
            pos += int(rng.uniform(0.12, 0.45) * SR)
            if rng.random() < 0.4:
                phrase_start = pos
    return out


def _female(rng: np.random.Generator, n: int) -> np.ndarray:
    return _voice(rng, n, male=False)


def _male(rng: np.random.Generator, n: int) -> np.ndarray:
    return _voice(rng, n, male=True)


def _clapping(rng: np.random.Generator, n: int) -> np.ndarray:
    out = np.zeros(n)
    n_clappers = 1 if rng.random() < 0.7 else int(rng.integers(2, 5))
    for _ in range(n_clappers):
        rate = rng.uniform(2.0, 6.0)
        centre = rng.uniform(900, 2800)
        t = rng.uniform(0, 0.05)
        while t * SR < n:
            nc = int(rng.uniform(0.005, 0.015) * SR) + int(0.03 * SR)
            burst = _bandpass(rng.standard_normal(nc), centre * rng.uniform(0.6, 0.8), centre * rng.uniform(1.3, 2.0))
            burst *= _decay(nc, rng.uniform(0.004, 0.012)) * rng.uniform(0.6, 1.0)
            _add(out, burst, int(t * SR))
            t += (1 / rate) * rng.uniform(0.85, 1.15)
    return out


def _telephone(rng: np.random.Generator, n: int) -> np.ndarray:
    out = np.zeros(n)
    variant = rng.integers(3)
    t_idx = np.arange(n) / SR
    if variant == 0:  # dual-tone ring (e.g. 440 + 480 Hz), detuned per phone
        f1, f2 = rng.uniform(400, 480), 0.0
        f2 = f1 * rng.uniform(1.07, 1.15)
        tone = np.sin(2 * np.pi * f1 * t_idx) + np.sin(2 * np.pi * f2 * t_idx)
    elif variant == 1:  # electro-mechanical trill: two tones alternating at 16-20 Hz
        fa = rng.uniform(900, 1300)
        fb = fa * rng.uniform(1.12, 1.25)
        gate = (np.sin(2 * np.pi * rng.uniform(16, 20) * t_idx) > 0)
        tone = np.where(gate, np.sin(2 * np.pi * fa * t_idx), np.sin(2 * np.pi * fb * t_idx))
    else:  # ringtone melody of short square-ish notes on a pentatonic scale
        base = rng.uniform(600, 1100)
        scale = np.array([0, 2, 4, 7, 9, 12])
        note_len = int(rng.uniform(0.08, 0.16) * SR)
        pattern = base * 2 ** (scale[rng.integers(len(scale), size=int(rng.integers(4, 9)))] / 12)
        freqs = np.repeat(np.tile(pattern, n // (note_len * len(pattern)) + 1), note_len)[:n]
        tone = np.tanh(3 * np.sin(2 * np.pi * np.cumsum(freqs) / SR))
    tone = np.tanh(rng.uniform(1.0, 2.5) * tone)  # mild distortion of a small loudspeaker
    on, off = rng.uniform(0.8, 2.0), rng.uniform(0.3, 1.2)
    pos = 0
    while pos < n:
        seg = min(int(on * SR), n - pos)
        out[pos:pos + seg] = tone[pos:pos + seg] * _adsr(seg, 0.005, 0.01)
        pos += seg + int(off * SR)
    return out


def _laughter(rng: np.random.Generator, n: int) -> np.ndarray:
    out = np.zeros(n)
    pos = 0
    f_start = rng.uniform(220, 380)
    while pos < n:
        n_bursts = int(rng.integers(3, 9))
        rate = rng.uniform(4.0, 6.0)
        noise_mix = rng.uniform(0.3, 0.5)
        for b in range(n_bursts):
            nb = int(rng.uniform(0.06, 0.12) * SR)
            f0 = f_start * (1 - 0.25 * b / n_bursts) * np.linspace(1.05, 0.95, nb)
            src = _harmonic(f0, 25, 1.2, rng)
            src = (1 - noise_mix) * src / (np.abs(src).max() + 1e-9) + noise_mix * rng.standard_normal(nb) * 0.5
            voiced = _resonance(src, rng.uniform(700, 950), 5) + 0.6 * _resonance(src, rng.uniform(1100, 1500), 8)
            voiced *= np.hanning(nb) * rng.uniform(0.6, 1.0)
            _add(out, voiced, pos)
            pos += int(SR / rate * rng.uniform(0.9, 1.1))
            if pos >= n:
                break
        pos += int(rng.uniform(0.2, 0.6) * SR)
    return out


def _domestic(rng: np.random.Generator, n: int) -> np.ndarray:
    variant = rng.integers(3)
    t = np.arange(n) / SR
    if variant == 0:  # fan / vacuum: motor hum with harmonics + tilted broadband noise, slow AM
        f0 = rng.uniform(60, 200) * (1 + 0.01 * _smooth_random(n, 1, rng))
        hum = _harmonic(f0, int(rng.integers(5, 11)), 0.7, rng)
        noise = _lowpass(rng.standard_normal(n), rng.uniform(1500, 6000))
        x = hum / (np.abs(hum).max() + 1e-9) * rng.uniform(0.3, 0.8) + noise / (np.abs(noise).max() + 1e-9)
        return x * (1 + 0.3 * np.sin(2 * np.pi * rng.uniform(0.2, 1.0) * t))
    if variant == 1:  # boiling: dense random bubbles over low noise
        out = 0.15 * _lowpass(rng.standard_normal(n), 800)
        n_bub = int(n / SR * rng.uniform(30, 80))
        for _ in range(n_bub):
            nb = int(rng.uniform(0.005, 0.02) * SR)
            f = rng.uniform(300, 1500)
            tt = np.arange(nb) / SR
            _add(out, np.sin(2 * np.pi * f * tt * (1 + 3 * tt)) * _decay(nb, 0.004) * rng.uniform(0.3, 1), int(rng.integers(n)))
        return out
    # dish/cutlery clatter: irregular impacts of short inharmonic high partials
    out = np.zeros(n)
    n_hits = int(n / SR * rng.uniform(4, 12))
    for _ in range(n_hits):
        nh = int(0.15 * SR)
        tt = np.arange(nh) / SR
        f = rng.uniform(1500, 5000)
        hit = sum(np.sin(2 * np.pi * f * r * tt) * _decay(nh, rng.uniform(0.01, 0.05)) for r in (1.0, 1.47, 2.09, 2.56))
        hit[: int(0.002 * SR)] += rng.standard_normal(int(0.002 * SR))
        _add(out, hit * rng.uniform(0.2, 1.0), int(rng.integers(n)))
    return out


def _footsteps(rng: np.random.Generator, n: int) -> np.ndarray:
    out = np.zeros(n)
    rate = rng.uniform(1.6, 2.2)
    f_thud = rng.uniform(60, 200)
    hard = rng.uniform(0.2, 1.0)  # floor/shoe hardness: click level and brightness
    t = rng.uniform(0, 0.05)
    k = 0
    while t * SR < n:
        ns = int(0.12 * SR)
        tt = np.arange(ns) / SR
        thud = np.sin(2 * np.pi * f_thud * rng.uniform(0.9, 1.1) * tt) * _decay(ns, rng.uniform(0.02, 0.04))
        nc = int(0.005 * SR)
        click = np.zeros(ns)
        click[:nc] = _bandpass(rng.standard_normal(nc), 800, 1500 + 3000 * hard) * hard * 2
        scuff = _bandpass(rng.standard_normal(ns), 2000, 6000) * _decay(ns, 0.03) * 0.1 * rng.random()
        gain = 10 ** ((2 if k % 2 else -2) / 20) * rng.uniform(0.8, 1.0)
        _add(out, (thud + click + scuff) * gain, int(t * SR))
        t += (1 / rate) * rng.uniform(0.93, 1.07)
        k += 1
    return out


def _door(rng: np.random.Generator, n: int) -> np.ndarray:
    """A door or cupboard opened or closed over the whole ``n`` samples, as in real recordings:
    handle/latch clicks, a hinge creak through the swing, then a slam or a soft latch."""
    out = np.zeros(n)
    cupboard = rng.random() < 1 / 3
    soft = cupboard or rng.random() < 0.4  # a soft close (latch click, light thump) or a slam
    tau = 0.02 if soft else rng.uniform(0.03, 0.08)
    n_close = int(0.25 * SR)
    n_ring = int(4.6 * tau * SR)  # the close is audible until it is 40 dB down
    pos = 0
    if rng.random() < 0.7:  # the handle turns: two latch clicks 40-120 ms apart
        nl = int(0.004 * SR)
        for k in range(2):
            click = _highpass(rng.standard_normal(nl), 2000) * rng.uniform(0.3, 0.6)
            _add(out, click, pos)
            pos += int(rng.uniform(0.04, 0.12) * SR) if k == 0 else nl
    # Hinge creak (stick-slip): a pulse train gliding in rate through hinge resonances, with a
    # swelling level as the swing speeds up and slows down; it fills the time up to the close.
    nc = max(int(0.3 * SR), n - n_ring - pos)
    rate = np.linspace(rng.uniform(30, 60), rng.uniform(120, 220), nc)
    if rng.random() < 0.5:
        rate = rate[::-1]
    rate *= 1 + 0.15 * _smooth_random(nc, 4, rng)
    phase = np.cumsum(rate) / SR
    pulses = np.diff(np.floor(phase), prepend=0.0) * rng.uniform(0.5, 1.0, nc)
    lo, hi = (900, 3000) if cupboard else (400, 2000)
    creak = sum(_resonance(pulses, f, 15) for f in rng.uniform(lo, hi, 3))
    creak *= _adsr(nc, 0.05, 0.05) * (0.5 + 0.5 * np.abs(_smooth_random(nc, 2, rng)))
    _add(out, creak / (np.abs(creak).max() + 1e-9) * rng.uniform(0.4, 0.8), pos)
    pos += nc
    tt = np.arange(n_close) / SR
    if soft:
        nl = int(0.004 * SR)
        close = np.sin(2 * np.pi * rng.uniform(150, 300) * tt) * _decay(n_close, tau) * 0.3
        close[:nl] += _highpass(rng.standard_normal(nl), 2000)
        close *= rng.uniform(0.5, 0.8)
    else:  # the door leaf's low mode and a broadband burst
        close = np.sin(2 * np.pi * rng.uniform(80, 150) * tt) * _decay(n_close, tau)
        close += _lowpass(rng.standard_normal(n_close), rng.uniform(1500, 4000)) * _decay(n_close, 0.01) * 0.8
    _add(out, close, pos)  # what rings on past ``n`` is below -40 dB and cut
    return out


def _music(rng: np.random.Generator, n: int) -> np.ndarray:
    out = np.zeros(n)
    bpm = rng.uniform(90, 130)
    beat = int(60 / bpm * SR)
    key = rng.uniform(130, 260)
    progressions = ([0, 7, 9, 5], [0, 5, 7, 0], [9, 5, 0, 7], [0, 9, 5, 7])
    prog = progressions[rng.integers(len(progressions))]
    bar = 4 * beat
    timbre = rng.uniform(0.8, 2.0)
    drums = rng.random() < 0.7
    for i_bar in range(n // bar + 1):
        root = prog[i_bar % len(prog)]
        minor = root in (9, 2, 4)
        chord = [root, root + (3 if minor else 4), root + 7] + ([root + 12] if rng.random() < 0.5 else [])
        freqs = key * 2 ** (np.array(chord) / 12)
        env = _adsr(bar, 0.02, 0.2) * np.exp(-np.arange(bar) / (bar * 0.8))
        tone = sum(_harmonic(np.full(bar, f * rng.uniform(0.998, 1.002)), 6, timbre, rng) for f in freqs)
        bass = _harmonic(np.full(bar, key * 2 ** (root / 12) / 2), 4, 1.5, rng)
        _add(out, (tone / len(freqs) + 0.6 * bass) * env, i_bar * bar)
        if drums:
            for b in range(4):
                nk = int(0.15 * SR)
                tt = np.arange(nk) / SR
                kick = np.sin(2 * np.pi * np.cumsum(50 + 80 * np.exp(-tt / 0.02)) / SR) * _decay(nk, 0.05)
                if b % 2 == 0:
                    _add(out, kick, i_bar * bar + b * beat)
                for h in (0, beat // 2):
                    nh = int(0.04 * SR)
                    _add(out, _highpass(rng.standard_normal(nh), 7000) * _decay(nh, 0.01) * 0.3, i_bar * bar + b * beat + h)
    return out


def _instrument(rng: np.random.Generator, n: int) -> np.ndarray:
    out = np.zeros(n)
    variant = rng.integers(4)  # 0 plucked string, 1 marimba, 2 piano-like, 3 bowed string
    rate = rng.uniform(3, 8) if variant != 3 else rng.uniform(1.0, 2.5)
    scale = np.array([0, 2, 4, 5, 7, 9, 11, 12, 14])
    base = rng.uniform(110, 330) if variant != 1 else rng.uniform(260, 520)
    pos = 0
    deg = int(rng.integers(len(scale)))
    while pos < n:
        deg = int(np.clip(deg + rng.integers(-2, 3), 0, len(scale) - 1))
        f = base * 2 ** (scale[deg] / 12)
        length = int(SR / rate * rng.uniform(0.9, 1.1))
        note_n = length + int(0.4 * SR) if variant != 3 else length
        tt = np.arange(note_n) / SR
        if variant == 0:  # Karplus-Strong, computed one period at a time
            period = max(2, int(round(SR / f)))
            buf = rng.uniform(-1, 1, period)
            note = np.empty(note_n)
            damp = rng.uniform(0.990, 0.998)
            for i in range(0, note_n, period):
                m = min(period, note_n - i)
                note[i:i + m] = buf[:m]
                buf = damp * 0.5 * (buf + np.roll(buf, 1))
        elif variant == 1:
            note = sum(g * np.sin(2 * np.pi * f * r * tt) * _decay(note_n, tau) for r, g, tau in
                       ((1.0, 1.0, 0.25), (3.9, 0.5, 0.06), (9.2, 0.25, 0.02)))
        elif variant == 2:
            b = 0.0004  # string stiffness: partial k at k f sqrt(1 + b k^2)
            note = sum(np.sin(2 * np.pi * f * k * np.sqrt(1 + b * k * k) * tt) * _decay(note_n, 0.6 / k) / k for k in range(1, 9))
        else:
            vib = 1 + 0.006 * np.sin(2 * np.pi * rng.uniform(5, 6.5) * tt)
            note = _harmonic(f * vib, 20, 1.0, rng) * _adsr(note_n, 0.12, 0.1)
            note = _resonance(note, f * 3, 1.5) + 0.3 * note
        note[: int(0.002 * SR)] *= np.linspace(0, 1, int(0.002 * SR))
        _add(out, note * rng.uniform(0.6, 1.0), pos)
        pos += length
    return out


def _water(rng: np.random.Generator, n: int) -> np.ndarray:
    t = np.arange(n) / SR
    lo = rng.uniform(800, 2000)
    x = _bandpass(rng.standard_normal(n), lo, lo * rng.uniform(3, 6), order=2)
    x /= np.abs(x).max() + 1e-9
    x *= 1 + 0.35 * np.sin(2 * np.pi * rng.uniform(2, 5) * t) + 0.2 * _smooth_random(n, 8, rng)
    drops = int(n / SR * rng.uniform(5, 20))
    for _ in range(drops):
        nd = int(rng.uniform(0.02, 0.04) * SR)
        f0, f1 = rng.uniform(900, 1400), rng.uniform(2200, 3200)
        chirp = np.sin(2 * np.pi * np.cumsum(np.linspace(f0, f1, nd)) / SR) * np.hanning(nd)
        _add(x, chirp * rng.uniform(0.3, 1.0), int(rng.integers(n)))
    return x


def _bell(rng: np.random.Generator, n: int) -> np.ndarray:
    out = np.zeros(n)
    bicycle = rng.random() < 0.35
    f = rng.uniform(2000, 4000) if bicycle else rng.uniform(400, 1500)
    ratios = np.array([0.5, 1.0, 1.19, 1.56, 2.0, 2.51, 3.0]) * rng.uniform(0.98, 1.02, 7)
    t60 = rng.uniform(1.0, 3.0) if not bicycle else rng.uniform(0.4, 1.0)
    gains = rng.uniform(0.3, 1.0, 7)
    strike_gap = rng.uniform(0.6, 1.5)
    t = 0.0
    while t * SR < n:
        nb = n - int(t * SR)
        tt = np.arange(nb) / SR
        partials = ratios * f
        tone = sum(g * np.sin(2 * np.pi * p * tt) * np.exp(-6.91 * tt * (p / f) ** 0.5 / t60)
                   for p, g in zip(partials, gains) if p < 0.45 * SR)
        _add(out, tone, int(t * SR))
        if bicycle:  # double strike trill
            _add(out, tone[: max(0, nb - int(0.125 * SR))] * 0.8, int((t + 0.125) * SR))
        t += strike_gap * rng.uniform(0.9, 1.1)
    return out


def _knock(rng: np.random.Generator, n: int) -> np.ndarray:
    out = np.zeros(n)
    modes = rng.uniform(150, 500, int(rng.integers(2, 4)))
    taus = rng.uniform(0.015, 0.03, len(modes))
    t = rng.uniform(0, 0.02)
    while t * SR < n:
        n_knocks = int(rng.integers(2, 6))
        rate = rng.uniform(4, 7)
        for _ in range(n_knocks):
            nk = int(0.12 * SR)
            tt = np.arange(nk) / SR
            knock = sum(np.sin(2 * np.pi * f * tt) * _decay(nk, tau) for f, tau in zip(modes, taus))
            nc = int(0.002 * SR)
            knock[:nc] += _highpass(rng.standard_normal(nc), 1500) * 1.5
            _add(out, knock * rng.uniform(0.7, 1.0), int(t * SR))
            t += 1 / rate * rng.uniform(0.9, 1.1)
        t += rng.uniform(0.4, 0.9)
    return out


RECIPES: tuple[Callable[[np.random.Generator, int], np.ndarray], ...] = (
    _female, _male, _clapping, _telephone, _laughter, _domestic, _footsteps, _door, _music,
    _instrument, _water, _bell, _knock,
)


def trim_and_normalise(x: np.ndarray, threshold_db: float = -40.0, fade_s: float = 0.005) -> np.ndarray:
    """Trim leading/trailing 10-ms windows quieter than ``threshold_db`` re the loudest, add short
    fades, peak-normalise to 1. (T,) -> (T',) float32; returns zeros(0) for silence."""
    x = np.asarray(x, np.float64)
    win = int(0.01 * SR)
    n_win = len(x) // win
    if n_win == 0 or not np.any(x):
        return np.zeros(0, np.float32)
    rms = np.sqrt(np.mean(x[: n_win * win].reshape(n_win, win) ** 2, axis=1))
    loud = np.flatnonzero(rms >= rms.max() * 10 ** (threshold_db / 20))
    x = x[loud[0] * win:(loud[-1] + 1) * win].copy()
    nf = min(int(fade_s * SR), len(x) // 2)
    if nf > 0:
        ramp = np.linspace(0, 1, nf)
        x[:nf] *= ramp
        x[-nf:] *= ramp[::-1]
    peak = np.abs(x).max()
    return (x / peak).astype(np.float32) if peak > 0 else np.zeros(0, np.float32)


def procedural_event(cls: int, rng: np.random.Generator, max_seconds: float = 4.5) -> np.ndarray:
    """One procedural event of class ``cls`` with fresh random parameters. Returns (T,) float32, peak 1."""
    if not 0 <= cls < N_CLASSES:
        raise ValueError(f"class must be in 0..{N_CLASSES - 1}, got {cls}")
    lo, hi = DURATIONS[cls]
    hi = min(hi, max_seconds)
    lo = min(lo, hi)
    for _ in range(5):
        n = int(rng.uniform(lo, hi) * SR)
        x = trim_and_normalise(RECIPES[cls](rng, n)[:n])
        if len(x) >= int(0.2 * SR):
            return x
    return x


class ProceduralBank:
    """Procedural source bank (offline default). ``draw`` is deterministic given ``rng``'s state."""

    def draw(self, cls: int, rng: np.random.Generator, max_seconds: float = 4.5) -> np.ndarray:
        return procedural_event(cls, rng, max_seconds)


class FolderBank:
    """FSD50K/SpatialScaper-layout source bank ``<root>/<FOLDER_NAMES[c]>/<split>/**/<audio file>``.

    Files are listed once (sorted, so draws are reproducible); audio is read on demand, downmixed,
    resampled to 24 kHz, cut to the first ``max_seconds`` (10-ms fade-out on a cut) and peak-normalised.
    """

    def __init__(self, root: str | Path, split: str = "train"):
        self.root = Path(root)
        self.split = split
        self.files: list[list[Path]] = []
        for c, folder in enumerate(FOLDER_NAMES):
            base = self.root / folder / split
            files = sorted(p for p in base.rglob("*") if p.suffix.lower() in AUDIO_EXTENSIONS) if base.is_dir() else []
            if not files:
                raise SeldInputError(base, f"no audio files for class {c} ({folder}); expected {AUDIO_EXTENSIONS}")
            self.files.append(files)

    def draw(self, cls: int, rng: np.random.Generator, max_seconds: float = 4.5) -> np.ndarray:
        path = self.files[cls][int(rng.integers(len(self.files[cls])))]
        return load_source(path, max_seconds)


def load_source(path: str | Path, max_seconds: float) -> np.ndarray:
    """Read one source file as mono 24 kHz float32, first ``max_seconds``, peak 1.

    Read by :func:`seldlib.audio.load_audio` (so a missing, truncated or non-finite file raises
    :class:`SeldInputError` naming it) and resampled by :func:`seldlib.audio.resample_audio`.
    """
    from seldlib.audio import load_audio

    path = Path(path)
    x = load_audio(path, sample_rate=SR, channels=None, resample=True).mean(axis=0, dtype=np.float64)
    n_max = int(max_seconds * SR)
    if len(x) > n_max:
        x = x[:n_max].copy()
        nf = int(0.01 * SR)
        x[-nf:] *= np.linspace(1, 0, nf)
    out = trim_and_normalise(x)
    if len(out) == 0:
        raise SeldInputError(path, "audio is silent")
    return out
