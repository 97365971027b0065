# 100,000 clips' metrics for the dataset view (tests/e2e/t1404-dataset.sh and
# bench/dataset.sh): four characters, durations 1..12 s, loudness -45..-16
# LUFS, a waveform thumbnail (the metric `wave`, docs/audio.md) on all but
# every hundredth clip.
#
#   dataset-gen.py RUN_DIR          as a DAG's one task: to $SF_METRICS, with
#                                   `output` under clean/ in RUN_DIR
#   dataset-gen.py --uploadable DIR a folder of uploadable/: DIR/metrics.jsonl,
#                                   `item` and `output` under clips/ in DIR
#
# Clip 0's output is a real WAV file, so that the test can play it.
import json, math, os, struct, sys, wave

B64 = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
chars = ["Fluttershy", "Rarity", "Twilight", "Spike"]
if sys.argv[1] == "--uploadable":
    folder, sub, metrics = sys.argv[2], "clips/", os.path.join(sys.argv[2], "metrics.jsonl")
    os.makedirs(folder, exist_ok=True)
else:
    folder, sub, metrics = sys.argv[1], "clean/", os.environ["SF_METRICS"]
with open(metrics, "w") as f:
    for i in range(100000):
        c = chars[i % 4]
        name = "%02d_%02d_%02d_%s_Happy__Line %d." % (i // 3600 % 24, i // 60 % 60, i % 60, c, i)
        m = {"item": ("/src/" if sub == "clean/" else sub) + name + "flac",
             "output": sub + name + ("wav" if i == 0 else "flac"),
             "character": c, "emotion": "Happy", "noise": "", "transcript": "Line %d." % i,
             "duration": 1 + (i // 4) % 12, "lufs": -16 - (i // 48) % 30,
             "rms_db": -20.5, "peak_db": -1.0, "snr_db": 30, "flags": []}
        if i % 100 != 3:
            m["wave"] = "".join(B64[(i * 7 + k * k) % 50 + 8] for k in range(48))
        f.write(json.dumps(m) + "\n")
        if i == 0:
            os.makedirs(os.path.join(folder, sub), exist_ok=True)
            with wave.open(os.path.join(folder, m["output"]), "wb") as w:
                w.setnchannels(1)
                w.setsampwidth(2)
                w.setframerate(22050)
                w.writeframes(b"".join(struct.pack("<h", int(8000 * math.sin(2 * math.pi * 440 * n / 22050)))
                                       for n in range(22050 * 2)))
