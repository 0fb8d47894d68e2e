/*
 * msg.h — sync protocol messages (PROTOCOL.md "Messages").
 *
 * Every payload is one msgpack map with small unsigned integer keys; key 0 is
 * the message type. Unknown keys are ignored; a missing required key or a
 * value of the wrong type is QS_EINVAL with the key named. Message type
 * numbers are never reused; an unknown type decodes to QS_EPROTO.
 *
 * Protocol version: QS_PROTO_VERSION. A peer whose HELLO carries a different
 * major version gets ERROR and the connection closes.
 */
#ifndef QS_MSG_H
#define QS_MSG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "proto/buf.h"
#include "proto/err.h"
#include "proto/limits.h"
#include "proto/record.h"

#define QS_PROTO_VERSION 1

enum qs_msg_type {
    QS_MSG_HELLO = 1,   /* child -> parent, first message */
    QS_MSG_WELCOME = 2, /* parent -> child, answer to HELLO */
    QS_MSG_PUSH = 3,    /* child -> parent: a batch of the child's versions */
    QS_MSG_ACK = 4,     /* either way: a batch applied and its cursor stored */
    QS_MSG_PULL = 5,    /* child -> parent: send me what I may see since `since` */
    QS_MSG_CHANGES = 6, /* parent -> child: a batch of versions */
    QS_MSG_DONE = 7,    /* sender has nothing more in this direction for now */
    QS_MSG_ERROR = 8,   /* fatal: the sender closes after it */
    QS_MSG_PING = 9,
    QS_MSG_PONG = 10,
};

/* Features (bitmask in HELLO/WELCOME key 6). */
#define QS_FEAT_ZSTD 0x1u

/* Per-record outcome, as stored (store.h) and as sent in ACK. */
enum qs_outcome {
    QS_OUT_APPLIED = 0,   /* new record or fast-forward */
    QS_OUT_DUPLICATE = 1, /* already held: no-op */
    QS_OUT_CONFLICT = 2,  /* concurrent: kept, winner chosen, loser(s) listed */
    QS_OUT_REJECTED = 3,  /* invalid, out of scope or hash mismatch: nothing applied */
    QS_OUT_PARKED = 4,    /* unknown kind or newer schema: kept aside, applied after upgrade */
};

#define QS_NODE_MAX 16
#define QS_INC_LEN 16
#define QS_REASON_MAX 256

typedef struct qs_hello {            /* HELLO and WELCOME */
    uint32_t proto;                  /* 1 */
    char node[QS_NODE_MAX];          /* 2: the sender's node id (must equal its cert CN) */
    uint8_t incarnation[QS_INC_LEN]; /* 3: the sender's store incarnation */
    uint32_t schema;                 /* 4: highest schema version the sender knows */
    qs_hlc hlc;                      /* 5: the sender's clock at send time */
    uint32_t features;               /* 6: QS_FEAT_* */
    uint64_t cursor;                 /* 7: the last of the peer's sequence numbers the
                                             sender has applied (0 = none) */
    bool has_peer_inc;               /* 8: present when the sender knows the peer's */
    uint8_t peer_inc[QS_INC_LEN];    /*    incarnation; cursor is only valid for it */
    uint32_t max_batch;              /* 9: records per batch the sender accepts */
    uint32_t window;                 /* 10: unacknowledged batches the sender accepts */
    bool has_wall;                   /* 11: present when the sender sent its wall clock */
    uint64_t wall_ms;                /*     (ms since the epoch, physical time through the
                                            clock hook, not the HLC): skew is measured
                                            from it */
} qs_hello;

typedef struct qs_batch { /* PUSH and CHANGES */
    uint64_t batch;       /* 1: batch number in this session, from 1 */
    uint64_t upto;        /* 2: the sender's sequence number this batch covers up to;
                                the receiver stores it as its cursor when it applies */
    qs_record *recs;      /* 3: array of records (owned) */
    uint32_t n;
} qs_batch;

typedef struct qs_result {
    uint8_t outcome; /* enum qs_outcome */
    char *reason;    /* owned, NULL when none; <= QS_REASON_MAX bytes */
} qs_result;

typedef struct qs_ack {
    uint64_t batch;     /* 1 */
    uint64_t cursor;    /* 2: the cursor now stored (the batch's upto) */
    qs_result *results; /* 3: one per record, in batch order (owned) */
    uint32_t n;
} qs_ack;

typedef struct qs_pull {
    uint64_t since; /* 1: the child's cursor for the parent */
} qs_pull;

typedef struct qs_done {
    uint64_t upto; /* 1: the sender's highest sequence number sent (or 0) */
} qs_done;

typedef struct qs_error_msg {
    int32_t code;            /* 1: a QS_E… code */
    char msg[QS_REASON_MAX]; /* 2 */
} qs_error_msg;

typedef struct qs_ping {
    uint64_t token; /* 1 */
} qs_ping;

typedef struct qs_msg {
    uint32_t type; /* enum qs_msg_type */
    union {
        qs_hello hello;
        qs_batch batch;
        qs_ack ack;
        qs_pull pull;
        qs_done done;
        qs_error_msg error;
        qs_ping ping;
    } u;
} qs_msg;

/* Decode one payload (already de-framed and decompressed) into m. Runs
 * qs_mp_check under lim first; checks lim->max_batch, and every record's
 * sizes (not its hash: the store verifies, so a bad record is rejected alone).
 * On error m holds nothing that needs freeing. */
int qs_msg_decode(const uint8_t *p, size_t n, const qs_limits *lim, qs_msg *m, qs_err *err);
void qs_msg_free(qs_msg *m);

/* Encode m as a payload appended to out. */
int qs_msg_encode(const qs_msg *m, qs_buf *out, qs_err *err);

/* A record alone, in its wire form (the element of a batch's array): used by
 * the store to keep parked records and by tests. */
int qs_record_encode(const qs_record *r, qs_buf *out, qs_err *err);
int qs_record_decode(const uint8_t *p, size_t n, const qs_limits *lim, qs_record *r, qs_err *err);

const char *qs_msg_type_name(uint32_t type);
const char *qs_outcome_name(int outcome);

#endif
