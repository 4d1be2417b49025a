/*
 * module.c - the module loader: libltdl only, API version and descriptor
 * checks, typed parameters, and instance lifetime.
 */
#define _POSIX_C_SOURCE 200809L
#include "runtime/module.h"
#include "lib/owner.h"

#include <assert.h>
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <ltdl.h>

typedef struct modlib {
  struct modlib *next;
  lt_dlhandle h;
  const tz_module_t *exp;
  unsigned refs;
} modlib_t;

struct tz_modinst {
  modlib_t *lib;
  const tz_module_t *exp;
  void *cfg;
  void *data;
  int initialized;
  tz_owner_t owner; /* every registration it made, to undo */
};

static modlib_t *libs;
static int ltdl_ready;

int tz_module_system_init(void)
{
  if (!ltdl_ready && lt_dlinit() != 0)
    return -1;
  ltdl_ready = 1;
  return 0;
}

void tz_module_system_deinit(void)
{
  if (ltdl_ready)
    lt_dlexit();
  ltdl_ready = 0;
}

void *tz_mod_cfg(tz_modinst_t *mi) { return mi->cfg; }
void *tz_mod_data(tz_modinst_t *mi) { return mi->data; }
void tz_mod_set_data(tz_modinst_t *mi, void *data) { mi->data = data; }
const char *tz_mod_name(const tz_modinst_t *mi) { return mi->exp->name; }
const tz_module_t *tz_modinst_export(const tz_modinst_t *mi) { return mi->exp; }
tz_owner_t *tz_modinst_owner(tz_modinst_t *mi)
{
  return mi ? &mi->owner : tz_core_owner();
}
unsigned tz_modinst_lib_refs(const tz_modinst_t *mi) { return mi->lib->refs; }

/* "registrar", "registrar.so", "/x/registrar.la" -> "registrar" */
static void module_base_name(const char *name, char *out, size_t outlen)
{
  const char *b = strrchr(name, '/');
  b = b ? b + 1 : name;
  size_t n = strcspn(b, ".");
  if (n >= outlen)
    n = outlen - 1;
  memcpy(out, b, n);
  out[n] = '\0';
}

/* Tries dir/name and, for the build tree layout, dir/name/name. */
static lt_dlhandle module_open_in(const char *dir, size_t dirlen,
                                  const char *base)
{
  char path[PATH_MAX];
  snprintf(path, sizeof path, "%.*s/%s", (int)dirlen, dir, base);
  lt_dlhandle h = lt_dlopenext(path);
  if (!h) {
    snprintf(path, sizeof path, "%.*s/%s/%s", (int)dirlen, dir, base, base);
    h = lt_dlopenext(path);
  }
  return h;
}

static lt_dlhandle module_open(const char *name, const char *base,
                               const char *mpath)
{
  if (strchr(name, '/'))
    return lt_dlopenext(name);
  for (const char *p = mpath; p && *p;) {
    size_t n = strcspn(p, ":");
    if (n) {
      lt_dlhandle h = module_open_in(p, n, base);
      if (h)
        return h;
    }
    p += n + (p[n] == ':');
  }
  return NULL;
}

static int module_check_export(const tz_module_t *e, const char *base,
                               char *err, size_t errlen)
{
  if (e->api_version != TZ_API_VERSION || e->size != sizeof(tz_module_t)) {
    snprintf(err, errlen,
             "module '%s' was built for API version %u, this core has %u: "
             "rebuild the module",
             base, e->api_version, TZ_API_VERSION);
    return -1;
  }
  if (!e->name || strcmp(e->name, base) != 0) {
    snprintf(err, errlen, "module file '%s' declares the name '%s'", base,
             e->name ? e->name : "(null)");
    return -1;
  }
  return 0;
}

static modlib_t *module_lib_get(const char *name, const char *mpath,
                                char *err, size_t errlen)
{
  char base[128];
  module_base_name(name, base, sizeof base);
  for (modlib_t *l = libs; l; l = l->next)
    if (strcmp(l->exp->name, base) == 0) {
      l->refs++;
      return l;
    }
  lt_dlhandle h = module_open(name, base, mpath);
  if (!h) {
    snprintf(err, errlen, "cannot load module '%s' from '%s': %s", name,
             mpath ? mpath : "", lt_dlerror());
    return NULL;
  }
  char sym[160];
  snprintf(sym, sizeof sym, "%s%s", base, TZ_MODULE_SYMBOL);
  const tz_module_t *e = lt_dlsym(h, sym);
  if (!e) {
    snprintf(err, errlen, "'%s' is not a trapezoid module (no symbol %s)",
             name, sym);
    lt_dlclose(h);
    return NULL;
  }
  if (module_check_export(e, base, err, errlen) < 0) {
    lt_dlclose(h);
    return NULL;
  }
  modlib_t *l = calloc(1, sizeof *l);
  if (!l) {
    lt_dlclose(h);
    snprintf(err, errlen, "out of memory");
    return NULL;
  }
  l->h = h;
  l->exp = e;
  l->refs = 1;
  l->next = libs;
  libs = l;
  return l;
}

static void module_lib_put(modlib_t *l)
{
  assert(l->refs > 0);
  if (--l->refs)
    return;
  for (modlib_t **pp = &libs; *pp; pp = &(*pp)->next)
    if (*pp == l) {
      *pp = l->next;
      break;
    }
  lt_dlclose(l->h);
  free(l);
}

