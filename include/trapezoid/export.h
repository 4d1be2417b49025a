/*
 * export.h - the export marker of the module API.
 *
 * The daemon is built with -fvisibility=hidden: a function is visible to
 * modules only when its declaration in include/trapezoid/ carries TZ_API.
 * So a module's global of the same name as a core internal can never be
 * silently replaced, and `nm -D trapezoid` lists exactly the module API
 * (tests/layers.sh checks it).
 */
#ifndef TRAPEZOID_EXPORT_H
#define TRAPEZOID_EXPORT_H

#define TZ_API __attribute__((visibility("default")))

#endif
