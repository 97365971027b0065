/* Unit tests for src/audio/filter.c and level.c: the numbers behind a clean clip. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <math.h>
#include <string.h>

#include "audio/audio.h"
#include "util/common.h"

/* The level (dB) of a sine after filtering, from its steady-state half. */
static double run_sine(struct audio_filter *f, double hz, double rate)
{
	size_t n = (size_t)rate * 2;
	double *x = xmalloc(n * sizeof(*x)), ss = 0, sc = 0;

	for (size_t i = 0; i < n; i++)
		x[i] = sin(2 * M_PI * hz * (double)i / rate);
	audio_filter_run(f, x, n);
	for (size_t i = n / 2; i < n; i++) {
		ss += x[i] * sin(2 * M_PI * hz * (double)i / rate);
		sc += x[i] * cos(2 * M_PI * hz * (double)i / rate);
	}
	free(x);
	return 20 * log10(2 * hypot(ss, sc) / (double)(n - n / 2));
}

static void highpass_response(void **state)
{
	struct audio_filter f;

	assert_int_equal(audio_filter_highpass(&f, 40, 48000), 0);
	assert_int_equal(f.n, AUDIO_FILTER_ORDER / 2);
	/* Butterworth: -3 dB at the cutoff, flat above, 6 dB per octave per order below */
	assert_true(fabs(audio_filter_gain_db(&f, 40, 48000) + 3.0103) < 0.01);
	assert_true(fabs(audio_filter_gain_db(&f, 1000, 48000)) < 0.001);
	assert_true(audio_filter_gain_db(&f, 20, 48000) < -47);
	/* running it agrees with the coefficients' response */
	assert_true(fabs(run_sine(&f, 1000, 48000) - 0) < 0.01);
	assert_int_equal(audio_filter_highpass(&f, 40, 48000), 0);
	assert_true(fabs(run_sine(&f, 20, 48000) - audio_filter_gain_db(&f, 20, 48000)) < 0.5);
}

static void lowpass_response(void **state)
{
	struct audio_filter f;

	assert_int_equal(audio_filter_lowpass(&f, 8000, 44100), 0);
	assert_true(fabs(audio_filter_gain_db(&f, 8000, 44100) + 3.0103) < 0.01);
	assert_true(fabs(audio_filter_gain_db(&f, 500, 44100)) < 0.001);
	assert_true(audio_filter_gain_db(&f, 16000, 44100) < -48);
	assert_true(fabs(run_sine(&f, 1000, 44100)) < 0.01);
}

static void filter_rejects_cutoffs_outside_the_band(void **state)
{
	struct audio_filter f;

	assert_int_equal(audio_filter_lowpass(&f, 11025, 22050), -1);
	assert_int_equal(audio_filter_highpass(&f, 0, 22050), -1);
	assert_int_equal(audio_filter_highpass(&f, -5, 22050), -1);
}

static void trim_bounds_keep_the_pad(void **state)
{
	double x[100] = { 0 };
	size_t s, e;

	x[30] = 0.5;
	x[60] = -1;
	x[70] = 0.001; /* under the threshold: silence */
	assert_int_equal(audio_trim_bounds(x, 100, 0.1, 5, &s, &e), 0);
	assert_int_equal(s, 25);
	assert_int_equal(e, 66);
	/* the pad never reaches past the clip */
	assert_int_equal(audio_trim_bounds(x, 100, 0.1, 50, &s, &e), 0);
	assert_int_equal(s, 0);
	assert_int_equal(e, 100);
	assert_int_equal(audio_trim_bounds(x, 100, 2, 5, &s, &e), -1);
}

static void peak_limit_wins_over_the_target(void **state)
{
	unsigned flags = 0;

	/* -30 LUFS to -23: +7 dB, the peak -10 dBFS becomes -3: fine */
	assert_true(fabs(audio_level_gain(-30, -23, -10, -1, &flags) - 7) < 1e-9);
	assert_int_equal(flags, 0);
	/* a peak of -4 dBFS would reach +3: the gain stops at -1 dBFS, flagged */
	assert_true(fabs(audio_level_gain(-30, -23, -4, -1, &flags) - 3) < 1e-9);
	assert_int_equal(flags, AUDIO_FLAG_PEAK_LIMITED);
}

static void levels_and_snr(void **state)
{
	size_t n = 48000;
	double *x = xmalloc(n * sizeof(*x));

	for (size_t i = 0; i < n; i++)
		x[i] = 0.5 * sin(2 * M_PI * 100 * (double)i / 48000);
	assert_true(fabs(audio_db(audio_peak(x, n)) - audio_db(0.5)) < 0.001);
	assert_true(fabs(audio_db(audio_rms(x, n)) - audio_db(0.5 / sqrt(2))) < 0.001);
	assert_true(isinf(audio_db(0)));
	/* a steady tone: signal and "noise" frames alike */
	assert_true(fabs(audio_snr_db(x, n, 48000)) < 0.01);
	/* quiet frames of digital silence: no estimate */
	for (size_t i = 0; i < n / 10; i++)
		x[i] = 0;
	assert_true(isnan(audio_snr_db(x, n, 48000)));
	/* a tenth of the frames 40 dB down: the estimate is 40 dB */
	for (size_t i = 0; i < n / 10; i++)
		x[i] = 0.005 * sin(2 * M_PI * 100 * (double)i / 48000);
	assert_true(fabs(audio_snr_db(x, n, 48000) - 40) < 0.5);
	assert_true(isnan(audio_snr_db(x, 100, 48000)));
	free(x);
}

static void wave_thumbnail(void **state)
{
	double env[96] = { 0 }, tiny[3] = { 0.5, 2.0, 0.25 };
	char out[AUDIO_WAVE_LEN + 1];

	(void)state;
	for (size_t i = 48; i < 96; i++)
		env[i] = i < 72 ? 0.5 : 1.0;
	env[1] = 1.0 / 63;
	audio_wave(env, 96, out);
	assert_string_equal(out, "B" "AAAAAAAAAAAAAAAAAAAAAAA" "gggggggggggg" "____________");
	/* fewer frames than slices: empty slices are silent; peaks over full scale are capped */
	audio_wave(tiny, 3, out);
	assert_int_equal(strlen(out), AUDIO_WAVE_LEN);
	assert_int_equal(out[15], 'g');
	assert_int_equal(out[31], '_');
	assert_int_equal(out[47], 'Q');
	assert_int_equal(strspn(out, "A"), 15);
	audio_wave(NULL, 0, out);
	assert_string_equal(out, "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(highpass_response),
		cmocka_unit_test(lowpass_response),
		cmocka_unit_test(filter_rejects_cutoffs_outside_the_band),
		cmocka_unit_test(trim_bounds_keep_the_pad),
		cmocka_unit_test(peak_limit_wins_over_the_target),
		cmocka_unit_test(levels_and_snr),
		cmocka_unit_test(wave_thumbnail),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
