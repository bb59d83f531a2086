/* ssi_cert: key generation and loading with clear errors. */
#include "ssi_cert.h"

#include <errno.h>
#include <sodium.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

int ssi_cert_keygen(const char *dir, const char *name, char *z85, char *err, size_t errlen)
{
    char pub[4096], sec[4096];
    snprintf(pub, sizeof pub, "%s/%s", dir, SSI_CERT_PUBLIC);
    snprintf(sec, sizeof sec, "%s/%s", dir, SSI_CERT_SECRET);
    if (mkdir(dir, 0700) < 0 && errno != EEXIST) {
        snprintf(err, errlen, "cannot create %s: %s", dir, strerror(errno));
        return -errno;
    }
    if (access(sec, F_OK) == 0) {
        snprintf(err, errlen, "%s exists already; remove it first to make a new key", sec);
        return -EEXIST;
    }
    zcert_t *cert = zcert_new();
    if (!cert) {
        snprintf(err, errlen, "cannot create a CURVE key pair (libzmq built without CURVE?)");
        return -ENOTSUP;
    }
    if (name)
        zcert_set_meta(cert, "name", "%s", name);
    /* The secret must never exist with looser permissions, even briefly. */
    mode_t old = umask(077);
    int rc = zcert_save_secret(cert, sec);
    umask(old);
    if (rc == 0)
        rc = zcert_save_public(cert, pub);
    if (rc != 0 || chmod(sec, 0600) != 0) {
        snprintf(err, errlen, "cannot write key files in %s: %s", dir, strerror(errno));
        zcert_destroy(&cert);
        return -EIO;
    }
    snprintf(z85, 41, "%s", zcert_public_txt(cert));
    zcert_destroy(&cert);
    return 0;
}

zcert_t *ssi_cert_load(const char *dir, char *err, size_t errlen)
{
    char sec[4096];
    struct stat st;
    snprintf(sec, sizeof sec, "%s/%s", dir, SSI_CERT_SECRET);
    if (stat(sec, &st) != 0) {
        snprintf(err, errlen, "missing key file %s: %s (create it with 'ssictl keygen %s')", sec,
                 strerror(errno), dir);
        return NULL;
    }
    if (st.st_mode & 077) {
        snprintf(err, errlen, "%s is readable by others (mode %03o); run 'chmod 600 %s'", sec,
                 (unsigned)(st.st_mode & 0777), sec);
        return NULL;
    }
    zconfig_t *cfg = zconfig_load(sec);
    if (!cfg) {
        snprintf(err, errlen, "cannot read key file %s", sec);
        return NULL;
    }
    const char *pk = zconfig_get(cfg, "curve/public-key", NULL);
    const char *sk = zconfig_get(cfg, "curve/secret-key", NULL);
    byte pbin[32], sbin[32];
    zcert_t *cert = NULL;
    if (pk && sk && strlen(pk) == 40 && strlen(sk) == 40 && zmq_z85_decode(pbin, pk) &&
        zmq_z85_decode(sbin, sk))
        cert = zcert_new_from(pbin, sbin);
    else
        snprintf(
            err, errlen,
            "%s is not a CURVE secret key file (expected curve/public-key and curve/secret-key)",
            sec);
    zconfig_destroy(&cfg);
    /* Wipe our copy of the secret; czmq keeps its own inside the cert. */
    sodium_memzero(sbin, sizeof sbin);
    return cert;
}
