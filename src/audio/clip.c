/*
 * One clip through libsndfile, the filters, libsoxr and libebur128: decode
 * once, process in memory (doubles), encode once into a temporary file in
 * the output folder and rename it over the final name.  Every step is a
 * deterministic function of the input samples and the options: no dither,
 * no clocks, libsndfile's PEAK chunk (which holds a timestamp) turned off,
 * libsoxr in one thread.
 */
#include <ebur128.h>
#include <errno.h>
#include <math.h>
#include <sndfile.h>
#include <soxr.h>
#include <unistd.h>

#include "audio/audio.h"
#include "util/common.h"
#include "util/fs.h"

/* Below this peak a clip counts as silent: levelling it would only amplify noise. */
#define SILENT_DB -80.0
/* The longest clip read, in samples (all channels): about 3 hours at 48 kHz stereo. */
#define MAX_SAMPLES ((sf_count_t)1 << 30)

void audio_opts_default(struct audio_opts *o)
{
	memset(o, 0, sizeof(*o));
	o->rate = 22050;
	o->bits = 16;
	o->highpass = 40;
	o->lowpass = 18000;
	o->trim_db = -45;
	o->trim_pad = 0.05;
	o->level_mode = AUDIO_LEVEL_LOUDNESS;
	o->level = -23;
	o->peak_db = -1;
	o->format = AUDIO_FLAC;
}

void audio_result_release(struct audio_result *r)
{
	free(r->error);
	free(r->note);
	r->error = r->note = NULL;
}

const char *audio_format_ext(enum audio_format f)
{
	return f == AUDIO_WAV ? ".wav" : ".flac";
}

const char *audio_flag_name(unsigned bit)
{
	switch (bit) {
	case AUDIO_FLAG_PEAK_LIMITED:
		return "peak-limited";
	case AUDIO_FLAG_RMS_LEVELLED:
		return "rms-levelled";
	case AUDIO_FLAG_LOWPASS_SKIPPED:
		return "lowpass-skipped";
	}
	return NULL;
}

