/*
 * synthflow audio clean|stats: the clean chain and clip statistics over
 * many clips in one process (docs/audio.md).  Clips go to a pool of worker
 * threads; results are reported in input order (stdout, and $SF_METRICS
 * when set), so the output does not depend on --jobs.  A clip that fails is
 * reported with its name and the others go on; the exit status is 1 when any
 * failed.
 */
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <math.h>
#include <pthread.h>
#include <unistd.h>

#include "audio/audio.h"
#include "cmd/cmd.h"
#include "util/common.h"
#include "util/fs.h"
#include "util/timeutil.h"

struct clip {
	const char *in;                 /* as given */
	char *out;                      /* clean: the output path; malloc'd */
	struct audio_result r;
	int done;
};

struct pool {
	struct clip *clips;
	size_t n, next;
	int clean;
	const struct audio_opts *o;
	double trim_db;
	pthread_mutex_t mu;
	pthread_cond_t cv;
};

static void process(struct pool *p, struct clip *c)
{
	if (!p->clean) {
		audio_stats(c->in, p->trim_db, &c->r);
		return;
	}
	if (c->r.error)
		return; /* found before the pool started (path problems) */
	{
		char *dir = xstrdup(c->out), *slash = strrchr(dir, '/');
		if (slash && slash != dir) {
			*slash = '\0';
			if (mkdir_p(dir, 0755) < 0)
				c->r.error = xasprintf("cannot create '%s' (%s)", dir, strerror(errno));
		}
		free(dir);
	}
	if (!c->r.error)
		audio_clean(c->in, c->out, p->o, &c->r);
}

static void *worker(void *arg)
{
	struct pool *p = arg;

	for (;;) {
		struct clip *c;
		pthread_mutex_lock(&p->mu);
		c = p->next < p->n ? &p->clips[p->next++] : NULL;
		pthread_mutex_unlock(&p->mu);
		if (!c)
			return NULL;
		process(p, c);
		pthread_mutex_lock(&p->mu);
		c->done = 1;
		pthread_cond_broadcast(&p->cv);
		pthread_mutex_unlock(&p->mu);
	}
}

/* JSON numbers with three decimals (no binary noise), null for NAN/infinity. */
static json_t *num(double v)
{
	return isfinite(v) ? json_real(round(v * 1000) / 1000) : json_null();
}

static void add_stats(json_t *o, const struct audio_stats *s, int full)
{
	json_object_set_new(o, "duration", num(s->duration));
	json_object_set_new(o, "rate", json_integer(s->rate));
	json_object_set_new(o, "channels", json_integer(s->channels));
	if (!full)
		return;
	json_object_set_new(o, "peak_db", num(s->peak_db));
	json_object_set_new(o, "rms_db", num(s->rms_db));
	json_object_set_new(o, "lufs", num(s->lufs));
	json_object_set_new(o, "clipped", json_integer(s->clipped));
	json_object_set_new(o, "silence_lead", num(s->lead));
	json_object_set_new(o, "silence_trail", num(s->trail));
	json_object_set_new(o, "snr_db", num(s->snr_db));
	json_object_set_new(o, "wave", json_string(s->wave));
}

static json_t *clip_json(const struct pool *p, const struct clip *c)
{
	json_t *o = json_object(), *flags;

	json_object_set_new(o, "item", json_string(c->in));
	if (c->r.error) {
		json_object_set_new(o, "error", json_string(c->r.error));
		return o;
	}
	if (!p->clean) {
		add_stats(o, &c->r.in, 1);
		return o;
	}
	json_object_set_new(o, "output", json_string(c->out));
	add_stats(o, &c->r.out, 1);
	json_object_set_new(o, "duration_in", num(c->r.in.duration));
	json_object_set_new(o, "rate_in", json_integer(c->r.in.rate));
	json_object_set_new(o, "channels_in", json_integer(c->r.in.channels));
	json_object_set_new(o, "gain_db", num(c->r.gain_db));
	flags = json_array();
	for (unsigned bit = 1; audio_flag_name(bit); bit <<= 1)
		if (c->r.flags & bit)
			json_array_append_new(flags, json_string(audio_flag_name(bit)));
	json_object_set_new(o, "flags", flags);
	return o;
}

static char *json_line(json_t *o)
{
	char *s = cmd_json_line(o);
	json_decref(o);
	return s;
}

