#include "proto/frame.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <zstd.h>

#include "proto/xmalloc.h"

/* ---- zstd contexts: one of each per thread ----
 * Every frame is one independent zstd frame (no dictionary, no history), so
 * a context carries nothing from one frame to the next and a thread can use
 * one for every frame and every connection. ZSTD_compress made (and zeroed)
 * a fresh compression context of several hundred KiB for every frame, and
 * each decoder held a decompression context of ~95 KiB for its connection's
 * life. They are freed when the thread exits. */
typedef struct zctx {
    ZSTD_CCtx *c;
    ZSTD_DCtx *d;
} zctx;

static pthread_key_t g_zkey;
static pthread_once_t g_zonce = PTHREAD_ONCE_INIT;
static _Thread_local zctx *t_z;

static void zctx_free(void *p)
{
    zctx *z = p;
    ZSTD_freeCCtx(z->c);
    ZSTD_freeDCtx(z->d);
    free(z);
}

static void zkey_make(void)
{
    if (pthread_key_create(&g_zkey, zctx_free) != 0)
        abort();
}

static zctx *thread_zctx(void)
{
    if (!t_z) {
        pthread_once(&g_zonce, zkey_make);
        t_z = qs_xcalloc(1, sizeof *t_z);
        pthread_setspecific(g_zkey, t_z);
    }
    return t_z;
}

/* This thread's contexts (created on first use; NULL if zstd cannot
 * allocate). */
ZSTD_CCtx *qs__frame_cctx(void)
{
    zctx *z = thread_zctx();
    if (!z->c)
        z->c = ZSTD_createCCtx();
    return z->c;
}

ZSTD_DCtx *qs__frame_dctx(void)
{
    zctx *z = thread_zctx();
    if (!z->d)
        z->d = ZSTD_createDCtx();
    return z->d;
}

void qs_frame_thread_idle(void)
{
    if (!t_z)
        return;
    ZSTD_freeCCtx(t_z->c);
    ZSTD_freeDCtx(t_z->d);
    t_z->c = NULL;
    t_z->d = NULL;
}

int qs_frame_encode(const uint8_t *payload, size_t len, int zstd_level, const qs_limits *lim,
                    qs_buf *out, qs_err *err)
{
    int rc = 0;
    uint8_t *tmp = NULL;
    const uint8_t *wire = payload;
    size_t wire_len = len;
    uint8_t flags = 0;

    if (len == 0) {
        rc = qs_err_set(err, QS_EINVAL, "frame: empty payload");
        goto done;
    }
    if (len > lim->max_payload) {
        rc = qs_err_set(err, QS_ELIMIT, "frame: payload of %zu bytes exceeds the limit of %u", len,
                        lim->max_payload);
        goto done;
    }
    if (zstd_level > 0 && len >= QS_FRAME_COMPRESS_MIN) {
        size_t bound = ZSTD_compressBound(len);
        tmp = qs_xmalloc(bound);
        /* ZSTD_compressCCtx starts a new frame (parameters reset to this
         * level) and writes the content size into its header. */
        ZSTD_CCtx *cctx = qs__frame_cctx();
        size_t c = cctx ? ZSTD_compressCCtx(cctx, tmp, bound, payload, len, zstd_level)
                        : ZSTD_compress(tmp, bound, payload, len, zstd_level);
        if (!ZSTD_isError(c) && c < len) {
            wire = tmp;
            wire_len = c;
            flags = QS_FRAME_ZSTD;
        }
    }
    if (wire_len > lim->max_frame) {
        rc = qs_err_set(err, QS_ELIMIT, "frame: %zu bytes exceed the frame limit of %u", wire_len,
                        lim->max_frame);
        goto done;
    }
    if (qs_buf_reserve(out, QS_FRAME_HDR + wire_len)) {
        rc = qs_err_set(err, QS_ELIMIT, "frame: %zu bytes do not fit the output buffer",
                        QS_FRAME_HDR + wire_len);
        goto done;
    }
    uint8_t hdr[QS_FRAME_HDR] = {
        (uint8_t)(wire_len >> 24),
        (uint8_t)(wire_len >> 16),
        (uint8_t)(wire_len >> 8),
        (uint8_t)wire_len,
        flags,
    };
    qs_buf_append(out, hdr, sizeof hdr);
    qs_buf_append(out, wire, wire_len);
done:
    free(tmp);
    return rc;
}

struct qs_frame_decoder {
    qs_limits lim;
    uint8_t hdr[QS_FRAME_HDR];
    size_t hdr_have; /* header bytes of the current frame received */
    uint32_t length; /* payload length of the current frame (valid when hdr_have == 5) */
    uint8_t flags;
    qs_buf frame; /* payload bytes as sent, at most max_frame */
    qs_buf plain; /* decompressed payload, at most max_payload */
    uint64_t wire_bytes;
    int dead; /* 0, or the error code every later call returns */
    char dead_msg[QS_ERR_MSG];
};

qs_frame_decoder *qs_frame_decoder_new(const qs_limits *lim)
{
    qs_frame_decoder *d = qs_xcalloc(1, sizeof *d);
    d->lim = *lim;
    qs_buf_init(&d->frame, lim->max_frame);
    qs_buf_init(&d->plain, lim->max_payload);
    return d;
}

void qs_frame_decoder_free(qs_frame_decoder *d)
{
    if (!d)
        return;
    qs_buf_free(&d->frame);
    qs_buf_free(&d->plain);
    free(d);
}

