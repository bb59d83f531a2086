/* ssirun: start a program as an ssi process. It sets LD_PRELOAD to libssi.so
 * and execs the program in place: no extra process, so the shell's $!, wait
 * and exit status are the program's own. */
#include <elf.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "ssi_local.h"
#include "ssi_msg.h"
#include "ssi_paths.h"

/* ssirun's own failures use the codes env(1) and the shell use, so they do
 * not pass for the program's: 125 ssirun failed, 126 cannot execute, 127 not
 * found. */
#define EXIT_SSIRUN 125

static void usage(FILE *f)
{
    fprintf(f,
            "Usage: ssirun [--node NODE] [--stay] [--] PROG [ARGS...]\n"
            "       ssirun --restart FILE [--node NODE]\n"
            "\n"
            "Run PROG as an ssi process whose home is this node.\n"
            "\n"
            "  --node NODE   move PROG to NODE before main runs; if it cannot move,\n"
            "                it does not run at all (exit 125, with the reason)\n"
            "  --stay        the load balancer never moves PROG (nor its children);\n"
            "                by default it may, when the cluster file says 'balance = on'\n"
            "                (the default); --no-auto is the same as --stay, --auto the default\n"
            "  --checkpoint-every SECONDS  ssid checkpoints PROG this often into its\n"
            "                spool, keeping the last 3 (ssictl ps shows the age)\n"
            "  --restart FILE  start again, at home, the process of checkpoint FILE\n"
            "                (ssictl checkpoint); with --node, then move it to NODE\n"
            "  -V, --version print the version and exit\n"
            "  -h, --help    this help\n"
            "\n"
            "Environment: SSI_SOCKET (ssid's socket, default %s), SSI_LIB (libssi.so).\n"
            "Exit status: PROG's own; 125 if ssirun failed, 126/127 if PROG could not run.\n",
            SSI_LOCAL_DEFAULT);
}

/* libssi.so: $SSI_LIB, else where 'make install' put it (reached from our
 * own directory, then the configured absolute one), else the build tree's
 * ../lib (ssi_paths.h). */
static int s_find_lib(char *out, size_t cap)
{
    const char *env = getenv("SSI_LIB");
    if (env && *env) {
        snprintf(out, cap, "%s", env);
        return access(out, R_OK);
    }
    char self[PATH_MAX], dir[PATH_MAX];
    if (ssi_paths_self_dir(self, sizeof self) < 0 ||
        ssi_paths_find(self, "../lib", SSI_INST_BINDIR, SSI_INST_PKGLIBDIR, "libssi.so", R_OK, dir,
                       sizeof dir) < 0)
        return -1;
    char path[PATH_MAX + 16];
    snprintf(path, sizeof path, "%s/libssi.so", dir);
    /* LD_PRELOAD wants a path that holds wherever the program chdirs. */
    if (!realpath(path, out))
        return -1;
    (void)cap;
    return 0;
}

/* --restart FILE [--node NODE]: the helper ssi-ckpt restart (found as
 * ssid finds its helpers, ssi_paths.h) does it and waits for the process
 * (its exit status is ssirun's). */
static int s_restart(const char *file, const char *node)
{
    char self[PATH_MAX], dir[PATH_MAX - 32], path[PATH_MAX];
    if (ssi_paths_self_dir(self, sizeof self) < 0 ||
        ssi_paths_find(self, ".", SSI_INST_BINDIR, SSI_INST_PKGLIBEXECDIR, "ssi-ckpt", X_OK, dir,
                       sizeof dir) < 0) {
        fprintf(stderr,
                "ssirun: cannot find the helper ssi-ckpt (looked in %s and beside ssirun)\n",
                SSI_INST_PKGLIBEXECDIR);
        return EXIT_SSIRUN;
    }
    snprintf(path, sizeof path, "%s/ssi-ckpt", dir);
    if (node && strcmp(node, "home") != 0 && !ssi_msg_valid_name(node)) {
        fprintf(stderr, "ssirun: '%s' is not a node name\n", node);
        return EXIT_SSIRUN;
    }
    if (node && strcmp(node, "home") != 0)
        execl(path, "ssi-ckpt", "restart", "--node", node, file, (char *)NULL);
    else
        execl(path, "ssi-ckpt", "restart", file, (char *)NULL);
    fprintf(stderr, "ssirun: cannot run %s: %s\n", path, strerror(errno));
    return EXIT_SSIRUN;
}

