#!/usr/bin/env python3
"""Last task of ppp-preprocess: packs the cleaned clips into uploadable/.

    make-filelists.py CLEAN_DIR OUT_DIR TRAIN_PERCENT [PARAM=VALUE ...]

Reads CLEAN_DIR/**/*.flac with the .meta beside each (speaker, transcript)
and writes OUT_DIR (uploadable/<dataset>/) so that it is self-contained:

    clips/<path>.flac           copies of the cleaned clips (no trailing full
                                stop before .flac, as CookieTTS names them)
    filelist_train.txt          clips/<path>.flac|transcript|speaker
    filelist_validation.txt     the same format
    metrics.jsonl               one JSON object a clip: its numbers from the
                                clean task (the .json beside the clip), its
                                "item" and "output" (the path in the lists),
                                "speaker", "transcript" and "split" (train or
                                validation); SynthFlow's dataset view reads it
    README.txt                  what this is, counts, and PARAM=VALUE lines

Paths in the filelists are relative to OUT_DIR, so the folder can be
packed and used anywhere.  The split is deterministic: a clip goes to
training when the SHA-256 of its path, taken modulo 10000, is below
TRAIN_PERCENT * 100 (CookieTTS seeds a random number per clip index; a hash
of the path keeps every clip on its side when clips are added or removed).
With two clips or more and 0 < TRAIN_PERCENT < 100, each list gets at
least one.

OUT_DIR is replaced as a whole: the new one is built beside it and renamed
into place, so a failed run never leaves a half-written dataset.
"""

import hashlib
import json
import os
import shutil
import sys


def die(msg):
    print(f"make-filelists: {msg}", file=sys.stderr)
    sys.exit(1)


def find_clips(clean_dir):
    """(relative path, speaker, transcript) for every cleaned clip, sorted."""
    clips = []
    for root, dirs, files in os.walk(clean_dir):
        dirs[:] = sorted(d for d in dirs if not d.startswith("."))
        for name in sorted(files):
            if not name.endswith(".flac"):
                continue
            path = os.path.join(root, name)
            rel = os.path.relpath(path, clean_dir)
            meta = path[: -len(".flac")] + ".meta"
            try:
                with open(meta, encoding="utf-8") as f:
                    speaker, text = (f.read().split("\n") + ["", ""])[:2]
            except OSError as e:
                die(f"no metadata for '{rel}': {e.strerror}")
            if not text.strip():
                print(f"make-filelists: skipped (no transcript): {rel}")
                continue
            # CookieTTS's names: no trailing full stop before the suffix
            out = rel[: -len(".flac")].rstrip(".") + ".flac"
            clips.append((out, speaker.strip(), text.strip(), rel))
    return sorted(clips)


def split(clips, train_percent):
    """Deterministic train/validation split by a hash of each path."""
    def key(clip):
        return int(hashlib.sha256(clip[0].encode()).hexdigest(), 16) % 10000

    train = [c for c in clips if key(c) < train_percent * 100]
    val = [c for c in clips if key(c) >= train_percent * 100]
    # a tiny dataset could hash entirely to one side
    if len(clips) < 2 or train_percent in (0, 100):
        return train, val
    if not val:
        moved = max(train, key=key)
        train.remove(moved)
        val.append(moved)
    elif not train:
        moved = min(val, key=key)
        val.remove(moved)
        train.append(moved)
    return train, val


def write_list(path, clips):
    with open(path, "w", encoding="utf-8") as f:
        for rel, speaker, text, _ in clips:
            f.write(f"clips/{rel}|{text}|{speaker}\n")


def write_metrics(path, clean_dir, train, val):
    """metrics.jsonl: the clean task's numbers per clip, with paths inside OUT_DIR only."""
    with open(path, "w", encoding="utf-8") as f:
        for split_name, clips in (("train", train), ("validation", val)):
            for rel, speaker, text, src in clips:
                m = {}
                try:
                    with open(os.path.join(clean_dir, src[: -len(".flac")] + ".json"),
                              encoding="utf-8") as j:
                        m = json.load(j)
                except FileNotFoundError:
                    pass  # a clip cleaned by other means: its names only
                except (OSError, ValueError) as e:
                    die(f"bad metrics beside '{src}': {e}")
                m.update(item=f"clips/{rel}", output=f"clips/{rel}", speaker=speaker,
                         transcript=text, split=split_name)
                f.write(json.dumps(m, ensure_ascii=False) + "\n")


def write_readme(path, dataset, train, val, params):
    speakers = sorted({c[1] for c in train + val})
    with open(path, "w", encoding="utf-8") as f:
        f.write(f"{dataset}: cleaned clips and filelists for TTS training\n\n")
        f.write("Made by the ppp-preprocess DAG of SynthFlow's ppp-audio example.\n")
        f.write("Filelists: path|transcript|speaker, paths relative to this folder.\n\n")
        f.write(f"clips: {len(train) + len(val)} ({len(train)} train, {len(val)} validation)\n")
        f.write(f"speakers: {', '.join(speakers)}\n")
        for p in params:
            f.write(f"{p}\n")


def build(clean_dir, new_dir, train_percent, params, dataset):
    clips = find_clips(clean_dir)
    if not clips:
        die(f"no cleaned clips in '{clean_dir}'")
    train, val = split(clips, train_percent)
    for rel, _, _, src in clips:
        dst = os.path.join(new_dir, "clips", rel)
        os.makedirs(os.path.dirname(dst), exist_ok=True)
        shutil.copyfile(os.path.join(clean_dir, src), dst)
    write_list(os.path.join(new_dir, "filelist_train.txt"), train)
    write_list(os.path.join(new_dir, "filelist_validation.txt"), val)
    write_metrics(os.path.join(new_dir, "metrics.jsonl"), clean_dir, train, val)
    write_readme(os.path.join(new_dir, "README.txt"), dataset, train, val, params)
    return train, val


def main(argv):
    if len(argv) < 4:
        print(__doc__.split("\n\n")[1], file=sys.stderr)
        sys.exit(2)
    clean_dir, out_dir, percent = argv[1], argv[2].rstrip("/"), argv[3]
    try:
        train_percent = float(percent)
    except ValueError:
        die(f"TRAIN_PERCENT must be a number, not '{percent}'")
    if not 0 <= train_percent <= 100:
        die(f"TRAIN_PERCENT must be between 0 and 100, not {percent}")
    parent, dataset = os.path.split(out_dir)
    os.makedirs(parent or ".", exist_ok=True)
    new_dir = os.path.join(parent, f".{dataset}.new.{os.getpid()}")
    old_dir = os.path.join(parent, f".{dataset}.old.{os.getpid()}")
    try:
        train, val = build(clean_dir, new_dir, train_percent, argv[4:], dataset)
        if os.path.exists(out_dir):
            os.rename(out_dir, old_dir)
        os.rename(new_dir, out_dir)
    finally:
        shutil.rmtree(new_dir, ignore_errors=True)
        shutil.rmtree(old_dir, ignore_errors=True)
    print(f"make-filelists: {len(train)} training and {len(val)} validation clips in {out_dir}")


if __name__ == "__main__":
    main(sys.argv)