static void print_text(const struct pool *p, const struct clip *c)
{
	const struct audio_stats *s = p->clean ? &c->r.out : &c->r.in;

	if (p->clean) {
		printf("%s -> %s: %.3f s -> %.3f s at %d Hz, gain %+.2f dB, %.1f LUFS, peak %.1f dBFS",
		       c->in, c->out, c->r.in.duration, s->duration, s->rate, c->r.gain_db, s->lufs,
		       s->peak_db);
		for (unsigned bit = 1; audio_flag_name(bit); bit <<= 1)
			if (c->r.flags & bit)
				printf(" [%s]", audio_flag_name(bit));
		putchar('\n');
		return;
	}
	printf("%s: %.3f s, %d Hz, %d ch, peak %.1f dBFS, rms %.1f dBFS, %.1f LUFS, %lld clipped, "
	       "silence %.3f s + %.3f s, snr %.1f dB\n",
	       c->in, s->duration, s->rate, s->channels, s->peak_db, s->rms_db, s->lufs, s->clipped,
	       s->lead, s->trail, s->snr_db);
}

/* The folder every input lies in (by real path), with a trailing '/'. */
static char *common_folder(char **real, size_t n)
{
	size_t len;

	if (!n)
		return xstrdup("/");
	len = strrchr(real[0], '/') - real[0] + 1;
	for (size_t i = 1; i < n; i++) {
		size_t k = 0;
		while (k < len && real[i][k] == real[0][k])
			k++;
		while (k > 0 && real[0][k - 1] != '/')
			k--;
		len = k;
	}
	return xstrndup(real[0], len);
}

/* The input's real path: its folder resolved, its own name kept (a link stays a link). */
static char *real_input(const char *in)
{
	const char *slash = strrchr(in, '/');
	char *dir = slash ? xstrndup(in, (size_t)(slash - in + (slash == in))) : xstrdup(".");
	char *real = path_real(dir), *ret = NULL;

	if (real)
		ret = xasprintf("%s/%s", strcmp(real, "/") ? real : "", slash ? slash + 1 : in);
	free(dir);
	free(real);
	return ret;
}

static int cmp_out(const void *a, const void *b)
{
	const struct clip *x = *(struct clip *const *)a, *y = *(struct clip *const *)b;
	return strcmp(x->out, y->out);
}

/* Output paths: OUTDIR/<path relative to base>, the extension set to the format's. */
static void plan_outputs(struct clip *clips, size_t n, const char *outdir, const char *base,
			 const struct audio_opts *o)
{
	char **real = xcalloc(n ? n : 1, sizeof(*real)), *common = NULL;
	struct clip **sorted = xcalloc(n ? n : 1, sizeof(*sorted));
	size_t nreal = 0, blen;

	for (size_t i = 0; i < n; i++) {
		if (!(real[i] = real_input(clips[i].in)))
			clips[i].r.error = xasprintf("cannot resolve its folder (%s)", strerror(errno));
		else
			real[nreal++] = real[i];
	}
	if (base) {
		char *rb = path_real(base);
		common = rb ? xasprintf("%s/", strcmp(rb, "/") ? rb : "") : NULL;
		free(rb);
	} else {
		common = common_folder(real, nreal);
	}
	blen = common ? strlen(common) : 0;
	nreal = 0;
	for (size_t i = 0; i < n; i++) {
		const char *rel, *name, *dot;
		if (clips[i].r.error)
			continue;
		rel = real[nreal++];
		if (!common || strncmp(rel, common, blen)) {
			clips[i].r.error = xasprintf("not under the base folder '%s'", base);
			continue;
		}
		rel += blen;
		name = strrchr(rel, '/');
		name = name ? name + 1 : rel;
		dot = strrchr(name, '.');
		clips[i].out = xasprintf("%s/%.*s%s", outdir, (int)(dot && dot != name ? dot - rel : (ptrdiff_t)strlen(rel)),
					 rel, audio_format_ext(o->format));
	}
	for (size_t i = 0; i < nreal; i++)
		free(real[i]);
	free(real);
	free(common);

	/* a.wav and a.flac in one folder would both become a.flac: refuse the second */
	nreal = 0;
	for (size_t i = 0; i < n; i++)
		if (clips[i].out)
			sorted[nreal++] = &clips[i];
	qsort(sorted, nreal, sizeof(*sorted), cmp_out);
	for (size_t i = 1; i < nreal; i++)
		if (!strcmp(sorted[i]->out, sorted[i - 1]->out)) {
			struct clip *later = sorted[i] > sorted[i - 1] ? sorted[i] : sorted[i - 1];
			struct clip *first = later == sorted[i] ? sorted[i - 1] : sorted[i];
			if (!later->r.error)
				later->r.error = xasprintf("same output '%s' as '%s'", later->out,
							   first->in);
		}
	free(sorted);
}

