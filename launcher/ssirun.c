/* ssirun: start a program as an ssi process. It sets LD_PRELOAD to libssi.so
 * and execs the program in place: no extra process, so the shell's $!, wait
 * and exit status are the program's own. */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "ssi_local.h"
#include "ssi_msg.h"

/* ssirun's own failures use the codes env(1) and the shell use, so they do
 * not pass for the program's: 125 ssirun failed, 126 cannot execute, 127 not
 * found. */
#define EXIT_SSIRUN 125

static void usage(FILE *f)
{
    fprintf(f,
            "Usage: ssirun [--node NODE] [--stay] [--] PROG [ARGS...]\n"
            "\n"
            "Run PROG as an ssi process whose home is this node.\n"
            "\n"
            "  --node NODE   move PROG to NODE before main runs; if it cannot move,\n"
            "                it does not run at all (exit 125, with the reason)\n"
            "  --stay        the load balancer never moves PROG (nor its children);\n"
            "                by default it may, when the cluster file says 'balance = on'\n"
            "                (the default); --no-auto is the same as --stay, --auto the default\n"
            "  -h, --help    this help\n"
            "\n"
            "Environment: SSI_SOCKET (ssid's socket, default %s), SSI_LIB (libssi.so).\n"
            "Exit status: PROG's own; 125 if ssirun failed, 126/127 if PROG could not run.\n",
            SSI_LOCAL_DEFAULT);
}

/* libssi.so: $SSI_LIB, else beside us (build tree: ../lib, installed: ../lib). */
static int s_find_lib(char *out, size_t cap)
{
    const char *env = getenv("SSI_LIB");
    if (env && *env) {
        snprintf(out, cap, "%s", env);
        return access(out, R_OK);
    }
    char exe[PATH_MAX];
    ssize_t n = readlink("/proc/self/exe", exe, sizeof exe - 1);
    if (n < 0)
        return -1;
    exe[n] = 0;
    char *slash = strrchr(exe, '/');
    if (slash)
        *slash = 0;
    static const char *rel[] = {"/../lib/libssi.so", "/libssi.so", "/../lib/ssi/libssi.so"};
    for (size_t i = 0; i < sizeof rel / sizeof *rel; i++) {
        snprintf(out, cap, "%s%s", exe, rel[i]);
        if (access(out, R_OK) == 0) {
            char real[PATH_MAX];
            if (realpath(out, real))
                snprintf(out, cap, "%s", real);
            return 0;
        }
    }
    return -1;
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

int main(int argc, char **argv)
{
    int i = 1;
    const char *node = NULL;
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
        else if (strcmp(a, "--stay") == 0 || strcmp(a, "--no-auto") == 0)
            stay = 1;
        else if (strcmp(a, "--auto") == 0)
            stay = 0;
        else if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) {
            usage(stdout);
            return 0;
        } else {
            fprintf(stderr, "ssirun: unknown option '%s'\n", a);
            usage(stderr);
            return EXIT_SSIRUN;
        }
    }
    if (i == argc) {
        fprintf(stderr, "ssirun: no program to run\n");
        usage(stderr);
        return EXIT_SSIRUN;
    }
    if (node) {
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

    char lib[PATH_MAX];
    if (s_find_lib(lib, sizeof lib) < 0) {
        fprintf(
            stderr,
            "ssirun: cannot find libssi.so (looked beside ssirun and in ../lib); set SSI_LIB\n");
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
