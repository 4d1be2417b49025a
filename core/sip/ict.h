/*
 * ict.h - a relayed INVITE's client transaction once it has a provisional
 * response over UDP (RFC 3261 17.1.1 Proceeding and Completed, 16.7-16.10
 * Timer C and CANCEL), taken over from nta so the call's messages are
 * freed when it is answered (ict.c says why).
 */
#ifndef TZ_ICT_H
#define TZ_ICT_H

#include <sofia-sip/nta.h>

typedef struct tz_ict tz_ict_t;

/* What the transaction hears for its owner: a response (resp, which the
 * callee takes), or a final status of its own with resp NULL (408 when
 * nothing answered the CANCEL in time). After a final status the
 * transaction no longer calls: the owner forgets it. */
typedef void (*tz_ict_f)(void *arg, msg_t *resp, int status);

/* Takes over orq, an INVITE in Proceeding sent over UDP and not cancelled;
 * the caller then destroys orq, which nta frees at once. timer_c: ms of
 * ringing before it is cancelled; wait: ms a rejected INVITE stays to
 * repeat its ACK (Timer D), and an unanswered CANCEL waits. NULL when out
 * of memory (the caller keeps orq). */
tz_ict_t *tz_ict_adopt(nta_outgoing_t *orq, tz_ict_f fn, void *arg,
                       unsigned timer_c, unsigned wait);
/* Sends CANCEL for it (once); its final response still comes to fn. */
void tz_ict_cancel(tz_ict_t *t);
/* The owner goes away before the final response (shutdown): fn is not
 * called again and the transaction ends. */
void tz_ict_release(tz_ict_t *t);

/* A response that matched none of nta's transactions: 1 if it belonged
 * to one of ours (msg taken), else 0. */
int tz_ict_response(msg_t *msg);

/* The calling worker's table: made before the first adoption, ended
 * after the last owner released its transactions. */
int tz_ict_start(void);
void tz_ict_stop(void);

#endif
