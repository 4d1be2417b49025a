/*
 * clock.h - test mode's virtual clock (clock.c).
 */
#ifndef TZ_TEST_CLOCK_H
#define TZ_TEST_CLOCK_H

/* From now on the calling thread's clocks stand still until advanced; the
 * wall clock at epoch (seconds, UTC), or at the real time if negative. */
void tz_testclock_start(long long epoch);
/* Moves the calling thread's clocks ms forward. */
void tz_testclock_advance(long long ms);
/* The real monotonic clock, in ms (for the harness's own deadlines). */
long long tz_testclock_real_ms(void);

#endif
