/*
 * fuzz_sipt.c - libFuzzer target for the script-test file parser
 * (core/test/sipt.c): arbitrary bytes through sipt_parse and sipt_free.
 * A test file is an operator's input: whatever it holds, the parser must
 * answer with a file:line error or a parsed file, and free all of it.
 */
#include <stddef.h>
#include <stdint.h>

#include "test/sipt.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
  char err[512];
  sipt_file_t *f = sipt_parse("fuzz.sipt", (const char *)data, size, err, sizeof err);
  for (size_t i = 0; f && i < sipt_count(f); i++)
    (void)sipt_at(f, i)->line; /* every item is readable */
  sipt_free(f);
  return 0;
}
