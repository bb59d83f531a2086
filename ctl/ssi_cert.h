/* ssi_cert: a node's CURVE key pair on disk (czmq zcert files: DIR/public.cert
 * and DIR/secret.cert, the latter mode 0600). Nothing here logs; errors come
 * back as text in err. */
#ifndef SSI_CERT_H
#define SSI_CERT_H

#include <czmq.h>
#include <stddef.h>

#define SSI_CERT_PUBLIC "public.cert"
#define SSI_CERT_SECRET "secret.cert"

/* Create DIR (0700) and a fresh key pair in it; refuses to overwrite an
 * existing secret. On success z85 (41 bytes) holds the public key. */
int ssi_cert_keygen(const char *dir, const char *name, char *z85, char *err, size_t errlen);

/* Load DIR/secret.cert. NULL with a reason (missing, unreadable, readable by
 * others, malformed). The cert is the caller's. */
zcert_t *ssi_cert_load(const char *dir, char *err, size_t errlen);

#endif
