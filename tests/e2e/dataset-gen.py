# 100,000 clips' metrics for the dataset view (tests/e2e/t1404-dataset.sh and
# bench/dataset.sh): four characters, durations 1..12 s, loudness -45..-16
# LUFS, written to $SF_METRICS by the one task of a DAG.
import json, os
chars = ["Fluttershy", "Rarity", "Twilight", "Spike"]
with open(os.environ["SF_METRICS"], "w") as f:
    for i in range(100000):
        c = chars[i % 4]
        name = "%02d_%02d_%02d_%s_Happy__Line %d." % (i // 3600 % 24, i // 60 % 60, i % 60, c, i)
        f.write(json.dumps({"item": "/src/" + name + "flac", "output": "clean/" + name + "flac",
                            "character": c, "emotion": "Happy", "noise": "", "transcript": "Line %d." % i,
                            "duration": 1 + (i // 4) % 12, "lufs": -16 - (i // 48) % 30,
                            "rms_db": -20.5, "peak_db": -1.0, "snr_db": 30, "flags": []}) + "\n")
