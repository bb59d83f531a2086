/* ssi_json: the writer's structure, and strings that come out valid JSON
 * whatever bytes go in: checked byte by byte here, and by a strict parser
 * (/usr/bin/python3's json, on a strict UTF-8 decode) against a reference
 * of the escaping rule written in Python from its own UTF-8 decoder. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check_ssi.h"
#include "ssi_json.h"

/* The JSON text of one string value made of s[0, n). */
static const char *s_one(const void *s, size_t n)
{
    static char out[4096];
    ssi_json_t *j = ssi_json_new();
    ck_assert_ptr_nonnull(j);
    ssi_json_strn(j, s, n);
    const char *t = ssi_json_text(j, NULL);
    ck_assert_ptr_nonnull(t);
    ck_assert_uint_lt(strlen(t), sizeof out);
    strcpy(out, t);
    ssi_json_destroy(&j);
    ck_assert_ptr_null(j);
    return out;
}

/* The input must come out as exactly want (between the quotes). */
static void s_expect(const char *in, size_t n, const char *want)
{
    char q[4096];
    snprintf(q, sizeof q, "\"%s\"", want);
    const char *got = s_one(in, n);
    ck_assert_msg(strcmp(got, q) == 0, "input of %zu bytes: got %s, want %s", n, got, q);
}

#define EXPECT(lit, want) s_expect(lit, sizeof(lit) - 1, want)

/* Python's strict parser and the reference: every {"in": hex, "out": s}
 * of the document must have out == ref(bytes.fromhex(in)). */
static const char s_checker[] =
    "import json, sys\n"
    "doc = json.loads(sys.stdin.buffer.read().decode('utf-8'))\n"
    "def ref(b):\n"
    "    out, i = [], 0\n"
    "    while i < len(b):\n"
    "        c = b[i]\n"
    "        if c < 0x80:\n"
    "            out.append(chr(c)); i += 1; continue\n"
    "        n = 2 if 0xc2 <= c <= 0xdf else 3 if 0xe0 <= c <= 0xef else 4 if 0xf0 <= c <= 0xf4 else 0\n"
    "        if n and i + n <= len(b):\n"
    "            try:\n"
    "                out.append(b[i:i + n].decode('utf-8')); i += n; continue\n"
    "            except UnicodeDecodeError:\n"
    "                pass\n"
    "        out.append('\\ufffd'); i += 1\n"
    "    return ''.join(out)\n"
    "bad = [d for d in doc if d['out'] != ref(bytes.fromhex(d['in']))]\n"
    "print('%d strings, %d differ from the reference' % (len(doc), len(bad)))\n"
    "for d in bad[:5]: print(d['in'], repr(d['out']), repr(ref(bytes.fromhex(d['in']))))\n"
    "sys.exit(1 if bad or not doc else 0)\n";

static void s_entry(ssi_json_t *j, const unsigned char *b, size_t n)
{
    char hex[2 * 64 + 1];
    ck_assert_uint_le(n, 64);
    for (size_t i = 0; i < n; i++)
        snprintf(hex + 2 * i, 3, "%02x", b[i]);
    hex[2 * n] = 0;
    ssi_json_object_begin(j);
    ssi_json_key(j, "in");
    ssi_json_str(j, hex);
    ssi_json_key(j, "out");
    ssi_json_strn(j, b, n);
    ssi_json_object_end(j);
}

/* Feeds the document to the strict parser; its verdict. */
static void s_parse_strict(ssi_json_t *j)
{
    size_t len;
    const char *t = ssi_json_text(j, &len);
    ck_assert_ptr_nonnull(t);
    FILE *p;
    /* The script goes through the environment: stdin carries the document. */
    setenv("SSI_JSON_CHECKER", s_checker, 1);
    p = popen("/usr/bin/python3 -c \"$SSI_JSON_CHECKER\"", "w");
    ck_assert_ptr_nonnull(p);
    ck_assert_uint_eq(fwrite(t, 1, len, p), len);
    int st = pclose(p);
    ck_assert_msg(st == 0, "the strict parser refused the output or it differs (status %d)", st);
}

START_TEST(test_json_escapes_every_byte)
{
    /* Each byte alone, checked byte by byte. */
    for (int b = 0; b < 256; b++) {
        char in = (char)b, want[16];
        if (b == '"' || b == '\\')
            snprintf(want, sizeof want, "\\%c", b);
        else if (b < 0x20 || b == 0x7f)
            snprintf(want, sizeof want, "\\u%04x", b);
        else if (b < 0x80)
            snprintf(want, sizeof want, "%c", b);
        else
            snprintf(want, sizeof want, "\\ufffd");
        s_expect(&in, 1, want);
    }
    /* And every pair and every byte between two letters, through the
	 * strict parser. */
    ssi_json_t *j = ssi_json_new();
    ck_assert_ptr_nonnull(j);
    ssi_json_array_begin(j);
    for (int a = 0; a < 256; a++)
        for (int b = 0; b < 256; b++) {
            unsigned char in[2] = {(unsigned char)a, (unsigned char)b};
            s_entry(j, in, 2);
        }
    for (int b = 0; b < 256; b++) {
        unsigned char in[3] = {'a', (unsigned char)b, 'z'};
        s_entry(j, in, 3);
    }
    ssi_json_array_end(j);
    s_parse_strict(j);
    ssi_json_destroy(&j);
}
END_TEST

