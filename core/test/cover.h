/*
 * cover.h - script coverage over a whole test run (trapezoid --test
 * --coverage): the counts of every counting script (tz_script_count_enable)
 * summed per source file and line, and written out as an lcov tracefile,
 * as gcov's annotated source, or as gcc-style notes on the lines no case
 * reached.
 *
 * What gcov means by a line: its count is the largest of its statements'
 * (one run of `if (x) f();` counts the line once), and a line is
 * executable when a statement starts on it. Routes are lcov's functions;
 * each if is two lcov branches, true then false, with the if's column as
 * the block number so that two ifs on one line stay apart.
 *
 * Test processes add their scripts, write their own lcov tracefile and
 * the parent reads them all back, which sums them: the tracefile is also
 * the exchange format. It does not carry columns, so lines read from one
 * have none in the notes until a script adds them.
 */
#ifndef TZ_COVER_H
#define TZ_COVER_H

#include <stdio.h>

#include "script/script.h"

typedef struct tz_cover tz_cover_t;

/* NULL when out of memory. */
tz_cover_t *tz_cover_new(void);
void tz_cover_free(tz_cover_t *c);

/* Adds the counts of s (all 0 if it is not counting: its lines are still
 * executable, never run). Returns 0, or -1 when out of memory (then c may
 * hold part of them). */
int tz_cover_add_script(tz_cover_t *c, const tz_script_t *s);

/* Adds an lcov tracefile as tz_cover_write_lcov writes them (any number
 * of records). Returns 0, or -1 on a read error or a line it does not
 * know (then c is unchanged), or when out of memory (then c may hold part
 * of it). */
int tz_cover_read_lcov(tz_cover_t *c, FILE *in);

/* One lcov record per source file, files by name: TN:test_name (empty
 * when NULL), SF, FN/FNDA per route, FNF/FNH, BRDA per if outcome ("-"
 * when the if never ran), BRF/BRH, DA per executable line, LF/LH,
 * end_of_record. Returns 0, or -1 on an output error. */
int tz_cover_write_lcov(const tz_cover_t *c, FILE *out,
                        const char *test_name);

/* gcov's annotated source of each file, files by name: a header line
 * "        -:    0:Source:FILE", then every line of the file (read from
 * disk by its name) as "%9s:%5u:%s": the count, "#####" for an executable
 * line never run, "-" for the rest. Returns 0, or -1 when a file could not
 * be read (the others are written) or on an output error. */
int tz_cover_write_gcov(const tz_cover_t *c, FILE *out);

/* For each executable line never run, in files by name:
 * "FILE:LINE:COL: note: statement reached by no case" (no ":COL" when
 * unknown), as gcc reports, for editors and CI annotations. */
void tz_cover_notes(const tz_cover_t *c, FILE *err);

/* The executable lines never run in file (NULL: in all files). */
unsigned tz_cover_missed(const tz_cover_t *c, const char *file);

#endif
