/*
 * command.c - control commands by name (see command.h): owns the names,
 * their help texts and the registrations; each registration is undone
 * through its owner's cleanup list.
 */
#define _POSIX_C_SOURCE 200809L
#include "runtime/command.h"
#include "runtime/module.h"

#include <assert.h>
#include <stdlib.h>
#include <string.h>

/* One owner's registration of a command. */
typedef struct cmd_reg {
  struct cmd_reg *next; /* older registrations */
  tz_command_t *cmd;
  tz_modinst_t *mod;
  tz_rpc_f fn;
} cmd_reg_t;

struct tz_command {
  tz_command_t *next;
  char *name, *help;
  cmd_reg_t *regs; /* newest first: it answers */
};

static tz_command_t *commands;

const tz_command_t *tz_command_find(const char *name)
{
  for (tz_command_t *c = commands; c; c = c->next)
    if (strcmp(c->name, name) == 0)
      return c;
  return NULL;
}

int tz_command_call(const tz_command_t *c, const tz_json_t *params,
                    tz_jbuf_t *out, char *err, size_t errlen)
{
  assert(c->regs);
  return c->regs->fn(c->regs->mod, params, out, err, errlen);
}

void tz_command_each(void (*cb)(void *arg, const char *name, const char *help),
                     void *arg)
{
  for (const tz_command_t *c = commands; c; c = c->next)
    cb(arg, c->name, c->help);
}

static void cmd_free(tz_command_t *c)
{
  for (tz_command_t **pp = &commands; *pp; pp = &(*pp)->next)
    if (*pp == c) {
      *pp = c->next;
      break;
    }
  free(c->name);
  free(c->help);
  free(c);
}

static tz_command_t *cmd_new(const char *name, const char *help)
{
  tz_command_t *c = calloc(1, sizeof *c);
  if (!c || !(c->name = strdup(name)) || !(c->help = strdup(help ? help : ""))) {
    if (c)
      free(c->name);
    free(c);
    return NULL;
  }
  c->next = commands;
  commands = c;
  return c;
}

/* The owner goes: its registration too, and the command with its last. */
static void cmd_reg_free(void *obj)
{
  cmd_reg_t *r = obj;
  tz_command_t *c = r->cmd;
  for (cmd_reg_t **pp = &c->regs; *pp; pp = &(*pp)->next)
    if (*pp == r) {
      *pp = r->next;
      break;
    }
  free(r);
  if (!c->regs)
    cmd_free(c);
}

/* Another registration of an existing name: only by an instance of the
 * module that has it. */
static int cmd_may_add(const tz_command_t *c, const tz_modinst_t *mod)
{
  const tz_modinst_t *has = c->regs->mod;
  return mod && has && strcmp(tz_mod_name(mod), tz_mod_name(has)) == 0;
}

static int cmd_name_ok(const char *name)
{
  return name && *name && strncmp(name, "rpc.", 4) && strcmp(name, "help");
}

int tz_command_register(tz_owner_t *o, tz_modinst_t *mod, const char *name,
                        tz_rpc_f fn, const char *help)
{
  if (!fn || !cmd_name_ok(name))
    return -1;
  tz_command_t *c = (tz_command_t *)tz_command_find(name);
  if (c && !cmd_may_add(c, mod))
    return -1;
  if (!c && !(c = cmd_new(name, help)))
    return -1;
  cmd_reg_t *r = calloc(1, sizeof *r);
  if (!r) {
    if (!c->regs)
      cmd_free(c);
    return -1;
  }
  *r = (cmd_reg_t){c->regs, c, mod, fn};
  c->regs = r;
  if (!tz_cleanup_add(o, cmd_reg_free, r, NULL)) {
    cmd_reg_free(r);
    return -1;
  }
  return 0;
}

int tz_rpc_register(tz_modinst_t *mod, const char *method, tz_rpc_f fn,
                    const char *help)
{
  return tz_command_register(tz_modinst_owner(mod), mod, method, fn, help);
}
