/*
 * Scheduler loop statistics for /metrics.  The loop records how long each
 * iteration worked (everything but waiting for events); the web server's
 * threads read the counters, hence the atomics.
 */
#include <stdatomic.h>
#include <time.h>

#include "flow/sched-int.h"
#include "util/common.h"
#include "util/timeutil.h"

int64_t sched_loop_begin(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

void sched_loop_end(struct sched *s, int64_t busy_from)
{
	uint64_t us = (uint64_t)(sched_loop_begin() - busy_from);

	atomic_fetch_add(&s->loops, 1);
	atomic_fetch_add(&s->loop_busy_us, us);
	if (us > atomic_load(&s->loop_max_us))
		atomic_store(&s->loop_max_us, us);
	atomic_store(&s->running_now, s->nprocs);
	atomic_store(&s->ready_now, s->ready_len);
	atomic_store(&s->last_tick_ms, time_mono_ms());
}

int64_t sched_tick_age_ms(struct sched *s)
{
	return time_mono_ms() - atomic_load(&s->last_tick_ms);
}

void sched_metrics(struct sched *s, struct strbuf *out)
{
	sb_addf(out,
		"# HELP synthflow_scheduler_loops_total Scheduler loop iterations.\n"
		"# TYPE synthflow_scheduler_loops_total counter\n"
		"synthflow_scheduler_loops_total %llu\n"
		"# HELP synthflow_scheduler_busy_seconds_total Time the loop spent working, not waiting.\n"
		"# TYPE synthflow_scheduler_busy_seconds_total counter\n"
		"synthflow_scheduler_busy_seconds_total %.6f\n"
		"# HELP synthflow_scheduler_loop_max_seconds The longest loop iteration so far.\n"
		"# TYPE synthflow_scheduler_loop_max_seconds gauge\n"
		"synthflow_scheduler_loop_max_seconds %.6f\n"
		"# HELP synthflow_scheduler_running_tasks Task processes running.\n"
		"# TYPE synthflow_scheduler_running_tasks gauge\n"
		"synthflow_scheduler_running_tasks %zu\n"
		"# HELP synthflow_scheduler_ready_tasks Task instances ready, waiting for a slot.\n"
		"# TYPE synthflow_scheduler_ready_tasks gauge\n"
		"synthflow_scheduler_ready_tasks %zu\n",
		(unsigned long long)atomic_load(&s->loops), atomic_load(&s->loop_busy_us) / 1e6,
		atomic_load(&s->loop_max_us) / 1e6, atomic_load(&s->running_now),
		atomic_load(&s->ready_now));
	sout_metrics(s, out);
}
