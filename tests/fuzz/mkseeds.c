/* mkseeds: writes the fuzz harnesses' seed corpora (tests/fuzz/corpus/)
 * from real encodings made by the project's own encoders: control frames
 * by ssi_msg's writer, call-link requests by ssi_call_pack_req, an image
 * stream laid out as ssi_freeze writes it, tunnel frames as
 * ssi_tunnel_send lays them out. Run by tests/fuzz/mkseeds.sh. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>

#include "ssi_call.h"
#include "ssi_image.h"
#include "ssi_msg.h"
#include "ssi_tunnel.h"

static const char *s_dir;
static uint8_t s_buf[1 << 20];

static void s_write(const char *harness, const char *name, const void *p, size_t n)
{
    char path[512];
    FILE *f;
    snprintf(path, sizeof path, "%s/%s/%s", s_dir, harness, name);
    f = fopen(path, "wb");
    if (!f || fwrite(p, 1, n, f) != n || fclose(f) != 0) {
        perror(path);
        exit(1);
    }
}

/* The harnesses that take a mode byte first. */
static void s_write_mode(const char *harness, const char *name, uint8_t mode, const void *p,
                         size_t n)
{
    static uint8_t b[sizeof s_buf + 1];
    b[0] = mode;
    memcpy(b + 1, p, n);
    s_write(harness, name, b, n + 1);
}

static void s_msgs(void)
{
    ssi_msg_writer_t w;
    uint8_t key[32];
    size_t m;
    long n;
    memset(key, 7, sizeof key);
    ssi_msg_begin(&w, s_buf, sizeof s_buf, SSI_MSG_REGISTER);
    ssi_msg_put_u64(&w, SSI_TAG_PID, 4242);
    ssi_msg_put_u64(&w, SSI_TAG_PPID, 1);
    ssi_msg_put_str(&w, SSI_TAG_CMD, "python3");
    s_write("msg", "register", s_buf, (size_t)ssi_msg_end(&w));
    ssi_msg_begin(&w, s_buf, sizeof s_buf, SSI_MSG_MIGRATE);
    ssi_msg_put_u64(&w, SSI_TAG_PID, 4242);
    ssi_msg_put_str(&w, SSI_TAG_NODE, "n2");
    ssi_msg_put_u64(&w, SSI_TAG_UID, 1000);
    s_write("msg", "migrate", s_buf, (size_t)ssi_msg_end(&w));
    ssi_msg_begin(&w, s_buf, sizeof s_buf, SSI_MSG_GOSSIP);
    ssi_msg_put_str(&w, SSI_TAG_NODE, "n1");
    for (int i = 1; i <= 2; i++) {
        char name[8];
        snprintf(name, sizeof name, "n%d", i);
        m = ssi_msg_open(&w, SSI_TAG_LOAD);
        ssi_msg_put_str(&w, SSI_TAG_NODE, name);
        ssi_msg_put_str(&w, SSI_TAG_STATE, "up");
        ssi_msg_put_u64(&w, SSI_TAG_LOADM, 1500);
        ssi_msg_put_u64(&w, SSI_TAG_NCPU, 2);
        ssi_msg_put_u64(&w, SSI_TAG_FREEKB, 123456);
        ssi_msg_put_u64(&w, SSI_TAG_NPROCS, 3);
        ssi_msg_put_u64(&w, SSI_TAG_AGEMS, 40);
        ssi_msg_close(&w, m);
    }
    s_write("msg", "gossip", s_buf, (size_t)ssi_msg_end(&w));
    ssi_msg_begin(&w, s_buf, sizeof s_buf, SSI_MSG_PS_REP);
    ssi_msg_put_u64(&w, SSI_TAG_REQID, 9);
    ssi_msg_put_str(&w, SSI_TAG_NODE, "n1");
    m = ssi_msg_open(&w, SSI_TAG_PROC);
    ssi_msg_put_str(&w, SSI_TAG_HOME, "n1");
    ssi_msg_put_u64(&w, SSI_TAG_PID, 4242);
    ssi_msg_put_str(&w, SSI_TAG_NODE, "n2");
    ssi_msg_put_str(&w, SSI_TAG_STATE, "away");
    ssi_msg_put_str(&w, SSI_TAG_CMD, "sleep 100");
    ssi_msg_put_u64(&w, SSI_TAG_UID, 0);
    ssi_msg_close(&w, m);
    s_write("msg", "ps_rep", s_buf, (size_t)ssi_msg_end(&w));
    ssi_msg_begin(&w, s_buf, sizeof s_buf, SSI_MSG_MIG_OFFER);
    ssi_msg_put_u64(&w, SSI_TAG_REQID, 3);
    ssi_msg_put_str(&w, SSI_TAG_HOME, "n1");
    ssi_msg_put_u64(&w, SSI_TAG_PID, 4242);
    ssi_msg_put_u64(&w, SSI_TAG_UID, 1000);
    ssi_msg_put_str(&w, SSI_TAG_CMD, "python3 -c pass");
    ssi_msg_put_bytes(&w, SSI_TAG_KEY, key, sizeof key);
    ssi_msg_put_bytes(&w, SSI_TAG_KEY2, key, sizeof key);
    s_write("msg", "mig_offer", s_buf, (size_t)ssi_msg_end(&w));
    ssi_msg_begin(&w, s_buf, sizeof s_buf, SSI_MSG_ERROR);
    ssi_msg_put_u64(&w, SSI_TAG_ERRNO, EPERM);
    ssi_msg_put_str(&w, SSI_TAG_TEXT, "not your process");
    n = ssi_msg_end(&w);
    s_write("msg", "error", s_buf, (size_t)n);
}