static int open_metrics(void)
{
	const char *path = getenv("SF_METRICS");
	int fd;

	if (!path || !*path)
		return -1;
	fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0644);
	if (fd < 0)
		warning("cannot open $SF_METRICS '%s' (%s); no metrics written", path, strerror(errno));
	return fd;
}

static int run_pool(struct pool *p, int jobs, int json)
{
	pthread_t *th;
	int failed = 0, metrics = open_metrics();
	size_t nth = (size_t)jobs < p->n ? (size_t)jobs : p->n;

	pthread_mutex_init(&p->mu, NULL);
	pthread_cond_init(&p->cv, NULL);
	th = xcalloc(nth ? nth : 1, sizeof(*th));
	for (size_t i = 0; i < nth; i++)
		if (pthread_create(&th[i], NULL, worker, p))
			die("cannot start a worker thread");
	for (size_t i = 0; i < p->n; i++) {
		struct clip *c = &p->clips[i];
		char *line;

		pthread_mutex_lock(&p->mu);
		while (!c->done)
			pthread_cond_wait(&p->cv, &p->mu);
		pthread_mutex_unlock(&p->mu);
		line = json_line(clip_json(p, c));
		if (c->r.error) {
			error("'%s': %s", c->in, c->r.error);
			failed = 1;
		} else if (json) {
			puts(line);
		} else {
			print_text(p, c);
		}
		if (c->r.note)
			note("'%s': %s", c->in, c->r.note);
		if (metrics >= 0) {
			struct strbuf sb = STRBUF_INIT;
			sb_adds(&sb, line);
			sb_addch(&sb, '\n');
			if (write(metrics, sb.buf, sb.len) != (ssize_t)sb.len) {
				warning("cannot write $SF_METRICS (%s); no more metrics written",
					strerror(errno));
				close(metrics);
				metrics = -1;
			}
			sb_release(&sb);
		}
		free(line);
		audio_result_release(&c->r);
		free(c->out);
	}
	for (size_t i = 0; i < nth; i++)
		pthread_join(th[i], NULL);
	free(th);
	if (metrics >= 0)
		close(metrics);
	fflush(stdout);
	return failed;
}

static int default_jobs(void)
{
	long n = sysconf(_SC_NPROCESSORS_ONLN);
	return n > 0 ? (int)n : 1;
}

/* The inputs: the operands, then the paths in each --items file, in order. */
static int collect_inputs(const struct cmd_args *args, struct strbuf *items_buf, char ***in,
			  size_t *nin)
{
	size_t nfiles, alloc = (size_t)args->argc;
	char **files = cmd_list(args, "items", &nfiles);

	*in = xcalloc(alloc ? alloc : 1, sizeof(**in));
	memcpy(*in, args->argv, (size_t)args->argc * sizeof(**in));
	*nin = (size_t)args->argc;
	/* all files into one buffer first: pointers into it are taken once it stops growing */
	for (size_t i = 0; i < nfiles; i++) {
		if (sb_read_file(items_buf, files[i]) < 0)
			return error("cannot read '%s' (%s)", files[i], strerror(errno));
		if (items_buf->len && items_buf->buf[items_buf->len - 1])
			sb_addch(items_buf, '\0'); /* a last path without its NUL ends with its file */
	}
	for (size_t p = 0; p < items_buf->len; p += strlen(items_buf->buf + p) + 1) {
		if (*nin == alloc) {
			alloc = alloc ? alloc * 2 : 64;
			*in = xrealloc(*in, alloc * sizeof(**in));
		}
		(*in)[(*nin)++] = items_buf->buf + p;
	}
	return 0;
}

