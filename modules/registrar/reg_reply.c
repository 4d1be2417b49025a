/*
 * reg_reply.c - the registrar's 200 OK: all current bindings of the AOR,
 * each with the seconds it has left (RFC 3261 10.3 step 8).
 */
#define _POSIX_C_SOURCE 200809L
#include "reg.h"

#include <stdio.h>
#include <time.h>

#include <sofia-sip/su_alloc.h>

/* RFC 3261 20.17: RFC 1123 date, always GMT, English names. */
static char *reg_date_header(su_home_t *home)
{
  static const char *const days[] = {"Sun", "Mon", "Tue", "Wed", "Thu",
                                     "Fri", "Sat"};
  static const char *const months[] = {"Jan", "Feb", "Mar", "Apr", "May",
                                       "Jun", "Jul", "Aug", "Sep", "Oct",
                                       "Nov", "Dec"};
  time_t now = time(NULL);
  struct tm tm;
  gmtime_r(&now, &tm);
  return su_sprintf(home, "Date: %s, %02d %s %04d %02d:%02d:%02d GMT\r\n",
                    days[tm.tm_wday], tm.tm_mday, months[tm.tm_mon],
                    tm.tm_year + 1900, tm.tm_hour, tm.tm_min, tm.tm_sec);
}

static char *reg_contact_lines(su_home_t *home, const tz_binding_t *b, int n)
{
  long now = (long)time(NULL);
  char *out = su_strdup(home, "");
  for (int i = 0; out && i < n; i++) {
    long left = b[i].expires - now;
    char q[16] = "";
    if (b[i].q >= 0)
      snprintf(q, sizeof q, ";q=%d.%03d", b[i].q / 1000, b[i].q % 1000);
    out = su_sprintf(home, "%sContact: <%s>;expires=%ld%s\r\n", out,
                     b[i].contact, left > 0 ? left : 0, q);
  }
  return out;
}

void reg_reply_bindings(reg_state_t *st, tz_suspended_t *s, tz_msg_t *m,
                        const char *aor, const char *path)
{
  su_home_t home[1];
  su_home_init(home);
  tz_binding_t *b = NULL;
  int n = st->loc->lookup(st->loc_ctx, aor, home, &b);
  char *hdrs = NULL;
  if (n >= 0)
    hdrs = su_sprintf(home, "%s%s%s%s%s", reg_contact_lines(home, b, n),
                      reg_date_header(home), path ? "Path: " : "",
                      path ? path : "", path ? "\r\n" : "");
  int status = hdrs ? 200 : 500;
  const char *reason = hdrs ? "OK" : "Bindings Unavailable";
  if (s)
    tz_suspended_reply(s, status, reason, hdrs);
  else
    tz_msg_reply(m, status, reason, hdrs);
  su_home_deinit(home);
}
