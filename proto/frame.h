/*
 * frame.h — the sync protocol's framing.
 *
 *   +----------------+---------+--------------------------------+
 *   | length u32 BE  | flags u8| payload (length bytes)          |
 *   +----------------+---------+--------------------------------+
 *
 * length counts the payload only (not the 5 header bytes). flags bit 0
 * (QS_FRAME_ZSTD) = the payload is one zstd frame whose decompressed content
 * is the msgpack message; the zstd frame must declare its content size. Other
 * flag bits are reserved: a sender sets them to 0 and a receiver rejects them.
 *
 * Limits: length > limits.max_frame is rejected as soon as the header is read,
 * before any allocation; a declared (or actual) decompressed size above
 * limits.max_payload is rejected before decompression allocates. A zero-length
 * payload is invalid (every payload is one msgpack map).
 */
#ifndef QS_FRAME_H
#define QS_FRAME_H

#include <stddef.h>
#include <stdint.h>

#include "proto/buf.h"
#include "proto/err.h"
#include "proto/limits.h"

#define QS_FRAME_HDR 5
#define QS_FRAME_ZSTD 0x01u
#define QS_FRAME_FLAGS_KNOWN QS_FRAME_ZSTD

/* Payloads smaller than this are never compressed (not worth it). */
#define QS_FRAME_COMPRESS_MIN 256
/* The zstd level every frame is compressed at (daemon/link.c; the benchmarks
 * frame as it does). */
#define QS_FRAME_ZSTD_LEVEL 3

/* Append one frame carrying payload to out. If zstd_level > 0 and the payload
 * is at least QS_FRAME_COMPRESS_MIN bytes, compress it, but only keep the
 * compressed form when it is smaller. Returns 0, or QS_ELIMIT when the frame
 * would exceed lim->max_frame or out's maximum. */
int qs_frame_encode(const uint8_t *payload, size_t len, int zstd_level, const qs_limits *lim,
                    qs_buf *out, qs_err *err);

/* Incremental decoder: feed it bytes as they arrive, in chunks of any size. */
typedef struct qs_frame_decoder qs_frame_decoder;

/* The decoder copies *lim. Free with qs_frame_decoder_free. */
qs_frame_decoder *qs_frame_decoder_new(const qs_limits *lim);
void qs_frame_decoder_free(qs_frame_decoder *d);

/* Consume bytes from data[0..len). Sets *used to the bytes consumed. Returns
 *   1  a frame is complete: *payload and *payload_len hold its (decompressed)
 *      payload, valid until the next call on this decoder; call again with the
 *      rest of the data (data + *used),
 *   0  all input consumed, the frame is not complete yet,
 *   <0 QS_ELIMIT or QS_EINVAL: the stream is broken, the decoder is dead (every
 *      later call returns the same error).
 * The decoder buffers at most one frame: max_frame + max_payload bytes. The
 * frame buffer grows with the bytes that actually arrive (a header alone
 * allocates nothing); the decompression buffer is sized from the zstd frame's
 * declared content size after that is checked against max_payload. err may be
 * NULL; the dead decoder still repeats the original message to later callers. */
int qs_frame_decoder_feed(qs_frame_decoder *d, const uint8_t *data, size_t len, size_t *used,
                          const uint8_t **payload, size_t *payload_len, uint8_t *flags,
                          qs_err *err);

/* The payload last returned is no longer needed: give the decoder's buffers
 * back (up to max_frame + max_payload bytes per decoder otherwise stay
 * allocated between frames: ~330 KiB per connection for batches of 1,000
 * records). A no-op in the middle of a frame. The next frame allocates anew.
 * Compression and decompression contexts are not per decoder: each thread
 * keeps one of each for every frame it encodes or decodes (freed when the
 * thread exits). */
void qs_frame_decoder_release(qs_frame_decoder *d);

/* Bytes of frames received so far (headers + payloads as sent, counting the
 * bytes consumed of a frame not yet complete), for counters. */
uint64_t qs_frame_decoder_wire_bytes(const qs_frame_decoder *d);

/* Free this thread's zstd contexts (about 1 MiB at level 3) while it has
 * nothing to code: a daemon idle until tomorrow's sync. They are made anew at
 * the next frame; every frame is coded in one call, so none is cut short. */
void qs_frame_thread_idle(void);

/* This thread's compression / decompression context (what the encoder and
 * every decoder on this thread use; for tests). */
struct ZSTD_CCtx_s *qs__frame_cctx(void);
struct ZSTD_DCtx_s *qs__frame_dctx(void);

#endif
