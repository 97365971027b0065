#ifndef SF_AUDIO_H
#define SF_AUDIO_H

/*
 * synthflow audio: the clean chain and clip statistics (docs/audio.md).
 *
 * The DSP pieces that decide numbers (Butterworth biquad cascades, the trim
 * bounds, the levelling rule, the SNR estimate) are pure functions over
 * arrays of doubles, so unit tests check them without files.  audio_clean()
 * and audio_stats() do the file work: one decode with libsndfile, one pass
 * over the samples (filters, libsoxr resampling, trim, gain), one encode to
 * a temporary file renamed into place, so an interrupted run never leaves a
 * half-written clip.  Nothing here keeps state between clips, so clips can
 * be processed by any number of threads and the output bytes depend only on
 * the input and the options.
 */
#include <stddef.h>

/* --- filters (filter.c): Butterworth high/low-pass as cascaded biquads --- */
enum { AUDIO_FILTER_ORDER = 8 };        /* 48 dB per octave, 4 biquads */

struct biquad {
	double b0, b1, b2, a1, a2;      /* normalised: a0 == 1 */
	double z1, z2;                  /* transposed direct form II state */
};

struct audio_filter {
	size_t n;
	struct biquad s[AUDIO_FILTER_ORDER / 2];
};

/*
 * Designs an order-AUDIO_FILTER_ORDER Butterworth filter, -3 dB at `hz`, for
 * sample rate `rate` (bilinear transform, prewarped at the cutoff).  0, or -1
 * when hz is not strictly between 0 and rate/2.
 */
int audio_filter_highpass(struct audio_filter *f, double hz, double rate);
int audio_filter_lowpass(struct audio_filter *f, double hz, double rate);
/* Filters x[0..n) in place, continuing from the filter's state. */
void audio_filter_run(struct audio_filter *f, double *x, size_t n);
/* The filter's gain at `hz` (from its coefficients, not by running it). */
double audio_filter_gain_db(const struct audio_filter *f, double hz, double rate);

/* --- pure rules (level.c) --- */
double audio_db(double amplitude);          /* 20 log10, -INFINITY for 0 */
double audio_peak(const double *x, size_t n);
double audio_rms(const double *x, size_t n);

/*
 * Where a trimmed clip starts and ends: the first and last sample whose
 * magnitude reaches `thresh`, widened by `pad` samples on each side (within
 * the clip).  Returns 0 with [*start, *end), or -1 when no sample reaches it.
 */
int audio_trim_bounds(const double *x, size_t n, double thresh, size_t pad, size_t *start,
		      size_t *end);

enum {
	AUDIO_FLAG_PEAK_LIMITED = 1 << 0,       /* the peak limit lowered the gain */
	AUDIO_FLAG_RMS_LEVELLED = 1 << 1,       /* too short for loudness: levelled by RMS */
	AUDIO_FLAG_LOWPASS_SKIPPED = 1 << 2,    /* low-pass at or above the Nyquist frequency */
};

/*
 * The gain (dB) that brings a clip to `target` (its loudness in LUFS, or its
 * RMS level in dBFS: `level` is the clip's own value on the same scale),
 * lowered so that the peak (`peak_db`, dBFS) stays at or under `peak_limit`.
 * Sets AUDIO_FLAG_PEAK_LIMITED in *flags when the limit won.
 */
double audio_level_gain(double level, double target, double peak_db, double peak_limit,
			unsigned *flags);

/*
 * A rough signal-to-noise estimate: the energies of 20 ms frames, the loudest
 * tenth against the quietest tenth, in dB.  NAN when the clip is shorter than
 * ten frames or its quiet frames are digital silence.
 */
double audio_snr_db(const double *x, size_t n, double rate);

/*
 * A waveform thumbnail (the metric `wave`, docs/audio.md): env[0..n) (each
 * frame's magnitude) cut into AUDIO_WAVE_LEN slices, each slice's peak as
 * 0..63 of full scale written as one character of base64url's alphabet;
 * out holds AUDIO_WAVE_LEN characters and a NUL.
 */
enum { AUDIO_WAVE_LEN = 48 };
void audio_wave(const double *env, size_t n, char *out);

/* --- files (clip.c) --- */
enum audio_level_mode { AUDIO_LEVEL_LOUDNESS, AUDIO_LEVEL_RMS, AUDIO_LEVEL_NONE };
enum audio_format { AUDIO_FLAC, AUDIO_WAV };

struct audio_opts {
	int rate;                       /* output rate; 0 keeps the input's */
	int mix;                        /* 0: first channel, 1: mean of all */
	int bits;                       /* 16, 24, or 32 (float, WAV only) */
	double highpass, lowpass;       /* Hz; 0 = off */
	double trim_db;                 /* dB under the clip's peak; 0 = no trim */
	double trim_pad;                /* seconds kept around the sound */
	enum audio_level_mode level_mode;
	double level;                   /* LUFS or dBFS */
	double peak_db;                 /* dBFS */
	enum audio_format format;
};
void audio_opts_default(struct audio_opts *o);

struct audio_stats {
	double duration;                /* seconds */
	int rate, channels;
	double peak_db, rms_db;         /* dBFS, over all channels */
	double lufs;                    /* integrated loudness; NAN under 400 ms */
	long long clipped;              /* samples at full scale */
	double lead, trail;             /* silence in seconds (-45 dB under the peak) */
	double snr_db;                  /* NAN when not estimated */
	char wave[AUDIO_WAVE_LEN + 1];  /* audio_wave */
};

struct audio_result {
	char *error;                    /* NULL when the clip succeeded; malloc'd */
	char *note;                     /* informational, or NULL; malloc'd */
	struct audio_stats in, out;     /* out: only for clean */
	double gain_db;
	unsigned flags;
};
void audio_result_release(struct audio_result *r);

/* Reads `path` and measures it (silence threshold: `trim_db` under the peak). */
int audio_stats(const char *path, double trim_db, struct audio_result *r);
/* Cleans `in` into `out` (its folder must exist).  -1 with r->error set. */
int audio_clean(const char *in, const char *out, const struct audio_opts *o,
		struct audio_result *r);
/* The extension audio_clean writes for a format: ".flac" or ".wav". */
const char *audio_format_ext(enum audio_format f);
/* flags as JSON-friendly names, e.g. "peak-limited"; NULL past the last bit. */
const char *audio_flag_name(unsigned bit);

#endif
