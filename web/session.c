/* session.c — sign-in sessions and CSRF tokens, in memory (web.h). A restart
 * of qianshou-web signs everybody out. Ids and tokens are 32 bytes from the
 * kernel's random source (OpenSSL's RAND_bytes), shown as hex; they are never
 * logged. */
#include <openssl/crypto.h>
#include <openssl/rand.h>
#include <stdlib.h>
#include <string.h>

#include "proto/uuid.h"
#include "web/web.h"

static void fresh_hex(char *out, size_t hexlen)
{
    uint8_t raw[64];
    if (RAND_bytes(raw, (int)(hexlen / 2)) != 1)
        abort(); /* no randomness: no safe session can be made */
    qs_hex(raw, hexlen / 2, out);
    OPENSSL_cleanse(raw, sizeof raw);
}

void sessions_init(wsessions *t, int64_t idle_ms)
{
    memset(t, 0, sizeof *t);
    t->idle_ms = idle_ms;
}

wsession *session_new(wsessions *t, int64_t now_ms)
{
    wsession *slot = NULL, *oldest = NULL, *oldest_anon = NULL;
    for (size_t i = 0; i < WEB_MAX_SESSIONS; i++) {
        wsession *s = &t->s[i];
        if (s->used && now_ms - s->seen_ms > t->idle_ms)
            session_drop(s);
        if (!s->used) {
            slot = s;
            break;
        }
        if (!oldest || s->seen_ms < oldest->seen_ms)
            oldest = s;
        if (!s->user[0] && (!oldest_anon || s->seen_ms < oldest_anon->seen_ms))
            oldest_anon = s;
    }
    if (!slot)
        slot = oldest_anon ? oldest_anon : oldest;
    session_drop(slot);
    slot->used = true;
    slot->created_ms = slot->seen_ms = now_ms;
    fresh_hex(slot->sid, WEB_SID_HEX);
    fresh_hex(slot->csrf, WEB_TOKEN_HEX);
    return slot;
}

wsession *session_find(wsessions *t, const char *sid, int64_t now_ms)
{
    if (!sid || strlen(sid) != WEB_SID_HEX)
        return NULL;
    for (size_t i = 0; i < WEB_MAX_SESSIONS; i++) {
        wsession *s = &t->s[i];
        if (!s->used || CRYPTO_memcmp(s->sid, sid, WEB_SID_HEX) != 0)
            continue;
        if (now_ms - s->seen_ms > t->idle_ms) {
            session_drop(s);
            return NULL;
        }
        s->seen_ms = now_ms;
        return s;
    }
    return NULL;
}

void session_drop(wsession *s)
{
    OPENSSL_cleanse(s, sizeof *s);
    s->used = false;
}

void session_renew(wsession *s, int64_t now_ms)
{
    fresh_hex(s->sid, WEB_SID_HEX);
    fresh_hex(s->csrf, WEB_TOKEN_HEX);
    s->created_ms = s->seen_ms = now_ms;
}

bool session_csrf_ok(const wsession *s, const char *token)
{
    return s && token && strlen(token) == WEB_TOKEN_HEX &&
           CRYPTO_memcmp(s->csrf, token, WEB_TOKEN_HEX) == 0;
}