static char **module_param_str(tz_modinst_t *mi, const tz_param_export_t *p)
{
  return (char **)((char *)mi->cfg + p->offset);
}

static long *module_param_int(tz_modinst_t *mi, const tz_param_export_t *p)
{
  return (long *)((char *)mi->cfg + p->offset);
}

static int module_set_defaults(tz_modinst_t *mi)
{
  for (const tz_param_export_t *p = mi->exp->params; p && p->name; p++) {
    if (p->type == TZ_PARAM_INT) {
      *module_param_int(mi, p) = p->int_default;
    } else if (p->str_default) {
      if (!(*module_param_str(mi, p) = strdup(p->str_default)))
        return -1;
    }
  }
  return 0;
}

static void module_free_params(tz_modinst_t *mi)
{
  for (const tz_param_export_t *p = mi->exp->params; p && p->name; p++)
    if (p->type == TZ_PARAM_STR) {
      free(*module_param_str(mi, p));
      *module_param_str(mi, p) = NULL;
    }
}

tz_modinst_t *tz_module_load(const char *name, const char *mpath, char *err,
                             size_t errlen)
{
  modlib_t *l = module_lib_get(name, mpath, err, errlen);
  if (!l)
    return NULL;
  tz_modinst_t *mi = calloc(1, sizeof *mi);
  if (mi && l->exp->cfg_size)
    mi->cfg = calloc(1, l->exp->cfg_size);
  if (!mi || (l->exp->cfg_size && !mi->cfg)) {
    free(mi);
    module_lib_put(l);
    snprintf(err, errlen, "out of memory");
    return NULL;
  }
  mi->lib = l;
  mi->exp = l->exp;
  if (module_set_defaults(mi) < 0) {
    tz_module_destroy(mi);
    snprintf(err, errlen, "out of memory");
    return NULL;
  }
  return mi;
}

static int module_parse_long(const char *s, long *out)
{
  char *end;
  errno = 0;
  long v = strtol(s, &end, 0);
  if (errno || end == s || *end)
    return -1;
  *out = v;
  return 0;
}

int tz_module_set_param(tz_modinst_t *mi, const char *param,
                        const tz_val_t *v, char *err, size_t errlen)
{
  const tz_param_export_t *p = mi->exp->params;
  while (p && p->name && strcmp(p->name, param) != 0)
    p++;
  if (!p || !p->name) {
    snprintf(err, errlen, "module '%s' has no parameter '%s'",
             mi->exp->name, param);
    return -1;
  }
  if (p->type == TZ_PARAM_STR) {
    if (v->type != TZ_VAL_STR) {
      snprintf(err, errlen, "parameter '%s' of module '%s' takes a string",
               param, mi->exp->name);
      return -1;
    }
    char *s = strdup(v->s);
    if (!s)
      return snprintf(err, errlen, "out of memory"), -1;
    free(*module_param_str(mi, p));
    *module_param_str(mi, p) = s;
    return 0;
  }
  long n = v->i;
  if (v->type != TZ_VAL_INT &&
      (v->type != TZ_VAL_STR || module_parse_long(v->s, &n) < 0)) {
    snprintf(err, errlen, "parameter '%s' of module '%s' takes an integer",
             param, mi->exp->name);
    return -1;
  }
  if (p->min < p->max && (n < p->min || n > p->max)) {
    snprintf(err, errlen,
             "parameter '%s' of module '%s' must be between %ld and %ld",
             param, mi->exp->name, p->min, p->max);
    return -1;
  }
  *module_param_int(mi, p) = n;
  return 0;
}

int tz_module_check(tz_modinst_t *mi, char *err, size_t errlen)
{
  err[0] = '\0';
  if (!mi->exp->check || mi->exp->check(mi, err, errlen) == 0)
    return 0;
  if (!err[0])
    snprintf(err, errlen, "module '%s': bad parameters", mi->exp->name);
  return -1;
}

int tz_module_init(tz_modinst_t *mi, char *err, size_t errlen)
{
  err[0] = '\0';
  if (mi->exp->init && mi->exp->init(mi, err, errlen) < 0) {
    if (!err[0])
      snprintf(err, errlen, "module '%s' failed to initialise",
               mi->exp->name);
    tz_owner_release(&mi->owner, NULL);
    return -1;
  }
  mi->initialized = 1;
  return 0;
}

void tz_module_destroy(tz_modinst_t *mi)
{
  if (!mi)
    return;
  if (mi->initialized && mi->exp->destroy)
    mi->exp->destroy(mi);
  const char *what = NULL;
  unsigned left = tz_owner_release(&mi->owner, &what);
  if (left)
    tz_log(TZ_LOG_WARN, "module '%s' left %u registration(s) (%s, ...); removed",
           mi->exp->name, left, what);
  module_free_params(mi);
  free(mi->cfg);
  modlib_t *l = mi->lib;
  free(mi);
  module_lib_put(l);
}

const tz_func_export_t *tz_modinst_find_func(const tz_modinst_t *mi,
                                             const char *name)
{
  for (const tz_func_export_t *f = mi->exp->funcs; f && f->name; f++)
    if (strcmp(f->name, name) == 0)
      return f;
  return NULL;
}
