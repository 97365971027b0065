/*
 * Butterworth high- and low-pass filters as cascades of biquads (second
 * order sections).  An order-N Butterworth filter is N/2 sections sharing
 * the cutoff, section k with quality 1 / (2 cos((2k + 1) pi / 2N)); each is
 * mapped to the digital domain with the bilinear transform prewarped at the
 * cutoff, so the cascade is -3 dB exactly there.  Order 8 (48 dB per octave)
 * takes a 20 Hz hum 48 dB down under a 40 Hz high-pass, where sox's 2-pole
 * highpass would leave most of it.
 */
#include <math.h>

#include "audio/audio.h"

static int design(struct audio_filter *f, double hz, double rate, int high)
{
	double w0, cw, sw;

	if (!(hz > 0 && hz < rate / 2))
		return -1;
	w0 = 2 * M_PI * hz / rate;
	cw = cos(w0);
	sw = sin(w0);
	f->n = AUDIO_FILTER_ORDER / 2;
	for (size_t k = 0; k < f->n; k++) {
		double q = 1 / (2 * cos((2.0 * (double)k + 1) * M_PI / (2.0 * AUDIO_FILTER_ORDER)));
		double alpha = sw / (2 * q), a0 = 1 + alpha;
		double b = high ? (1 + cw) / 2 : (1 - cw) / 2;
		struct biquad *s = &f->s[k];

		s->b0 = b / a0;
		s->b1 = (high ? -2 * b : 2 * b) / a0;
		s->b2 = b / a0;
		s->a1 = -2 * cw / a0;
		s->a2 = (1 - alpha) / a0;
		s->z1 = s->z2 = 0;
	}
	return 0;
}

int audio_filter_highpass(struct audio_filter *f, double hz, double rate)
{
	return design(f, hz, rate, 1);
}

int audio_filter_lowpass(struct audio_filter *f, double hz, double rate)
{
	return design(f, hz, rate, 0);
}

void audio_filter_run(struct audio_filter *f, double *x, size_t n)
{
	for (size_t k = 0; k < f->n; k++) {
		struct biquad *s = &f->s[k];
		double z1 = s->z1, z2 = s->z2;

		for (size_t i = 0; i < n; i++) {
			double in = x[i], out = s->b0 * in + z1;
			z1 = s->b1 * in - s->a1 * out + z2;
			z2 = s->b2 * in - s->a2 * out;
			x[i] = out;
		}
		s->z1 = z1;
		s->z2 = z2;
	}
}

double audio_filter_gain_db(const struct audio_filter *f, double hz, double rate)
{
	double w = 2 * M_PI * hz / rate, g = 0;

	for (size_t k = 0; k < f->n; k++) {
		const struct biquad *s = &f->s[k];
		/* |H(e^jw)|^2 as (num re^2 + im^2) / (den re^2 + im^2) */
		double nr = s->b0 + s->b1 * cos(w) + s->b2 * cos(2 * w);
		double ni = -s->b1 * sin(w) - s->b2 * sin(2 * w);
		double dr = 1 + s->a1 * cos(w) + s->a2 * cos(2 * w);
		double di = -s->a1 * sin(w) - s->a2 * sin(2 * w);
		g += 10 * log10((nr * nr + ni * ni) / (dr * dr + di * di));
	}
	return g;
}