/* The clean chain's settings from the options; a usage error (2) when they contradict. */
static int clean_opts(const struct cmd_args *args, struct sf_ctx *ctx, struct audio_opts *o)
{
	const char *v;
	double level;

	if ((v = cmd_str(args, "rate", NULL)))
		o->rate = 0; /* keep */
	else
		o->rate = (int)cmd_int(args, "rate", o->rate);
	o->mix = !strcmp(cmd_str(args, "channels", o->mix ? "mix" : "first"), "mix");
	if ((v = cmd_str(args, "bits", NULL)))
		o->bits = atoi(v);
	o->highpass = cmd_num(args, "highpass", o->highpass);
	o->lowpass = cmd_num(args, "lowpass", o->lowpass);
	o->trim_pad = (double)cmd_int(args, "trim-pad", (long)(o->trim_pad * 1000)) / 1000;
	if (cmd_str(args, "loudness", NULL)) {
		o->level_mode = AUDIO_LEVEL_NONE; /* off */
	} else if (!isnan(level = cmd_num(args, "loudness", NAN))) {
		o->level_mode = AUDIO_LEVEL_LOUDNESS;
		o->level = level;
	}
	if (!isnan(level = cmd_num(args, "rms-db", NAN))) {
		/* an RMS target wins over a loudness one */
		o->level_mode = AUDIO_LEVEL_RMS;
		o->level = level;
	}
	o->peak_db = cmd_num(args, "peak-db", o->peak_db);
	if ((v = cmd_str(args, "format", NULL)))
		o->format = !strcmp(v, "wav") ? AUDIO_WAV : AUDIO_FLAC;

	if (o->bits == 32 && o->format == AUDIO_FLAC)
		return cmd_usage_error(ctx, "--bits 32f needs --format wav (FLAC stores integers)");
	if (o->highpass > 0 && o->lowpass > 0 && o->highpass >= o->lowpass)
		return cmd_usage_error(ctx, "--highpass %g must be under --lowpass %g", o->highpass,
				       o->lowpass);
	return 0;
}

static int exec_audio(const struct cmd_args *args, struct sf_ctx *ctx)
{
	struct audio_opts o;
	struct pool p = { 0 };
	struct strbuf items_buf = STRBUF_INIT;
	const char *outdir = NULL;
	char **in = NULL;
	size_t nin = 0, nitems;
	int ret;

	p.clean = !strcmp(ctx->sub, "clean");
	audio_opts_default(&o);
	o.trim_db = p.trim_db = cmd_num(args, "trim-db", o.trim_db);

	cmd_list(args, "items", &nitems);
	if (!args->argc && !nitems)
		ret = cmd_usage_error(ctx, "no input files");
	else if (p.clean && !(outdir = cmd_str(args, "output", NULL)))
		ret = cmd_usage_error(ctx, "'audio clean' needs an output folder (-o OUTDIR)");
	else if (p.clean && (ret = clean_opts(args, ctx, &o)))
		;
	else if (collect_inputs(args, &items_buf, &in, &nin) < 0)
		ret = 1;
	else if (p.clean && mkdir_p(outdir, 0755) < 0)
		ret = error("cannot create '%s' (%s)", outdir, strerror(errno)) < 0;
	else
		ret = -1;
	if (ret >= 0) {
		free(in);
		sb_release(&items_buf);
		return ret;
	}

	p.n = nin;
	p.o = &o;
	p.clips = xcalloc(nin ? nin : 1, sizeof(*p.clips));
	for (size_t i = 0; i < nin; i++)
		p.clips[i].in = in[i];
	if (p.clean)
		plan_outputs(p.clips, nin, outdir, cmd_str(args, "base", NULL), &o);
	ret = run_pool(&p, (int)cmd_int(args, "jobs", default_jobs()), cmd_flag(args, "json"));
	free(p.clips);
	free(in);
	sb_release(&items_buf);
	return ret;
}

#define AUDIO_COMMON_OPTIONS \
	CMD_LIST("items", 0, "FILE", "more inputs, NUL-separated (a batch's $SF_ITEMS)"), \
	CMD_INT("jobs", 'j', "N", 1, 1024, "worker threads (default: the number of CPUs)"), \
	CMD_FLAG("json", 0, "one JSON object per clip on stdout"), \
	CMD_NUMBER("trim-db", 0, "DB", -INFINITY, 0, "dB", NULL, \
		   "silence is DB under the clip's peak (default -45; 0: no trim)")