START_TEST(test_json_passes_valid_utf8)
{
    EXPECT("caf\xc3\xa9", "caf\xc3\xa9");           /* U+00E9 */
    EXPECT("\xc2\x80", "\xc2\x80");                 /* U+0080, lowest of 2 */
    EXPECT("\xdf\xbf", "\xdf\xbf");                 /* U+07FF */
    EXPECT("\xe0\xa0\x80", "\xe0\xa0\x80");         /* U+0800, lowest of 3 */
    EXPECT("\xe2\x82\xac", "\xe2\x82\xac");         /* U+20AC euro */
    EXPECT("\xed\x9f\xbf", "\xed\x9f\xbf");         /* U+D7FF, below the surrogates */
    EXPECT("\xee\x80\x80", "\xee\x80\x80");         /* U+E000, above them */
    EXPECT("\xef\xbf\xbf", "\xef\xbf\xbf");         /* U+FFFF */
    EXPECT("\xf0\x90\x80\x80", "\xf0\x90\x80\x80"); /* U+10000, lowest of 4 */
    EXPECT("\xf0\x9d\x84\x9e", "\xf0\x9d\x84\x9e"); /* U+1D11E */
    EXPECT("\xf4\x8f\xbf\xbf", "\xf4\x8f\xbf\xbf"); /* U+10FFFF, the last */
    EXPECT("\xe2\x80\xa8", "\xe2\x80\xa8");         /* U+2028: valid JSON */
    EXPECT("a\"b\\c\n", "a\\\"b\\\\c\\u000a");
}
END_TEST

START_TEST(test_json_replaces_invalid_utf8)
{
    /* Overlong forms. */
    EXPECT("\xc0\x80", "\\ufffd\\ufffd");
    EXPECT("\xc1\xbf", "\\ufffd\\ufffd");
    EXPECT("\xe0\x80\x80", "\\ufffd\\ufffd\\ufffd");
    EXPECT("\xe0\x9f\xbf", "\\ufffd\\ufffd\\ufffd");
    EXPECT("\xf0\x80\x80\x80", "\\ufffd\\ufffd\\ufffd\\ufffd");
    EXPECT("\xf0\x8f\xbf\xbf", "\\ufffd\\ufffd\\ufffd\\ufffd");
    /* Surrogates, alone and paired (CESU-8). */
    EXPECT("\xed\xa0\x80", "\\ufffd\\ufffd\\ufffd");
    EXPECT("\xed\xbf\xbf", "\\ufffd\\ufffd\\ufffd");
    EXPECT("\xed\xa0\xbd\xed\xb8\x80", "\\ufffd\\ufffd\\ufffd\\ufffd\\ufffd\\ufffd");
    /* Above U+10FFFF; bytes that never appear. */
    EXPECT("\xf4\x90\x80\x80", "\\ufffd\\ufffd\\ufffd\\ufffd");
    EXPECT("\xf5\x80\x80\x80", "\\ufffd\\ufffd\\ufffd\\ufffd");
    EXPECT("\xff\xfe", "\\ufffd\\ufffd");
    /* Truncated: at the end, and followed by something else. */
    EXPECT("\xc3", "\\ufffd");
    EXPECT("\xe2\x82", "\\ufffd\\ufffd");
    EXPECT("\xf0\x9d\x84", "\\ufffd\\ufffd\\ufffd");
    EXPECT("\xe2\x82"
           "A",
           "\\ufffd\\ufffdA");
    EXPECT("\xf0\x9d\x84\xc3\xa9", "\\ufffd\\ufffd\\ufffd\xc3\xa9");
    /* A stray continuation byte between valid characters. */
    EXPECT("\xc3\xa9\x80\xc3\xa9", "\xc3\xa9\\ufffd\xc3\xa9");
    /* A NUL in the middle (strn takes any bytes). */
    s_expect("a\0b", 3, "a\\u0000b");
}
END_TEST

START_TEST(test_json_random_bytes_parse)
{
    /* Random strings, biased towards lead and continuation bytes, through
	 * the strict parser and the reference. */
    unsigned seed = 12345;
    ssi_json_t *j = ssi_json_new();
    ck_assert_ptr_nonnull(j);
    ssi_json_array_begin(j);
    for (int k = 0; k < 5000; k++) {
        unsigned char in[64];
        size_t n = (size_t)(rand_r(&seed) % 40);
        for (size_t i = 0; i < n; i++) {
            int r = rand_r(&seed) % 8;
            in[i] = (unsigned char)(r < 3   ? 0x80 + rand_r(&seed) % 64
                                    : r < 6 ? 0xc0 + rand_r(&seed) % 64
                                            : rand_r(&seed) % 256);
        }
        s_entry(j, in, n);
    }
    ssi_json_array_end(j);
    s_parse_strict(j);
    ssi_json_destroy(&j);
}
END_TEST