static int s_prepend_env(const char *name, const char *value, const char *sep)
{
    const char *old = getenv(name);
    if (old && *old) {
        if (strstr(old, value))
            return 0;
        size_t n = strlen(value) + strlen(sep) + strlen(old) + 1;
        char *v = malloc(n);
        if (!v)
            return -1;
        snprintf(v, n, "%s%s%s", value, sep, old);
        int rc = setenv(name, v, 1);
        free(v);
        return rc;
    }
    return setenv(name, value, 1);
}

/* PROG's path as execvp will find it: as given when it holds a '/', else the first executable
 * match in $PATH. */
static int s_resolve(const char *prog, char *out, size_t cap)
{
    if (strchr(prog, '/'))
        return snprintf(out, cap, "%s", prog) < (int)cap ? 0 : -1;
    const char *path = getenv("PATH");
    if (!path || !*path)
        path = "/usr/local/bin:/usr/bin:/bin";
    for (const char *p = path; *p;) {
        size_t n = strcspn(p, ":");
        if (snprintf(out, cap, "%.*s/%s", (int)(n ? n : 1), n ? p : ".", prog) < (int)cap &&
            access(out, X_OK) == 0)
            return 0;
        p += n + (p[n] == ':');
    }
    return -1;
}

/* 1 when the file at PATH is an ELF program without a dynamic loader (PT_INTERP): the shim
 * (an LD_PRELOAD library) cannot enter it. A script is judged by its interpreter, one level
 * deep. 0 otherwise, and when the file cannot be read (execvp will say why). */
static int s_is_static(const char *path, int depth)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return 0;
    Elf64_Ehdr eh;
    ssize_t n = pread(fd, &eh, sizeof eh, 0);
    int res = 0;
    if (n >= 2 && memcmp(&eh, "#!", 2) == 0 && depth == 0) {
        char line[PATH_MAX + 3] = {0};
        n = pread(fd, line, sizeof line - 1, 0);
        char *interp = line + 2 + strspn(line + 2, " \t");
        interp[strcspn(interp, " \t\n")] = 0;
        close(fd);
        return *interp ? s_is_static(interp, 1) : 0;
    }
    if (n == (ssize_t)sizeof eh && memcmp(eh.e_ident, ELFMAG, SELFMAG) == 0 &&
        eh.e_ident[EI_CLASS] == ELFCLASS64 && eh.e_phentsize == sizeof(Elf64_Phdr)) {
        res = 1;
        for (int i = 0; i < eh.e_phnum; i++) {
            Elf64_Phdr ph;
            if (pread(fd, &ph, sizeof ph, (off_t)(eh.e_phoff + (uint64_t)i * sizeof ph)) !=
                (ssize_t)sizeof ph) {
                res = 0;
                break;
            }
            if (ph.p_type == PT_INTERP) {
                res = 0;
                break;
            }
        }
    }
    close(fd);
    return res;
}