static void s_cluster(void)
{
    static const char text[] = "# ssi cluster file\n"
                               "cluster = lab\n"
                               "node = n1\n"
                               "    endpoint = tcp://192.0.2.11:7410\n"
                               "    key = \"Yne@$w-vo<fVvi]a<NY6T1ed:M$fCG*[IaLV{hID\"\n"
                               "node = n2\n"
                               "    endpoint = tcp://192.0.2.12:7410\n"
                               "    key = 'rq:rM>}U?@Lns47E1%kR.o@n%FcmmsL/@{H8]yf7'  # n2\n";
    s_write("cluster", "two_nodes", text, sizeof text - 1);
}

static size_t s_put(size_t off, const void *p, size_t n)
{
    memcpy(s_buf + off, p, n);
    return off + n;
}

static size_t s_rec(size_t off, uint32_t type, const void *body, uint32_t size, uint64_t data_len)
{
    ssi_image_rec_t r = {type, size, data_len};
    off = s_put(off, &r, sizeof r);
    off = s_put(off, body, size);
    memset(s_buf + off, 0x5a, data_len);
    return off + data_len;
}

/* An image as ssi_freeze writes one: header, THREAD with its XSAVE area,
 * PROC, CREDS, SIG, FD, a VMA and its PAGES, END with the counts. The
 * harness's first byte (the size of the data pieces) comes first. */
static void s_image(void)
{
    ssi_image_hdr_t h = {0};
    ssi_image_thread_t t = {0};
    ssi_image_proc_t p = {0};
    ssi_image_creds_t c = {0};
    ssi_image_sig_t s = {0};
    ssi_image_fd_t f = {0};
    ssi_image_vma_t v = {0};
    ssi_image_pages_t pg = {0};
    ssi_image_end_t e = {0};
    size_t off = 1;
    s_buf[0] = 40;
    h.magic = SSI_IMAGE_MAGIC;
    h.version = SSI_IMAGE_VERSION;
    h.hdr_size = sizeof h;
    h.arch = SSI_IMAGE_ARCH_X86_64;
    h.page_size = SSI_IMAGE_PAGE_SIZE;
    h.nthreads = 1;
    h.nvmas = 1;
    h.nfds = 1;
    h.pid = 2;
    off = s_put(off, &h, sizeof h);
    t.tid = 2;
    t.xsave_size = 64;
    off = s_rec(off, SSI_IMAGE_REC_THREAD, &t, sizeof t, 64);
    p.auxv_size = 16;
    off = s_rec(off, SSI_IMAGE_REC_PROC, &p, sizeof p, 0);
    c.ngroups = 2;
    off = s_rec(off, SSI_IMAGE_REC_CREDS, &c, sizeof c, 0);
    s.signo = 10;
    off = s_rec(off, SSI_IMAGE_REC_SIG, &s, sizeof s, 0);
    f.fd = 1;
    off = s_rec(off, SSI_IMAGE_REC_FD, &f, sizeof f, 0);
    v.start = 0x400000;
    v.end = 0x401000;
    off = s_rec(off, SSI_IMAGE_REC_VMA, &v, sizeof v, 0);
    pg.addr = 0x400000;
    pg.len = SSI_IMAGE_PAGE_SIZE;
    off = s_rec(off, SSI_IMAGE_REC_PAGES, &pg, sizeof pg, SSI_IMAGE_PAGE_SIZE);
    e.nrecords = 7;
    e.page_bytes = SSI_IMAGE_PAGE_SIZE;
    off = s_rec(off, SSI_IMAGE_REC_END, &e, sizeof e, 0);
    s_write("image", "small_process", s_buf, off);
}

