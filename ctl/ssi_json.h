/* ssi_json: a small JSON writer for the tools (ssictl's --json output):
 * arrays, objects, strings and numbers, compact (no spaces), into a buffer
 * that grows as needed. Ordinary libc code (malloc), not for the shim.
 *
 * Strings are escaped so that the output is valid JSON (RFC 8259) whatever
 * bytes they hold:
 *   - `"` and `\` as \" and \\;
 *   - control bytes 0x00-0x1f and 0x7f as \u00XX (lower-case hex);
 *   - well-formed UTF-8 (RFC 3629: shortest form, no surrogates, at most
 *     U+10FFFF) is copied as it is;
 *   - every other byte, one at a time, as \ufffd (U+FFFD, the replacement
 *     character): a stray continuation byte, a lead byte whose sequence is
 *     cut short or broken, an overlong form, a surrogate, 0xf5-0xff. A
 *     broken sequence of three bytes gives three \ufffd.
 * Commas and colons are written by the writer; the caller says what comes.
 * Errors stick (like ssi_msg's writer): the first one is returned by
 * ssi_json_error() and by ssi_json_text() as NULL. */
#ifndef SSI_JSON_H
#define SSI_JSON_H

#include <stddef.h>
#include <stdint.h>

typedef struct ssi_json_t ssi_json_t;

/* A new, empty writer; NULL when out of memory. */
ssi_json_t *ssi_json_new(void);
/* Frees *pj and NULLs it; safe on NULL and twice. */
void ssi_json_destroy(ssi_json_t **pj);

void ssi_json_array_begin(ssi_json_t *j);
void ssi_json_array_end(ssi_json_t *j);
void ssi_json_object_begin(ssi_json_t *j);
void ssi_json_object_end(ssi_json_t *j);
/* The key of the next member of an object (escaped like a string). */
void ssi_json_key(ssi_json_t *j, const char *key);
/* A string value from a C string, or from n bytes of any value. */
void ssi_json_str(ssi_json_t *j, const char *s);
void ssi_json_strn(ssi_json_t *j, const void *s, size_t n);
void ssi_json_u64(ssi_json_t *j, uint64_t v);
/* v with `decimals` digits after the point ("%.*f"); null if not finite. */
void ssi_json_fixed(ssi_json_t *j, double v, int decimals);

/* The envelope of a tool's answer (ssictl(1), JSON OUTPUT):
 *   {"format":F,"data":<what the caller writes next>,"missing":["n3",...]}
 * begin opens it up to "data"; the caller writes exactly one value; end
 * closes it with the names of the n nodes that did not answer. */
void ssi_json_envelope_begin(ssi_json_t *j, uint64_t format);
void ssi_json_envelope_end(ssi_json_t *j, const char *const *missing, size_t n);

/* 0, or the first error: -ENOMEM, -EINVAL (a value where a key is due, a
 * close that does not match, nesting deeper than SSI_JSON_MAX_DEPTH). */
int ssi_json_error(const ssi_json_t *j);
/* The text so far, NUL-terminated (borrowed: valid until the next call on
 * j); NULL after an error. *len gets its length if len is not NULL. */
const char *ssi_json_text(const ssi_json_t *j, size_t *len);

#define SSI_JSON_MAX_DEPTH 32

#endif
