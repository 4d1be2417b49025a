/*
 * regcomp_wrap.c - regcomp for the fuzz targets that compile regular
 * expressions from their input (fuzz_script.c, fuzz_sipt.c), linked with
 * -Wl,--wrap=regcomp.
 *
 * glibc copies a subexpression for every '+' and interval count, so nested
 * repetition ("((a+)+)+...", "(a{999}){999}") makes compiling exponential
 * in time and memory. That is glibc's behaviour on a trusted script,
 * reported rather than fixed here; the wrapper swaps such patterns for a
 * trivial one so the fuzzer keeps exploring our code instead of
 * rediscovering it.
 */
#include <regex.h>
#include <stdlib.h>

int __real_regcomp(regex_t *re, const char *pattern, int flags);
int __wrap_regcomp(regex_t *re, const char *pattern, int flags);

/* Over-estimates how many copies glibc makes: every repetition multiplies,
 * as if all were nested. */
#define FUZZ_REGEX_MAX_COPIES 4096UL

int __wrap_regcomp(regex_t *re, const char *pattern, int flags)
{
  unsigned long copies = 1;
  for (const char *p = pattern; *p && copies <= FUZZ_REGEX_MAX_COPIES; p++) {
    if (*p == '\\' && p[1]) {
      p++;
    } else if (*p == '+' || *p == '*' || *p == '?') {
      copies *= 2;
    } else if (*p == '{') {
      unsigned long most = 0;
      while (p[1] && p[1] != '}') {
        char *end;
        unsigned long n = strtoul(++p, &end, 10);
        if (end > p) {
          most = n > most ? n : most;
          p = end - 1;
        }
      }
      copies *= most < FUZZ_REGEX_MAX_COPIES ? most + 1 : FUZZ_REGEX_MAX_COPIES;
    }
  }
  return __real_regcomp(re, copies > FUZZ_REGEX_MAX_COPIES ? "x" : pattern,
                        flags);
}

