/* ssi_paths: where the daemon and the tools find ssi's other files (the
 * helpers ssid starts, the library ssirun preloads) and the version they
 * report.
 *
 * A file is looked for, in order: (1) where 'make install' put it,
 * reached from the program's own directory through the relative path
 * between the two installed directories (so a staged copy, DESTDIR=/x, or
 * a moved prefix works); (2) in the build tree, relative to the program
 * (build/bin holds the programs and the helpers, build/lib the library);
 * (3) the installed absolute directory compiled in by the Makefile. The
 * installed place comes first so that an installed tool never picks a
 * stray file of an older layout lying beside it. Pure path logic plus access(2):
 * no allocation, nothing logged. */
#ifndef SSI_PATHS_H
#define SSI_PATHS_H

#include <stddef.h>

/* The version ./configure set (the VERSION file), shared by every tool. */
#ifndef SSI_VERSION
#define SSI_VERSION "unknown"
#endif

/* The relative path from directory from to directory to, both absolute
 * ("/usr/sbin", "/usr/lib/ssi" -> "../lib/ssi"; equal -> "."). Empty
 * components and "." are skipped. 0, -EINVAL if either is not absolute or
 * holds "..", -ENAMETOOLONG if out is too small. */
int ssi_paths_rel(const char *from, const char *to, char *out, size_t cap);

/* The directory of the running program (from /proc/self/exe): 0 or -errno. */
int ssi_paths_self_dir(char *out, size_t cap);

/* Finds name for a program living in self_dir, installed as inst_from
 * (its own installed directory) with name installed in inst_to: tries
 * self_dir/rel(inst_from, inst_to)/name, then self_dir/build_rel/name
 * (build_rel may be "."), then inst_to/name, and takes the
 * first that access(2) allows with mode (X_OK, R_OK). Writes the
 * directory that holds it to dir: 0, or -ENOENT when none does. */
int ssi_paths_find(const char *self_dir, const char *build_rel, const char *inst_from,
                   const char *inst_to, const char *name, int mode, char *dir, size_t cap);

#endif