START_TEST(test_json_writes_structure)
{
    ssi_json_t *j = ssi_json_new();
    ck_assert_ptr_nonnull(j);
    ssi_json_array_begin(j);
    ssi_json_object_begin(j);
    ssi_json_key(j, "name");
    ssi_json_str(j, "n1");
    ssi_json_key(j, "load");
    ssi_json_fixed(j, 1.5, 2);
    ssi_json_key(j, "pid");
    ssi_json_u64(j, 18446744073709551615ull);
    ssi_json_key(j, "k\"ey");
    ssi_json_array_begin(j);
    ssi_json_array_end(j);
    ssi_json_object_end(j);
    ssi_json_object_begin(j);
    ssi_json_object_end(j);
    ssi_json_fixed(j, 1.0 / 0.0, 2);
    ssi_json_array_end(j);
    size_t len;
    const char *t = ssi_json_text(j, &len);
    ck_assert_str_eq(t, "[{\"name\":\"n1\",\"load\":1.50,\"pid\":18446744073709551615,"
                        "\"k\\\"ey\":[]},{},null]");
    ck_assert_uint_eq(len, strlen(t));
    ck_assert_int_eq(ssi_json_error(j), 0);
    ssi_json_destroy(&j);
    ssi_json_destroy(&j); /* safe twice */
}
END_TEST

START_TEST(test_json_envelope_holds_data_and_missing)
{
    ssi_json_t *j = ssi_json_new();
    ck_assert_ptr_nonnull(j);
    ssi_json_envelope_begin(j, 1);
    ssi_json_array_begin(j);
    ssi_json_u64(j, 7);
    ssi_json_array_end(j);
    const char *missing[] = {"n3", "n\xff"
                                   "4"};
    ssi_json_envelope_end(j, missing, 2);
    ck_assert_str_eq(ssi_json_text(j, NULL),
                     "{\"format\":1,\"data\":[7],\"missing\":[\"n3\",\"n\\ufffd4\"]}");
    ssi_json_destroy(&j);
    /* Nothing missing: an empty array, and the data may be any value. */
    j = ssi_json_new();
    ssi_json_envelope_begin(j, 2);
    ssi_json_str(j, "x");
    ssi_json_envelope_end(j, NULL, 0);
    ck_assert_str_eq(ssi_json_text(j, NULL), "{\"format\":2,\"data\":\"x\",\"missing\":[]}");
    ssi_json_destroy(&j);
}
END_TEST

START_TEST(test_json_rejects_misuse)
{
    ssi_json_t *j;
    /* A value where a key is due; the error sticks. */
    j = ssi_json_new();
    ssi_json_object_begin(j);
    ssi_json_str(j, "x");
    ck_assert_int_eq(ssi_json_error(j), -EINVAL);
    ssi_json_key(j, "k");
    ssi_json_str(j, "v");
    ck_assert_ptr_null(ssi_json_text(j, NULL));
    ssi_json_destroy(&j);
    /* A close that does not match; a key with no value; a key in an array. */
    j = ssi_json_new();
    ssi_json_array_begin(j);
    ssi_json_object_end(j);
    ck_assert_int_eq(ssi_json_error(j), -EINVAL);
    ssi_json_destroy(&j);
    j = ssi_json_new();
    ssi_json_object_begin(j);
    ssi_json_key(j, "k");
    ssi_json_object_end(j);
    ck_assert_int_eq(ssi_json_error(j), -EINVAL);
    ssi_json_destroy(&j);
    j = ssi_json_new();
    ssi_json_array_begin(j);
    ssi_json_key(j, "k");
    ck_assert_int_eq(ssi_json_error(j), -EINVAL);
    ssi_json_destroy(&j);
    /* Two top-level values; nesting too deep. */
    j = ssi_json_new();
    ssi_json_u64(j, 1);
    ssi_json_u64(j, 2);
    ck_assert_int_eq(ssi_json_error(j), -EINVAL);
    ssi_json_destroy(&j);
    j = ssi_json_new();
    for (int i = 0; i <= SSI_JSON_MAX_DEPTH; i++)
        ssi_json_array_begin(j);
    ck_assert_int_eq(ssi_json_error(j), -EINVAL);
    ssi_json_destroy(&j);
}
END_TEST

Suite *suite_json(void)
{
    Suite *s = suite_create("json");
    TCase *tc = tcase_create("writer");
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, test_json_escapes_every_byte);
    tcase_add_test(tc, test_json_passes_valid_utf8);
    tcase_add_test(tc, test_json_replaces_invalid_utf8);
    tcase_add_test(tc, test_json_random_bytes_parse);
    tcase_add_test(tc, test_json_writes_structure);
    tcase_add_test(tc, test_json_envelope_holds_data_and_missing);
    tcase_add_test(tc, test_json_rejects_misuse);
    suite_add_tcase(s, tc);
    return s;
}
