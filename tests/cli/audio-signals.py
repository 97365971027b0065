#!/usr/bin/env python3
"""Generated test signals and independent measurements for the audio tests
(standard library only, so nothing here shares code with synthflow).

  audio-signals.py tone OUT.wav RATE SECONDS HZ DBFS [LEAD_S TRAIL_S [CHANNELS]]
      a sine (16-bit PCM, clipped above 0 dBFS) with digital silence before
      and after it
  audio-signals.py level IN.wav HZ
      prints the sine's level at HZ in dBFS (least-squares fit of a sine and
      cosine at HZ over the middle of the clip) and the rate and length
  audio-signals.py edges IN.wav DB
      prints the times (s) of the first sample reaching DB under the peak,
      and of the end of the last one, and the clip's duration
"""
import math
import struct
import sys
import wave


def tone(out, rate, secs, hz, dbfs, lead=0.0, trail=0.0, channels=1):
    amp = 10 ** (dbfs / 20) * 32767
    frames = []
    for _ in range(int(round(lead * rate))):
        frames.append(0)
    for i in range(int(round(secs * rate))):
        v = int(round(amp * math.sin(2 * math.pi * hz * i / rate)))
        frames.append(max(-32768, min(32767, v)))  # above 0 dBFS: clipped
    for _ in range(int(round(trail * rate))):
        frames.append(0)
    with wave.open(out, "wb") as w:
        w.setnchannels(channels)
        w.setsampwidth(2)
        w.setframerate(rate)
        w.writeframes(b"".join(struct.pack("<" + "h" * channels, *([v] * channels)) for v in frames))


def read(path):
    with wave.open(path, "rb") as w:
        rate, n, ch, width = w.getframerate(), w.getnframes(), w.getnchannels(), w.getsampwidth()
        raw = w.readframes(n)
    if width != 2:
        raise SystemExit("16-bit PCM only")
    return rate, n, struct.unpack("<%dh" % (n * ch), raw)[::ch]


def edges(path, db):
    rate, n, x = read(path)
    thresh = max(abs(v) for v in x) * 10 ** (db / 20)
    loud = [i for i, v in enumerate(x) if abs(v) >= thresh]
    print("%.4f %.4f %.4f" % (loud[0] / rate, (loud[-1] + 1) / rate, n / rate))


def level(path, hz):
    rate, n, x = read(path)
    a, b = n // 4, 3 * n // 4        # the middle half: no edges, no filter settling
    ss = sc = 0.0
    for i in range(a, b):
        t = 2 * math.pi * hz * i / rate
        ss += x[i] * math.sin(t)
        sc += x[i] * math.cos(t)
    amp = 2 * math.hypot(ss, sc) / (b - a) / 32768
    print("%.4f %d %d" % (20 * math.log10(amp) if amp > 0 else -999.0, rate, n))


if __name__ == "__main__":
    cmd = sys.argv[1]
    if cmd == "tone":
        args = sys.argv[2:]
        tone(args[0], int(args[1]), float(args[2]), float(args[3]), float(args[4]),
             *(float(v) for v in args[5:7]), *(int(v) for v in args[7:8]))
    elif cmd == "edges":
        edges(sys.argv[2], float(sys.argv[3]))
    elif cmd == "level":
        level(sys.argv[2], float(sys.argv[3]))
    else:
        raise SystemExit(__doc__)
