/*
 * tzunit.h - the CUnit runner every unit-test program shares.
 *
 * A test program defines its suites with TZ_SUITE/TZ_TEST tables and calls
 * tz_unit_main(); the exit status is 0 only when every assertion passed, so
 * automake's harness sees failures.
 */
#ifndef TZUNIT_H
#define TZUNIT_H

#include <CUnit/Basic.h>
#include <stdio.h>

typedef struct tz_unit_test {
  const char *name;
  void (*fn)(void);
} tz_unit_test_t;

typedef struct tz_unit_suite {
  const char *name;
  const tz_unit_test_t *tests; /* terminated by {NULL, NULL} */
  int (*setup)(void);
  int (*teardown)(void);
} tz_unit_suite_t;

static inline int tz_unit_main(const tz_unit_suite_t *suites)
{
  if (CU_initialize_registry() != CUE_SUCCESS)
    return 99;
  for (const tz_unit_suite_t *s = suites; s->name; s++) {
    CU_pSuite cs = CU_add_suite(s->name, s->setup, s->teardown);
    if (!cs)
      return 99;
    for (const tz_unit_test_t *t = s->tests; t->name; t++)
      if (!CU_add_test(cs, t->name, t->fn))
        return 99;
  }
  CU_basic_set_mode(CU_BRM_VERBOSE);
  CU_basic_run_tests();
  unsigned failed = CU_get_number_of_failures() +
                    CU_get_number_of_suites_failed() +
                    CU_get_number_of_tests_failed();
  CU_cleanup_registry();
  return failed ? 1 : 0;
}

#endif