void qs_frame_decoder_release(qs_frame_decoder *d)
{
    if (!d || d->dead || d->hdr_have != 0 || d->frame.len != d->length)
        return; /* dead (nothing held), or in the middle of a frame: keep it */
    qs_buf_free(&d->frame);
    qs_buf_free(&d->plain);
    qs_buf_init(&d->frame, d->lim.max_frame);
    qs_buf_init(&d->plain, d->lim.max_payload);
    d->length = 0;
}

uint64_t qs_frame_decoder_wire_bytes(const qs_frame_decoder *d)
{
    return d->wire_bytes;
}

/* Record a fatal error: the decoder is dead from now on. */
static int die(qs_frame_decoder *d, qs_err *err, int code)
{
    d->dead = code;
    memcpy(d->dead_msg, err->msg, sizeof d->dead_msg);
    /* Give the buffers back: a dead decoder never decodes again. */
    qs_buf_free(&d->frame);
    qs_buf_free(&d->plain);
    return code;
}

/* The 5 header bytes are in: validate them before anything is allocated. */
static int parse_header(qs_frame_decoder *d, qs_err *err)
{
    d->length = (uint32_t)d->hdr[0] << 24 | (uint32_t)d->hdr[1] << 16 | (uint32_t)d->hdr[2] << 8 |
                d->hdr[3];
    d->flags = d->hdr[4];
    if (d->flags & ~QS_FRAME_FLAGS_KNOWN)
        return qs_err_set(err, QS_EINVAL, "frame: unknown flag bits 0x%02x",
                          (unsigned)(d->flags & ~QS_FRAME_FLAGS_KNOWN));
    if (d->length == 0)
        return qs_err_set(err, QS_EINVAL, "frame: zero-length payload");
    if (d->length > d->lim.max_frame)
        return qs_err_set(err, QS_ELIMIT, "frame: length %u exceeds the limit of %u", d->length,
                          d->lim.max_frame);
    qs_buf_reset(&d->frame);
    return 0;
}

/* The compressed payload is complete in d->frame: decompress it into d->plain. */
static int decompress(qs_frame_decoder *d, qs_err *err)
{
    const uint8_t *src = d->frame.data;
    size_t n = d->frame.len;

    size_t whole = ZSTD_findFrameCompressedSize(src, n);
    if (ZSTD_isError(whole) || whole != n)
        return qs_err_set(err, QS_EINVAL, "frame: payload is not exactly one zstd frame");
    unsigned long long declared = ZSTD_getFrameContentSize(src, n);
    if (declared == ZSTD_CONTENTSIZE_ERROR)
        return qs_err_set(err, QS_EINVAL, "frame: invalid zstd frame header");
    if (declared == ZSTD_CONTENTSIZE_UNKNOWN)
        return qs_err_set(err, QS_EINVAL, "frame: zstd frame does not declare its content size");
    if (declared == 0)
        return qs_err_set(err, QS_EINVAL, "frame: zero-length payload");
    if (declared > d->lim.max_payload)
        return qs_err_set(err, QS_ELIMIT,
                          "frame: declared payload of %llu bytes exceeds the limit of %u", declared,
                          d->lim.max_payload);
    ZSTD_DCtx *dctx = qs__frame_dctx();
    if (!dctx)
        return qs_err_set(err, QS_EIO, "frame: out of memory for zstd");
    qs_buf_reset(&d->plain);
    if (qs_buf_reserve(&d->plain, (size_t)declared))
        return qs_err_set(err, QS_ELIMIT, "frame: payload does not fit its buffer");
    size_t got = ZSTD_decompressDCtx(dctx, d->plain.data, (size_t)declared, src, n);
    if (ZSTD_isError(got))
        return qs_err_set(err, QS_EINVAL, "frame: zstd: %s", ZSTD_getErrorName(got));
    if (got != declared)
        return qs_err_set(err, QS_EINVAL, "frame: zstd frame declares %llu bytes but holds %zu",
                          declared, got);
    d->plain.len = got;
    return 0;
}

int qs_frame_decoder_feed(qs_frame_decoder *d, const uint8_t *data, size_t len, size_t *used,
                          const uint8_t **payload, size_t *payload_len, uint8_t *flags, qs_err *err)
{
    int rc = 0;
    size_t pos = 0;
    qs_err local;

    if (!err)
        err = &local; /* keep the message for the calls after a failure */
    *used = 0;
    if (d->dead)
        return qs_err_set(err, d->dead, "%s", d->dead_msg);
    while (pos < len) {
        if (d->hdr_have < QS_FRAME_HDR) {
            size_t take = QS_FRAME_HDR - d->hdr_have;
            if (take > len - pos)
                take = len - pos;
            memcpy(d->hdr + d->hdr_have, data + pos, take);
            d->hdr_have += take;
            pos += take;
            if (d->hdr_have == QS_FRAME_HDR) {
                rc = parse_header(d, err);
                if (rc)
                    goto done;
            }
            continue;
        }
        size_t take = d->length - d->frame.len;
        if (take > len - pos)
            take = len - pos;
        /* Grows with the data that actually arrived, never past length. */
        if (qs_buf_append(&d->frame, data + pos, take)) {
            rc = qs_err_set(err, QS_ELIMIT, "frame: buffer limit reached");
            goto done;
        }
        pos += take;
        if (d->frame.len < d->length)
            continue;
        /* One frame complete. */
        d->hdr_have = 0;
        if (d->flags & QS_FRAME_ZSTD) {
            rc = decompress(d, err);
            if (rc)
                goto done;
            *payload = d->plain.data;
            *payload_len = d->plain.len;
        } else {
            *payload = d->frame.data;
            *payload_len = d->frame.len;
        }
        *flags = d->flags;
        rc = 1;
        goto done;
    }
done:
    *used = pos;
    d->wire_bytes += pos;
    if (rc < 0)
        return die(d, err, rc);
    return rc;
}