int main(int argc, char **argv)
{
    int i = 1;
    const char *node = NULL, *restart = NULL;
    int stay = 0;
    for (; i < argc && argv[i][0] == '-'; i++) {
        const char *a = argv[i];
        if (strcmp(a, "--") == 0) {
            i++;
            break;
        } else if (strcmp(a, "--node") == 0 && i + 1 < argc)
            node = argv[++i];
        else if (strncmp(a, "--node=", 7) == 0)
            node = a + 7;
        else if (strcmp(a, "--restart") == 0 && i + 1 < argc)
            restart = argv[++i];
        else if (strcmp(a, "--checkpoint-every") == 0 && i + 1 < argc) {
            char *end;
            long s = strtol(argv[++i], &end, 10);
            if (*end || s <= 0 || s > 86400 * 365) {
                fprintf(stderr, "ssirun: --checkpoint-every wants seconds, not '%s'\n", argv[i]);
                return EXIT_SSIRUN;
            }
            setenv("SSI_CHECKPOINT_EVERY", argv[i], 1);
        } else if (strcmp(a, "--stay") == 0 || strcmp(a, "--no-auto") == 0)
            stay = 1;
        else if (strcmp(a, "--auto") == 0)
            stay = 0;
        else if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) {
            usage(stdout);
            return 0;
        } else if (strcmp(a, "--version") == 0 || strcmp(a, "-V") == 0) {
            printf("ssirun (ssi) %s\n", SSI_VERSION);
            return 0;
        } else {
            fprintf(stderr, "ssirun: unknown option '%s'\n", a);
            usage(stderr);
            return EXIT_SSIRUN;
        }
    }
    if (restart && i != argc) {
        fprintf(stderr, "ssirun: --restart FILE runs the program of FILE; no PROG after it\n");
        return EXIT_SSIRUN;
    }
    if (i == argc && !restart) {
        fprintf(stderr, "ssirun: no program to run\n");
        usage(stderr);
        return EXIT_SSIRUN;
    }
    if (node && !restart) {
        if (!ssi_msg_valid_name(node) && strcmp(node, "home") != 0) {
            fprintf(stderr, "ssirun: '%s' is not a node name\n", node);
            return EXIT_SSIRUN;
        }
        /* The shim's constructor asks ssid to move the process before
		 * main runs; "home" means stay. */
        if (strcmp(node, "home") != 0 && setenv("SSI_MIGRATE_TO", node, 1) < 0) {
            fprintf(stderr, "ssirun: cannot set the environment: %s\n", strerror(errno));
            return EXIT_SSIRUN;
        }
    }

    /* A static program never loads libssi.so: it would run unregistered, and --node would
     * silently run it at home. Say so; refuse --node. */
    char path[PATH_MAX];
    if (!restart && s_resolve(argv[i], path, sizeof path) == 0 && s_is_static(path, 0)) {
        if (node && strcmp(node, "home") != 0) {
            fprintf(stderr,
                    "ssirun: %s is statically linked: ssi cannot enter it, so it cannot move to "
                    "%s; not run.\n"
                    "ssirun: run a dynamically linked build of it, or run it without --node.\n",
                    argv[i], node);
            return EXIT_SSIRUN;
        }
        fprintf(stderr,
                "ssirun: warning: %s is statically linked: it runs here as a plain process, "
                "not an ssi process (not listed, never moved)\n",
                argv[i]);
        execv(path, argv + i);
        int e = errno;
        fprintf(stderr, "ssirun: cannot run %s: %s\n", argv[i], strerror(e));
        return e == ENOENT ? 127 : 126;
    }

    /* The program we start (not its children: the variable is consumed)
	 * asks ssid where to run before main, unless it stays or has a node. */
    if (!stay && !node && !restart && setenv("SSI_PLACE", "1", 1) < 0) {
        fprintf(stderr, "ssirun: cannot set the environment: %s\n", strerror(errno));
        return EXIT_SSIRUN;
    }
    /* The shim tells ssid when it registers; a --stay of an outer ssirun
	 * holds for the programs it starts, as MOSIX's children inherit it. */
    if (stay && setenv("SSI_STAY", "1", 1) < 0) {
        fprintf(stderr, "ssirun: cannot set the environment: %s\n", strerror(errno));
        return EXIT_SSIRUN;
    }

    const char *sock = ssi_local_path();
    int fd = ssi_local_connect(sock);
    if (fd < 0) {
        fprintf(
            stderr,
            "ssirun: no ssid answers at %s (%s).\n"
            "ssirun: start this node's daemon first, e.g.: ssid --cluster /etc/ssi/cluster.conf "
            "--name NODE --keys /etc/ssi/keys\n",
            sock, strerror(-fd));
        return EXIT_SSIRUN;
    }
    close(fd);
    if (restart)
        return s_restart(restart, node);

    char lib[PATH_MAX];
    if (s_find_lib(lib, sizeof lib) < 0) {
        fprintf(stderr,
                "ssirun: cannot find libssi.so (looked in %s, in the same place "
                "relative to ssirun, and in ../lib beside it); set SSI_LIB\n",
                SSI_INST_PKGLIBDIR);
        return EXIT_SSIRUN;
    }
    /* rseq off: the restorer does not need to re-register it per thread. */
    if (s_prepend_env("LD_PRELOAD", lib, ":") < 0 ||
        s_prepend_env("GLIBC_TUNABLES", "glibc.pthread.rseq=0", ":") < 0 ||
        setenv("SSI_SOCKET", sock, 1) < 0) {
        fprintf(stderr, "ssirun: cannot set the environment: %s\n", strerror(errno));
        return EXIT_SSIRUN;
    }
    execvp(argv[i], argv + i);
    int e = errno;
    fprintf(stderr, "ssirun: cannot run %s: %s\n", argv[i], strerror(e));
    return e == ENOENT ? 127 : 126;
}