static size_t s_frame(uint8_t *b, unsigned type, unsigned chan, const void *p, uint32_t len)
{
    ssi_tunnel_hdr_t h = {.type = (uint8_t)type, .flags = 0, .chan = (uint16_t)chan, .len = len};
    memcpy(b, &h, sizeof h);
    memcpy(b + sizeof h, p, len);
    return sizeof h + len;
}

static void s_tunnel(void)
{
    static uint8_t b[4096];
    ssi_tunnel_hello_t hello = {SSI_TUNNEL_MAGIC, SSI_TUNNEL_VERSION, 4242};
    uint32_t credit = 65536;
    int32_t sig = 15;
    /* Mode byte: bit 0 clear (a frame in a record), the reader's room. */
    s_write_mode("tunnel", "hello", 0, b, s_frame(b, SSI_TUNNEL_HELLO, 0, &hello, sizeof hello));
    s_write_mode("tunnel", "data", 0, b, s_frame(b, SSI_TUNNEL_DATA, 1, "hello, world\n", 13));
    s_write_mode("tunnel", "window", 0, b,
                 s_frame(b, SSI_TUNNEL_WINDOW_UPD, 1, &credit, sizeof credit));
    s_write_mode("tunnel", "signal", 4, b, s_frame(b, SSI_TUNNEL_SIGNAL, 0, &sig, sizeof sig));
    /* A well-formed DATA frame longer than the reader's room (1 KiB). */
    {
        static uint8_t big[1500];
        memset(big, 'd', sizeof big);
        s_write_mode("tunnel", "data_over_room", 2, b,
                     s_frame(b, SSI_TUNNEL_DATA, 1, big, sizeof big));
    }
    /* Raw bytes on the socket: a record header (length 12, type 0) and
     * bytes that do not authenticate. */
    memset(b, 0, 40);
    b[3] = 12;
    s_write_mode("tunnel", "raw_record", 1, b, 40);
}

/* A request as the body packs it; the seed is useless if it does not. */
static size_t s_pack(unsigned op, const int64_t *a)
{
    long n = ssi_call_pack_req(op, a, s_buf, sizeof s_buf);
    if (n <= 0) {
        fprintf(stderr, "mkseeds: op %u does not pack (%ld)\n", op, n);
        exit(1);
    }
    return (size_t)n;
}

static void s_call(void)
{
    static char path[] = "/etc/hostname";
    static uint8_t out[256];
    int64_t a[6] = {0};
    size_t n;
    a[0] = -100;
    a[1] = (int64_t)(intptr_t)path;
    a[2] = 0;
    a[4] = 3;
    n = s_pack(SSI_CALL_OP_OPEN, a);
    s_write_mode("call", "req_open", 0, s_buf, n);
    s_write_mode("call", "link_open", 2, s_buf, n);
    a[0] = -100;
    a[1] = (int64_t)(intptr_t)path;
    a[2] = (int64_t)(intptr_t)out;
    a[3] = 0;
    n = s_pack(SYS_newfstatat, a);
    s_write_mode("call", "req_newfstatat", 0, s_buf, n);
    a[0] = 1;
    a[1] = (int64_t)(intptr_t) "written\n";
    a[2] = 8;
    n = s_pack(SYS_write, a);
    s_write_mode("call", "req_write", 0, s_buf, n);
    /* An answer: entry, argument bytes, then a read's answer of 5 bytes. */
    {
        ssi_call_rep_t r = {SSI_TUNNEL_RESULT, 0, SYS_read, 9, 5};
        uint8_t b[64] = {0};
        uint32_t len = 5;
        unsigned e = 0;
        while (ssi_call_nth(e) && ssi_call_nth(e)->op != SYS_read)
            e++;
        b[0] = (uint8_t)e;
        b[1] = 3;
        b[2] = 1;
        b[3] = 1;
        memcpy(b + 8, &r, sizeof r);
        memcpy(b + 8 + sizeof r, &len, 4);
        memcpy(b + 8 + sizeof r + 4, "hello", 5);
        s_write_mode("call", "rep_read", 1, b, 8 + sizeof r + 9);
    }
}

int main(int argc, char **argv)
{
    if (argc != 2) {
        fprintf(stderr, "usage: mkseeds CORPUS-DIR\n");
        return 2;
    }
    s_dir = argv[1];
    s_msgs();
    s_cluster();
    s_image();
    s_tunnel();
    s_call();
    return 0;
}
