"""Audio files of a `Song`: 16-bit stereo WAV or FLAC, or Ogg Vorbis; normalised, written atomically."""
from __future__ import annotations

import io
import os
import wave
from pathlib import Path

import numpy as np

from composer.errors import OutputExistsError
from composer.music.midifile import write_atomic
from composer.music.song import Song
from composer.safe_write import check_target
from composer.sound.render import DEFAULT_SAMPLE_RATE, render_audio
from composer.sound.synth import AudioUnavailable

AUDIO_FORMATS = ("wav", "flac", "ogg")


def audio_format_for(path: str | os.PathLike, audio_format: str | None = None) -> str:
    """'wav', 'flac' or 'ogg', from `audio_format` or else the file suffix; ValueError names the bad value."""
    fmt = (audio_format or Path(path).suffix.lstrip(".") or "wav").lower()
    if fmt not in AUDIO_FORMATS:
        raise ValueError(f"audio format must be one of {', '.join(AUDIO_FORMATS)}, got {fmt!r}")
    return fmt


def encode_audio(samples: np.ndarray, sample_rate: int, audio_format: str = "wav") -> bytes:
    """float32 (n, 2) samples -> the bytes of a 16-bit WAV or FLAC file, or an Ogg Vorbis one."""
    pcm = np.round(np.clip(samples, -1.0, 1.0) * 32767.0).astype("<i2")
    if audio_format == "wav":
        buffer = io.BytesIO()
        with wave.open(buffer, "wb") as out:
            out.setnchannels(pcm.shape[1])
            out.setsampwidth(2)
            out.setframerate(int(sample_rate))
            out.writeframes(pcm.tobytes())
        return buffer.getvalue()
    if audio_format in ("flac", "ogg"):
        try:
            import soundfile
        except (ImportError, OSError) as exc:
            raise AudioUnavailable(f"{audio_format.upper()} export needs the soundfile package ({exc}); "
                                   "use WAV") from None
        buffer = io.BytesIO()
        if audio_format == "flac":
            soundfile.write(buffer, pcm, int(sample_rate), format="FLAC", subtype="PCM_16")
        else:               # Ogg Vorbis: lossy, about a tenth of WAV's size, for sharing and web pages
            # compression 0.85: about 60 kbit/s stereo, 16 bars of melody (35 s) in about 270 KB
            audio = np.clip(samples, -1.0, 1.0).astype(np.float32)
            with soundfile.SoundFile(buffer, "w", int(sample_rate), audio.shape[1], format="OGG",
                                     subtype="VORBIS", compression_level=0.85) as out:
                # a second at a time: libvorbis can overflow its stack on a long buffer written at once
                # (libsndfile issue 1095; python-soundfile 396): a four-part chorale crashed the app
                for start in range(0, len(audio), int(sample_rate)):
                    out.write(audio[start:start + int(sample_rate)])
        return buffer.getvalue()
    raise ValueError(f"audio format must be one of {', '.join(AUDIO_FORMATS)}, got {audio_format!r}")


def write_audio(song: Song, path: str | os.PathLike, *, soundfont: str | os.PathLike | None = None,
                force: bool = False, sample_rate: int = DEFAULT_SAMPLE_RATE,
                audio_format: str | None = None) -> Path:
    """Render `song` and write it as 16-bit stereo WAV or FLAC, or Ogg Vorbis (from `audio_format` or the suffix),
    normalised to -1 dBFS, atomically. Never overwrites without `force` (OutputExistsError)."""
    path = Path(path)
    fmt = audio_format_for(path, audio_format)
    check_target(path)               # fail before the render, not after it
    if path.exists() and not force:
        raise OutputExistsError(f"{path} already exists (use --force to overwrite)")
    samples = render_audio(song, soundfont=soundfont, sample_rate=sample_rate, normalize=True)
    return write_atomic(path, encode_audio(samples, sample_rate, fmt), force=force)


def write_wav(song: Song, path: str | os.PathLike, *, soundfont: str | os.PathLike | None = None,
              force: bool = False, sample_rate: int = DEFAULT_SAMPLE_RATE) -> Path:
    """`write_audio` as WAV whatever the suffix."""
    return write_audio(song, path, soundfont=soundfont, force=force, sample_rate=sample_rate, audio_format="wav")
