/*
 * notmod.c - a shared object with no module descriptor.
 */
int notmod_something(void);
int notmod_something(void) { return 0; }
