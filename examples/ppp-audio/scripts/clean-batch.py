#!/usr/bin/env python3
"""A batch of ppp-preprocess's clean task: the clips named in $SF_ITEMS.

    clean-batch.py RUN_DIR SAMPLE_RATE LEVEL_DB DROP_NOISY DEFAULT_SPEAKER

Each clip is RUN_DIR/source/<path>.flac.  Clips tagged "Very Noisy" in their
Clipper name (and "Noisy" ones when DROP_NOISY is true) are dropped; the
others are cleaned by one `synthflow audio clean` for the whole batch (first
channel, 40 Hz high-pass, resampling to SAMPLE_RATE, silence trimmed 45 dB
under the peak, RMS level LEVEL_DB dBFS with the peak at most -1 dBFS) into
RUN_DIR/clean/<path>.flac (the clip's own name: the DAG declares these
outputs for the content cache), with RUN_DIR/clean/<path>.meta beside it
(the speaker on the first line, the transcript on the second) and
RUN_DIR/clean/<path>.json (the clip's metrics, for make-filelists.py).

Each clip's outcome goes to $SF_RESULTS (a dropped clip is a success that
writes nothing) and its numbers, with the Clipper fields, to $SF_METRICS.
sox's version of these steps, clean-clip.sh, is kept for the benchmark.
"""

import json
import os
import subprocess
import sys
import tempfile


def clipper_fields(stem):
    """(character, emotion, noise, transcript) of HH_MM_SS_Char_Emotion_Noise_Text, or None."""
    parts = stem.split("_", 6)
    if len(parts) < 7 or not all(p.isdigit() for p in parts[:3]):
        return None
    return parts[3], parts[4], parts[5], parts[6]


def transcript(source, rel, fields):
    """The .txt beside the clip (Clipper's layout), else the name's, '_' read as '?'."""
    txt = os.path.join(source, os.path.splitext(rel)[0] + ".txt")
    if os.path.isfile(txt):
        with open(txt, encoding="utf-8", errors="replace") as f:
            text = f.read().replace("\r", " ").replace("\n", " ")
    else:
        text = fields[3].replace("_", "?") if fields else ""
    return text.replace("|", "/").strip()  # '|' separates the filelists' fields


def main():
    if len(sys.argv) != 6:
        sys.exit("usage: clean-batch.py RUN_DIR SAMPLE_RATE LEVEL_DB DROP_NOISY DEFAULT_SPEAKER")
    run_dir, rate, level, drop_noisy, default_speaker = sys.argv[1:]
    run_dir = run_dir.rstrip("/")
    source, clean = run_dir + "/source", run_dir + "/clean"
    with open(os.environ["SF_ITEMS"], "rb") as f:
        items = [p.decode() for p in f.read().split(b"\0")[:-1]]
    results = open(os.environ["SF_RESULTS"], "w")
    metrics = open(os.environ["SF_METRICS"], "a")
    keep = {}  # item -> (index, rel, speaker, fields, transcript)
    for i, item in enumerate(items):
        rel = os.path.relpath(item, source)
        if rel.startswith(".."):
            results.write(f"{i}\tfailed\tnot under {source}/\n")
            continue
        fields = clipper_fields(os.path.splitext(os.path.basename(rel))[0])
        noise = fields[2] if fields else ""
        info = {"item": item, "character": fields[0] if fields else "",
                "emotion": fields[1] if fields else "", "noise": noise,
                "transcript": transcript(source, rel, fields)}
        if noise == "Very Noisy" or (noise == "Noisy" and drop_noisy == "true"):
            print(f"clean-batch: dropped ({noise}): {rel}")
            metrics.write(json.dumps(dict(info, dropped=noise)) + "\n")
            results.write(f"{i}\tok\n")
            continue
        speaker = fields[0] if fields and fields[0] else default_speaker
        keep[item] = (i, rel, speaker, info)
    results.flush()
    if not keep:
        return
    with tempfile.TemporaryDirectory(dir=run_dir) as tmp:
        with open(tmp + "/items", "wb") as f:
            f.write(b"".join(item.encode() + b"\0" for item in keep))
        env = dict(os.environ, SF_METRICS=tmp + "/metrics")
        # the resampler band-limits under 18 kHz anyway at these rates
        lowpass = "18000" if int(rate) > 36000 else "0"
        subprocess.run([os.environ.get("SF_SYNTHFLOW", "synthflow"), "audio", "clean",
                        "--items", tmp + "/items", "--base", source, "-o", clean,
                        "--rate", rate, "--rms-db", level, "--peak-db", "-1",
                        "--highpass", "40", "--lowpass", lowpass, "--trim-db", "-45"],
                       env=env, check=False)
        with open(tmp + "/metrics") as f:
            lines = [json.loads(line) for line in f if line.strip()]
    for m in lines:
        i, rel, speaker, info = keep.pop(m["item"])
        if "error" in m:
            results.write(f"{i}\tfailed\t{m['error']}\n")
            metrics.write(json.dumps(dict(m, **info)) + "\n")
            continue
        out = m["output"]
        # the name stays the item's (the DAG's outputs say so); make-filelists
        # drops trailing full stops as CookieTTS does
        stem = out[: -len(".flac")]
        with open(stem + ".meta.tmp", "w", encoding="utf-8") as f:
            f.write(f"{speaker}\n{info['transcript']}\n")
        os.replace(stem + ".meta.tmp", stem + ".meta")
        m.update(info, output=os.path.relpath(stem + ".flac", run_dir), speaker=speaker)
        with open(stem + ".json.tmp", "w", encoding="utf-8") as f:
            # paths inside the run folder only: the same bytes in any data folder
            # (a replay compares them); $SF_METRICS keeps the engine's item path
            f.write(json.dumps(dict(m, item=os.path.relpath(m["item"], run_dir))) + "\n")
        os.replace(stem + ".json.tmp", stem + ".json")
        metrics.write(json.dumps(m) + "\n")
        results.write(f"{i}\tok\n")
        print(f"clean-batch: {rel} -> clean/{os.path.relpath(stem, clean)}.flac "
              f"({m['duration_in']}s -> {m['duration']}s at {m['rate']} Hz, gain {m['gain_db']} dB)")
    # clips synthflow audio did not report stay unreported: the engine fails them


if __name__ == "__main__":
    main()
