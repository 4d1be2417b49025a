/*
 * ast.h - the script tree shared by the parser, the checker and the
 * interpreter, plus the small helpers they all use.
 *
 * Internal to core/script/. Every node carries its tz_loc_t; everything
 * the interpreter needs (function exports, route targets, $var slots,
 * compiled regexes) is resolved into the nodes at load, so a run never
 * looks anything up by name. All nodes live in the script's su_home.
 */
#ifndef TZ_SCRIPT_AST_H
#define TZ_SCRIPT_AST_H

#include <regex.h>
#include <sofia-sip/su_alloc.h>

#include "script/script.h"
#include "script/pvar.h"
#include "lib/suggest.h"

/* Diagnostics stop being reported after this many errors. */
#define SCRIPT_MAX_ERRORS 20

typedef struct expr expr_t;
typedef struct stmt stmt_t;

typedef enum {
  EX_INT,
  EX_STR,
  EX_PVAR,
  EX_CALL,
  EX_ROUTE, /* route(name) */
  EX_NOT,
  EX_NEG,
  EX_AND,
  EX_OR,
  EX_EQ,
  EX_NE,
  EX_LT,
  EX_GT,
  EX_LE,
  EX_GE,
  EX_MATCH,  /* =~ */
  EX_NMATCH, /* !~ */
  EX_ADD,
  EX_SUB
} expr_kind_t;

/* A function call site. Constant arguments are converted (and fixed up)
 * once at load into args[]; dyn_mask marks those evaluated per call. */
typedef struct call {
  const char *name;
  tz_loc_t loc;
  int argc;
  expr_t *argv[TZ_MAX_ARGS];
  const tz_func_export_t *fe;
  tz_modinst_t *mod;
  tz_arg_t args[TZ_MAX_ARGS];
  fmt_t *fmt[TZ_MAX_ARGS]; /* FMT literals that contain $pvars */
  unsigned dyn_mask;
  unsigned fixed_mask; /* fixups that ran and must be undone */
} call_t;

struct expr {
  expr_kind_t kind;
  tz_loc_t loc;
  union {
    long i;
    struct {
      const char *s; /* decoded, NUL-terminated */
      size_t len;
      const char *raw; /* source text between the quotes, for FMT */
      size_t rawlen;
    } str;
    pvar_ref_t pv;
    call_t *call;
    struct {
      const char *name;
      tz_loc_t name_loc;
      tz_route_t *target;
    } route;
    struct {
      expr_t *l, *r;
      regex_t *re; /* EX_MATCH, EX_NMATCH */
    } bin;
  } u;
};

typedef enum {
  ST_EXPR,
  ST_IF,
  ST_BLOCK,
  ST_ASSIGN,
  ST_RETURN,
  ST_EXIT,
  ST_DROP
} stmt_kind_t;

struct stmt {
  stmt_kind_t kind;
  tz_loc_t loc;
  stmt_t *next;
  unsigned id; /* its counters in script->counts, when counting */
  union {
    expr_t *e; /* ST_EXPR; ST_RETURN (NULL for a bare return) */
    struct {
      expr_t *cond;
      stmt_t *then, *els;
    } cond;
    stmt_t *body; /* ST_BLOCK */
    struct {
      pvar_ref_t lhs;
      tz_loc_t lhs_loc;
      expr_t *rhs;
    } assign;
  } u;
};

typedef enum { RT_REQUEST, RT_REPLY, RT_FAILURE, RT_SUB } route_type_t;

struct tz_route {
  route_type_t type;
  const char *name; /* NULL for request_route and reply_route */
  tz_loc_t loc;
  stmt_t *body;
  /* Filled by the checker. */
  unsigned kinds;          /* route kinds that can reach this block */
  const tz_route_t *via[3]; /* per kind bit: a caller that brought it */
  expr_t **rcalls;         /* route(x) expressions inside */
  size_t nrcalls;
  call_t **calls;          /* function calls inside */
  size_t ncalls;
  int mark;                /* cycle search colour */
  unsigned id;             /* its counters in script->counts, when counting */
};

/* Coverage counters of one statement or route (tz_script_count_enable). */
typedef struct script_count {
  uint64_t hits;     /* statement executed, route entered */
  uint64_t taken[2]; /* ST_IF: condition true, false */
} script_count_t;

struct tz_script {
  su_home_t home[1]; /* first: the script is its own su_home object */
  tz_src_t src;
  tz_directive_t *dirs;
  size_t ndirs;
  tz_route_t **routes;
  size_t nroutes;
  tz_route_t *request, *reply;
  const char **vars; /* $var names; the index is the slot */
  size_t nvars;
  call_t **calls; /* every call site, for freeing and uses_module */
  size_t ncalls;
  regex_t **regexes; /* every compiled regex, for regfree */
  size_t nregexes;
  const tz_lang_t *lang; /* the host's functions and pseudo-variables */
  int checked;
  script_count_t *counts; /* by node id; NULL: not counting */
};

/* Parses s->src into s (parse.c). Returns 0, or -1 after reporting the
 * first syntax error. */
int script_parse(tz_script_t *s, tz_diag_t *d);

/* Appends one zeroed element of size `size` to the array *arr of *n
 * elements, growing it in the script's home; returns the new element. */
void *script_vec_push(tz_script_t *s, void *arr, size_t *n, size_t size);

/* Compiles a POSIX ERE owned by the script; on error reports at loc. */
regex_t *script_regex_compile(tz_script_t *s, const char *pattern, int flags,
                              const tz_loc_t *loc, tz_diag_t *d);

/* Shared by the parser and the checker: resolves a route name in a
 * route(x) call, reporting an unknown one with a suggestion. */
tz_route_t *script_find_route(const tz_script_t *s, route_type_t type,
                              const char *name);

/* The engine's own built-in functions (funcs.c: log, xlog). */
extern const tz_func_export_t script_funcs[];

/* Built-ins are overloaded by arity (log/1, log/2): returns the entry of
 * the engine's table or the script's language named `name` taking argc
 * arguments; sets *min and *max to the arity range over all entries of
 * that name (*min = -1 when there is none). */
const tz_func_export_t *script_func_find(const tz_script_t *s,
                                         const char *name, int argc, int *min,
                                         int *max);

#endif
