/*
 * lang.h - the SIP layer's part of the routing language: its built-in
 * functions (builtins.c) and pseudo-variables (pvars.c), handed to the
 * script engine as tz_sip_lang, and the header-name helpers both use
 * (hdr.c).
 */
#ifndef TZ_SIP_LANG_H
#define TZ_SIP_LANG_H

#include "script/script.h"

#include <sofia-sip/msg_types.h>

extern const tz_lang_t tz_sip_lang;
extern const tz_func_export_t tz_sip_funcs[];
extern const tz_pvar_def_t tz_sip_pvars[];

/* Header names: validated and classified at load (sip_unknown_class for
 * names Sofia does not know); hdr_validate reports a bad name in err and
 * returns -1. */
int hdr_validate(const char *name, char *err, size_t errlen);
msg_hclass_t *hdr_class(const char *name);
/* The slot of hc in m's sip_t, or NULL when the header is kept among the
 * unknown headers (as all are when m's message class does not know hc). */
msg_header_t **hdr_slot(tz_msg_t *m, msg_hclass_t *hc);
/* Whether an unknown header called `name` is the header (hc, arg). */
int hdr_matches(msg_hclass_t *hc, const char *arg, const char *name);

#endif