static int fail(struct audio_result *r, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static int fail(struct audio_result *r, const char *fmt, ...)
{
	struct strbuf sb = STRBUF_INIT;
	va_list ap;

	va_start(ap, fmt);
	sb_vaddf(&sb, fmt, ap);
	va_end(ap);
	free(r->error);
	r->error = sb_detach(&sb, NULL);
	return -1;
}

/* The whole file as interleaved doubles in [-1, 1]; malloc'd, or NULL with r->error. */
static double *decode(const char *path, SF_INFO *info, struct audio_result *r)
{
	SNDFILE *sf;
	double *buf;
	sf_count_t got;

	memset(info, 0, sizeof(*info));
	sf = sf_open(path, SFM_READ, info);
	if (!sf) {
		fail(r, "unreadable or unsupported format (%s)", sf_strerror(NULL));
		return NULL;
	}
	if (info->frames <= 0 || info->channels <= 0) {
		sf_close(sf);
		fail(r, "empty (no samples)");
		return NULL;
	}
	if (info->frames > MAX_SAMPLES / info->channels) {
		sf_close(sf);
		fail(r, "too long (%lld frames)", (long long)info->frames);
		return NULL;
	}
	buf = xmalloc((size_t)info->frames * (size_t)info->channels * sizeof(*buf));
	got = sf_readf_double(sf, buf, info->frames);
	sf_close(sf);
	if (got <= 0) {
		free(buf);
		fail(r, "empty (no samples could be decoded)");
		return NULL;
	}
	info->frames = got;
	return buf;
}

/* Integrated loudness of interleaved x, or NAN when under 400 ms or gated out. */
static double loudness(const double *x, size_t frames, int channels, int rate)
{
	ebur128_state *st;
	double l = NAN;

	if ((double)frames < 0.4 * rate)
		return NAN;
	st = ebur128_init((unsigned)channels, (unsigned long)rate, EBUR128_MODE_I);
	if (!st)
		return NAN;
	if (ebur128_add_frames_double(st, x, frames) == EBUR128_SUCCESS &&
	    ebur128_loudness_global(st, &l) != EBUR128_SUCCESS)
		l = NAN;
	ebur128_destroy(&st);
	return isfinite(l) ? l : NAN;
}

static void measure(const double *x, size_t frames, int channels, int rate, double trim_db,
		    struct audio_stats *s)
{
	size_t n = frames * (size_t)channels, start, end;
	double *env = xmalloc(frames * sizeof(*env)), *mix = xmalloc(frames * sizeof(*mix));
	double peak = audio_peak(x, n);

	s->duration = (double)frames / rate;
	s->rate = rate;
	s->channels = channels;
	s->peak_db = audio_db(peak);
	s->rms_db = audio_db(audio_rms(x, n));
	s->lufs = loudness(x, frames, channels, rate);
	s->clipped = 0;
	for (size_t i = 0; i < n; i++)
		if (fabs(x[i]) >= 32767.0 / 32768.0)
			s->clipped++;
	for (size_t f = 0; f < frames; f++) {
		double m = 0, sum = 0;
		for (int c = 0; c < channels; c++) {
			double v = x[f * (size_t)channels + (size_t)c];
			if (fabs(v) > m)
				m = fabs(v);
			sum += v;
		}
		env[f] = m;
		mix[f] = sum / channels;
	}
	if (audio_trim_bounds(env, frames, peak * pow(10, trim_db / 20), 0, &start, &end) == 0) {
		s->lead = (double)start / rate;
		s->trail = (double)(frames - end) / rate;
	} else {
		s->lead = s->duration;
		s->trail = 0;
	}
	s->snr_db = audio_snr_db(mix, frames, rate);
	audio_wave(env, frames, s->wave);
	free(env);
	free(mix);
}

int audio_stats(const char *path, double trim_db, struct audio_result *r)
{
	SF_INFO info;
	double *buf = decode(path, &info, r);

	if (!buf)
		return -1;
	measure(buf, (size_t)info.frames, info.channels, info.samplerate, trim_db, &r->in);
	free(buf);
	return 0;
}

/* x resampled from `from` to `to` Hz with libsoxr's high quality; *n updated. */
static double *resample(double *x, size_t *n, int from, int to, struct audio_result *r)
{
	size_t olen = (size_t)ceil((double)*n * to / from) + 16, done = 0;
	double *out = xmalloc(olen * sizeof(*out));
	soxr_io_spec_t io = soxr_io_spec(SOXR_FLOAT64_I, SOXR_FLOAT64_I);
	soxr_quality_spec_t q = soxr_quality_spec(SOXR_HQ, 0);
	soxr_runtime_spec_t rt = soxr_runtime_spec(1);
	soxr_error_t err;

	err = soxr_oneshot(from, to, 1, x, *n, NULL, out, olen, &done, &io, &q, &rt);
	free(x);
	if (err) {
		free(out);
		fail(r, "resampling failed (%s)", err);
		return NULL;
	}
	*n = done;
	return out;
}

static int encode(const char *path, const double *x, size_t n, int rate,
		  const struct audio_opts *o, struct audio_result *r)
{
	char *tmp = NULL;
	SF_INFO info = { 0 };
	SNDFILE *sf;
	sf_count_t wrote;
	int fd = fs_tmp_beside(path, 0644, &tmp), ret = -1;

	if (fd < 0) {
		fail(r, "cannot create a file beside '%s' (%s)", path, strerror(errno));
		goto out;
	}
	info.samplerate = rate;
	info.channels = 1;
	info.format = (o->format == AUDIO_WAV ? SF_FORMAT_WAV : SF_FORMAT_FLAC) |
		      (o->bits == 24 ? SF_FORMAT_PCM_24 : o->bits == 32 ? SF_FORMAT_FLOAT
								      : SF_FORMAT_PCM_16);
	sf = sf_open_fd(fd, SFM_WRITE, &info, SF_TRUE);
	if (!sf) {
		fail(r, "cannot encode '%s' (%s)", path, sf_strerror(NULL));
		goto unlink;
	}
	sf_command(sf, SFC_SET_ADD_PEAK_CHUNK, NULL, SF_FALSE);
	if (o->bits == 32) {
		float *f = xmalloc(n * sizeof(*f));
		for (size_t i = 0; i < n; i++)
			f[i] = (float)x[i];
		wrote = sf_writef_float(sf, f, (sf_count_t)n);
		free(f);
	} else {
		/* our own rounding (no dither), so the bytes do not depend on libsndfile's */
		int *v = xmalloc(n * sizeof(*v));
		double full = o->bits == 24 ? 8388608.0 : 32768.0;
		for (size_t i = 0; i < n; i++) {
			double s = nearbyint(x[i] * full);
			s = s > full - 1 ? full - 1 : s < -full ? -full : s;
			v[i] = (int)s * (o->bits == 24 ? 256 : 65536);
		}
		wrote = sf_writef_int(sf, v, (sf_count_t)n);
		free(v);
	}
	if (wrote != (sf_count_t)n) {
		fail(r, "cannot write '%s' (%s)", path, sf_strerror(sf));
		sf_close(sf);
		goto unlink;
	}
	if (sf_close(sf) != 0) {
		fail(r, "cannot write '%s'", path);
		goto unlink;
	}
	if (rename(tmp, path) < 0) {
		fail(r, "cannot rename '%s' to '%s' (%s)", tmp, path, strerror(errno));
		goto unlink;
	}
	ret = 0;
	goto out;
unlink:
	unlink(tmp);
out:
	free(tmp);
	return ret;
}

/* The output's samples as they will be stored, so its statistics are the file's. */
static void quantize(double *x, size_t n, int bits)
{
	double full = bits == 24 ? 8388608.0 : 32768.0;

	for (size_t i = 0; i < n; i++) {
		double s;
		if (bits == 32) {
			x[i] = (float)x[i];
			continue;
		}
		s = nearbyint(x[i] * full);
		s = s > full - 1 ? full - 1 : s < -full ? -full : s;
		x[i] = s / full;
	}
}

int audio_clean(const char *in, const char *out, const struct audio_opts *o,
		struct audio_result *r)
{
	SF_INFO info;
	double *buf = decode(in, &info, r), *x, *back = NULL, peak, level, gain = 0;
	size_t n, start = 0, end, first = 0, last = 0, pad = 0;
	int rate, to;
	struct audio_filter f;

	if (!buf)
		return -1;
	n = (size_t)info.frames;
	rate = info.samplerate;
	to = o->rate ? o->rate : rate;
	r->in.duration = (double)n / rate;
	r->in.rate = rate;
	r->in.channels = info.channels;
	x = xmalloc(n * sizeof(*x));
	for (size_t i = 0; i < n; i++) {
		double s = buf[i * (size_t)info.channels];
		if (o->mix)
			for (int c = 1; c < info.channels; c++)
				s += buf[i * (size_t)info.channels + (size_t)c];
		x[i] = o->mix ? s / info.channels : s;
	}
	free(buf);

	/*
	 * A causal high-pass rings after a sudden end of sound, above the trim
	 * threshold for tens of milliseconds.  So the end of the sound is found
	 * on a copy filtered backwards in time (where the ringing comes before
	 * the sound instead), the start on the forward-filtered signal itself.
	 */
	if (o->highpass > 0) {
		if (audio_filter_highpass(&f, o->highpass, rate) < 0) {
			free(x);
			return fail(r, "high-pass %g Hz is not under the Nyquist frequency (%d Hz)",
				    o->highpass, rate / 2);
		}
		if (o->trim_db < 0) {
			back = xmalloc(n * sizeof(*back));
			for (size_t i = 0; i < n; i++)
				back[i] = x[n - 1 - i];
			audio_filter_run(&f, back, n);
			audio_filter_highpass(&f, o->highpass, rate);
		}
		audio_filter_run(&f, x, n);
	}
	if (o->lowpass > 0) {
		int nyq = (rate < to ? rate : to) / 2;
		if (o->lowpass >= nyq) {
			r->flags |= AUDIO_FLAG_LOWPASS_SKIPPED;
			r->note = xasprintf("low-pass %g Hz skipped: at or above the Nyquist frequency (%d Hz)",
					    o->lowpass, nyq);
		} else {
			audio_filter_lowpass(&f, o->lowpass, rate);
			audio_filter_run(&f, x, n);
		}
	}

	peak = audio_peak(x, n);
	if (audio_db(peak) < SILENT_DB) {
		free(x);
		free(back);
		return fail(r, "silent (peak under %.0f dBFS)", SILENT_DB);
	}
	if (o->trim_db < 0) {
		size_t s0, e0, s1, e1;
		audio_trim_bounds(x, n, peak * pow(10, o->trim_db / 20), 0, &s0, &e0);
		if (back && audio_trim_bounds(back, n, audio_peak(back, n) * pow(10, o->trim_db / 20), 0,
					      &s1, &e1) == 0)
			e0 = n - s1; /* back is reversed: its first sound is x's last */
		pad = (size_t)llround(o->trim_pad * to);
		first = (size_t)floor((double)s0 * to / rate);
		last = (size_t)ceil((double)e0 * to / rate);
	}
	free(back);
	if (to != rate && !(x = resample(x, &n, rate, to, r)))
		return -1;
	if (o->trim_db < 0) {
		start = first > pad ? first - pad : 0;
		end = last + pad < n ? last + pad : n;
		if (end <= start) {
			free(x);
			return fail(r, "silent after trimming");
		}
	} else {
		end = n;
	}
	n = end - start;
	memmove(x, x + start, n * sizeof(*x));

	if (o->level_mode != AUDIO_LEVEL_NONE) {
		level = o->level_mode == AUDIO_LEVEL_LOUDNESS ? loudness(x, n, 1, to) : NAN;
		if (isnan(level)) {
			if (o->level_mode == AUDIO_LEVEL_LOUDNESS)
				r->flags |= AUDIO_FLAG_RMS_LEVELLED;
			level = audio_db(audio_rms(x, n));
		}
		gain = audio_level_gain(level, o->level, audio_db(audio_peak(x, n)), o->peak_db,
					&r->flags);
		if (gain != 0) {
			double g = pow(10, gain / 20);
			for (size_t i = 0; i < n; i++)
				x[i] *= g;
		}
	}
	r->gain_db = gain;
	quantize(x, n, o->bits);
	if (encode(out, x, n, to, o, r) < 0) {
		free(x);
		return -1;
	}
	measure(x, n, 1, to, o->trim_db < 0 ? o->trim_db : -45, &r->out);
	free(x);
	return 0;
}