const struct cmd_entry cmd_audio_entry = {
	.name = "audio",
	.summary = "clean clips (filter, resample, trim, level) and measure them",
	.usage = "synthflow audio clean IN... -o OUTDIR [OPTIONS] | stats IN... [--json]\n"
		 "\n"
		 "  clean   one decode, one pass and one encode per clip, clips in parallel:\n"
		 "          first channel (or mix), high-pass, low-pass, resample (libsoxr),\n"
		 "          trim silence, level to a loudness (or RMS) target under a peak limit.\n"
		 "          Each output is OUTDIR/ plus the input's path relative to the inputs'\n"
		 "          common folder (or --base), same name, extension of --format.\n"
		 "  stats   duration, rate, channels, peak, RMS, loudness, clipped samples,\n"
		 "          leading/trailing silence and an SNR estimate per clip\n"
		 "\n"
		 "  --items FILE        more inputs, NUL-separated (a batch's $SF_ITEMS)\n"
		 "  --jobs N            worker threads (default: the number of CPUs)\n"
		 "  --json              one JSON object per clip on stdout\n"
		 "  --trim-db DB        silence is DB under the clip's peak (default -45; 0: no trim)\n"
		 "clean only:\n"
		 "  -o OUTDIR           output folder (created)     --base DIR   folder outputs are relative to\n"
		 "  --rate HZ|keep      output rate (22050)         --channels first|mix (first)\n"
		 "  --bits 16|24|32f    sample format (16)          --format flac|wav (flac)\n"
		 "  --highpass HZ       order-8 Butterworth (40; 0: off)\n"
		 "  --lowpass HZ        order-8 Butterworth (18000; 0: off; skipped at or above Nyquist)\n"
		 "  --trim-pad DUR      silence kept at each end (50ms)\n"
		 "  --loudness LUFS|off integrated loudness target (-23); clips under 400 ms by RMS\n"
		 "  --rms-db DB         RMS level target instead of loudness\n"
		 "  --peak-db DB        sample peak limit, wins over the target (-1)\n"
		 "\n"
		 "A clip that fails (unreadable, empty, silent, unsupported) is reported with its\n"
		 "name and the others go on; exit 1 when any failed.  With $SF_METRICS set, one\n"
		 "JSON line per clip is appended there.  See docs/audio.md.\n",
	.subs = (const struct cmd_entry[]){
		{ .name = "clean", .summary = "filter, resample, trim and level clips into OUTDIR",
		  .args = "[FILE...]", .exec = exec_audio,
		  .options = (const struct cmd_option[]){
			AUDIO_COMMON_OPTIONS,
			CMD_STRING("output", 'o', "OUTDIR", "output folder (created)"),
			CMD_STRING("base", 0, "DIR", "folder the outputs are relative to"),
			CMD_INT_UNIT("rate", 0, "HZ", 1000, 768000, "Hz", "keep",
				     "output rate (default 22050; keep: the input's)"),
			CMD_CHOICE("channels", 0, "MODE", "first|mix", "first channel or their mean"),
			CMD_CHOICE("bits", 0, "BITS", "16|24|32f", "sample format (default 16; 32f: WAV only)"),
			CMD_CHOICE("format", 0, "FORMAT", "flac|wav", "output format (default flac)"),
			CMD_NUMBER("highpass", 0, "HZ", 0, INFINITY, "Hz", NULL,
				   "order-8 Butterworth high-pass (default 40; 0: off)"),
			CMD_NUMBER("lowpass", 0, "HZ", 0, INFINITY, "Hz", NULL,
				   "order-8 Butterworth low-pass (default 18000; 0: off)"),
			CMD_DURATION("trim-pad", 0, "DUR", 0, 10000,
				     "silence kept at each end (default 50ms)"),
			CMD_NUMBER("loudness", 0, "LUFS", -70, 0, "LUFS", "off",
				   "integrated loudness target (default -23)"),
			CMD_NUMBER("rms-db", 0, "DB", -70, 0, "dB", NULL,
				   "RMS level target instead of loudness"),
			CMD_NUMBER("peak-db", 0, "DB", -70, 0, "dB", NULL,
				   "sample peak limit, wins over the target (default -1)"),
			CMD_END } },
		{ .name = "stats", .summary = "measure clips", .args = "[FILE...]",
		  .exec = exec_audio,
		  .options = (const struct cmd_option[]){ AUDIO_COMMON_OPTIONS, CMD_END } },
		{ 0 },
	},
};
