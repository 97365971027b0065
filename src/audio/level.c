/* The numbers that decide a clip's trim and gain: pure, unit-tested. */
#include <math.h>
#include <stdlib.h>

#include "audio/audio.h"

double audio_db(double amplitude)
{
	return amplitude > 0 ? 20 * log10(amplitude) : -INFINITY;
}

double audio_peak(const double *x, size_t n)
{
	double p = 0;

	for (size_t i = 0; i < n; i++)
		if (fabs(x[i]) > p)
			p = fabs(x[i]);
	return p;
}

double audio_rms(const double *x, size_t n)
{
	double s = 0;

	if (!n)
		return 0;
	for (size_t i = 0; i < n; i++)
		s += x[i] * x[i];
	return sqrt(s / (double)n);
}

int audio_trim_bounds(const double *x, size_t n, double thresh, size_t pad, size_t *start,
		      size_t *end)
{
	size_t first = 0, last;

	while (first < n && fabs(x[first]) < thresh)
		first++;
	if (first == n)
		return -1;
	last = n - 1;
	while (fabs(x[last]) < thresh)
		last--;
	*start = first > pad ? first - pad : 0;
	*end = n - 1 - last > pad ? last + 1 + pad : n;
	return 0;
}

double audio_level_gain(double level, double target, double peak_db, double peak_limit,
			unsigned *flags)
{
	double gain = target - level;

	if (peak_db + gain > peak_limit) {
		gain = peak_limit - peak_db;
		*flags |= AUDIO_FLAG_PEAK_LIMITED;
	}
	return gain;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return (x > y) - (x < y);
}

double audio_snr_db(const double *x, size_t n, double rate)
{
	size_t frame = (size_t)(rate * 0.02), nf, tenth;
	double *e, lo = 0, hi = 0, snr;

	if (!frame || n / frame < 10)
		return NAN;
	nf = n / frame;
	e = malloc(nf * sizeof(*e));
	if (!e)
		return NAN;
	for (size_t i = 0; i < nf; i++) {
		double r = audio_rms(x + i * frame, frame);
		e[i] = r * r;
	}
	qsort(e, nf, sizeof(*e), cmp_double);
	tenth = nf / 10;
	for (size_t i = 0; i < tenth; i++) {
		lo += e[i];
		hi += e[nf - 1 - i];
	}
	snr = lo > 0 ? 10 * log10(hi / lo) : NAN;
	free(e);
	return snr;
}

void audio_wave(const double *env, size_t n, char *out)
{
	static const char b64[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

	for (size_t k = 0; k < AUDIO_WAVE_LEN; k++) {
		size_t from = k * n / AUDIO_WAVE_LEN, to = (k + 1) * n / AUDIO_WAVE_LEN;
		double peak = 0;

		for (size_t i = from; i < to; i++)
			if (env[i] > peak)
				peak = env[i];
		out[k] = b64[(int)lround(fmin(peak, 1.0) * 63)];
	}
	out[AUDIO_WAVE_LEN] = '\0';
}
