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
/* After headers were added to a message that may keep its received text
 * (tportio.c): a token list header (Supported, Require, Allow, ...) that
 * took new items into its first field is printed again from its items, and
 * its other fields, left empty by the parser with their lines' text, go
 * (as Sofia's msg_header_add_make() does for one class). */
void hdr_reprint_lists(msg_t *msg, sip_t *sip);

#endif
