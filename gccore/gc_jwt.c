/* JWT with HS256 only. Following RFC 8725: the algorithm is allow-listed
 * (never chosen by the token), the MAC is checked in constant time before
 * any claim is read, and every segment must be strict base64url. */
#include <string.h>
#include <apr_strings.h>
#include <jansson.h>

#include "gc_b64.h"
#include "gc_crypto.h"
#include "gc_json.h"
#include "gc_jwt.h"
#include "gc_text.h"

#define JWT_MAX_LEN 4096
/* The only header we ever write; its encoding is the same for every token. */
#define JWT_HEADER "{\"alg\":\"HS256\",\"typ\":\"JWT\"}"

/* A token cut at its dots, with every segment decoded. */
typedef struct {
    const char *signing_input;   /* "header.payload" as sent */
    size_t signing_len;
    const char *header;          /* decoded texts, NUL-terminated */
    size_t header_len;
    const char *payload;
    size_t payload_len;
    const unsigned char *sig;
    size_t sig_len;
} jwt_parts_t;

/* HMAC-SHA256 over the signing input, base64url-encoded. */
static char *jwt_mac_b64(apr_pool_t *p, const unsigned char *key, size_t keylen,
                         const char *input, size_t inlen)
{
    unsigned char mac[GC_SHA256_LEN];

    if (gc_hmac_sha256(key, keylen, input, inlen, mac) != 0)
        return NULL;
    return gc_b64url_encode(p, mac, sizeof(mac));
}

/* The claims in our fixed order: sub, iat, exp, jti, ver. */
static json_t *jwt_claims_json(apr_pool_t *p, const gc_jwt_claims_t *c)
{
    json_t *o = gc_json_own(p, json_object());

    if (o == NULL)
        return NULL;
    gc_json_set_str(o, "sub", c->sub);
    json_object_set_new(o, "iat", json_integer(c->iat));
    json_object_set_new(o, "exp", json_integer(c->exp));
    gc_json_set_str(o, "jti", c->jti);
    json_object_set_new(o, "ver", json_integer(c->ver));
    return o;
}

/* Signs claims; the key's bytes are used as given. */
char *gc_jwt_sign(apr_pool_t *p, const unsigned char *key, size_t keylen,
                  const gc_jwt_claims_t *claims)
{
    const char *payload, *input, *mac;
    json_t *o;

    if (claims == NULL || claims->sub == NULL || claims->jti == NULL)
        return NULL;
    o = jwt_claims_json(p, claims);
    payload = o ? gc_json_dump(p, o, NULL) : NULL;
    if (payload == NULL)
        return NULL;
    input = apr_pstrcat(p,
                        gc_b64url_encode(p, (const unsigned char *)JWT_HEADER, strlen(JWT_HEADER)),
                        ".",
                        gc_b64url_encode(p, (const unsigned char *)payload, strlen(payload)),
                        NULL);
    mac = jwt_mac_b64(p, key, keylen, input, strlen(input));
    return mac ? apr_pstrcat(p, input, ".", mac, NULL) : NULL;
}

/* Splits token into exactly three segments and decodes each strictly. */
static gc_jwt_status_t jwt_split(apr_pool_t *p, const char *token, jwt_parts_t *parts)
{
    const char *dot1, *dot2;
    size_t len;

    if (token == NULL)
        return GC_JWT_MALFORMED;
    len = strnlen(token, JWT_MAX_LEN + 1);
    if (len == 0 || len > JWT_MAX_LEN)
        return GC_JWT_MALFORMED;
    dot1 = memchr(token, '.', len);
    dot2 = dot1 ? memchr(dot1 + 1, '.', len - (size_t)(dot1 + 1 - token)) : NULL;
    if (dot2 == NULL || memchr(dot2 + 1, '.', len - (size_t)(dot2 + 1 - token)) != NULL)
        return GC_JWT_MALFORMED;
    parts->signing_input = token;
    parts->signing_len = (size_t)(dot2 - token);
    parts->header = (const char *)gc_b64url_decode(p, token, (size_t)(dot1 - token),
                                                   &parts->header_len);
    parts->payload = (const char *)gc_b64url_decode(p, dot1 + 1, (size_t)(dot2 - dot1 - 1),
                                                    &parts->payload_len);
    parts->sig = gc_b64url_decode(p, dot2 + 1, len - (size_t)(dot2 + 1 - token), &parts->sig_len);
    if (parts->header == NULL || parts->payload == NULL || parts->sig == NULL)
        return GC_JWT_MALFORMED;
    return GC_JWT_OK;
}

/* Checks the header: a JSON object (duplicate keys refused, so that no
 * second "alg" can hide), "alg" exactly "HS256", no "crit" (we understand
 * no extension, so RFC 7515 4.1.11 says reject). */
static gc_jwt_status_t jwt_check_header(const jwt_parts_t *parts)
{
    gc_jwt_status_t st = GC_JWT_OK;
    json_t *h, *alg;

    h = json_loadb(parts->header, parts->header_len, JSON_REJECT_DUPLICATES, NULL);
    if (!json_is_object(h)) {
        json_decref(h);
        return GC_JWT_MALFORMED;
    }
    alg = json_object_get(h, "alg");
    if (!json_is_string(alg) || strcmp(json_string_value(alg), "HS256") != 0
        || json_string_length(alg) != 5 || json_object_get(h, "crit") != NULL)
        st = GC_JWT_BAD_ALG;
    json_decref(h);
    return st;
}

/* Compares the token's signature with ours in constant time. */
static gc_jwt_status_t jwt_check_mac(const jwt_parts_t *parts, const unsigned char *key,
                                     size_t keylen)
{
    unsigned char mac[GC_SHA256_LEN];

    if (gc_hmac_sha256(key, keylen, parts->signing_input, parts->signing_len, mac) != 0)
        return GC_JWT_BAD_MAC;
    return gc_ct_equal(mac, sizeof(mac), parts->sig, parts->sig_len) ? GC_JWT_OK : GC_JWT_BAD_MAC;
}

/* Structure, algorithm and MAC, in that order; the payload is not parsed. */
static gc_jwt_status_t jwt_verify_parts(apr_pool_t *p, const char *token,
                                        const unsigned char *key, size_t keylen,
                                        jwt_parts_t *parts)
{
    gc_jwt_status_t st;

    if ((st = jwt_split(p, token, parts)) != GC_JWT_OK
        || (st = jwt_check_header(parts)) != GC_JWT_OK)
        return st;
    return jwt_check_mac(parts, key, keylen);
}

/* The MAC check alone, for tokens whose claims are not ours. */
gc_jwt_status_t gc_jwt_verify_mac(apr_pool_t *p, const char *token,
                                  const unsigned char *key, size_t keylen,
                                  const char **payload_json)
{
    jwt_parts_t parts;
    gc_jwt_status_t st = jwt_verify_parts(p, token, key, keylen, &parts);

    if (payload_json)
        *payload_json = st == GC_JWT_OK ? parts.payload : NULL;
    return st;
}

/* Reads an integer claim; a JSON real (1.0) or a string is not one. */
static int claim_int(const json_t *o, const char *name, int64_t *out)
{
    json_t *v = json_object_get(o, name);

    if (!json_is_integer(v))
        return 0;
    *out = (int64_t)json_integer_value(v);
    return 1;
}

/* Reads a non-empty string claim into pool memory. */
static int claim_str(apr_pool_t *p, const json_t *o, const char *name, const char **out)
{
    json_t *v = json_object_get(o, name);

    if (!json_is_string(v) || json_string_length(v) == 0)
        return 0;
    *out = apr_pstrmemdup(p, json_string_value(v), json_string_length(v));
    return 1;
}

/* Checks and copies our claims; nbf, when present, must have come. */
static gc_jwt_status_t jwt_read_claims(apr_pool_t *p, const json_t *o, int64_t now,
                                       int64_t leeway, gc_jwt_claims_t *c)
{
    int64_t id, nbf, limit;

    if (!claim_str(p, o, "sub", &c->sub) || !gc_parse_path_id(c->sub, strlen(c->sub), &id)
        || !claim_int(o, "iat", &c->iat) || !claim_int(o, "exp", &c->exp)
        || !claim_str(p, o, "jti", &c->jti) || !claim_int(o, "ver", &c->ver))
        return GC_JWT_BAD_CLAIMS;
    if (json_object_get(o, "nbf") != NULL) {
        if (!claim_int(o, "nbf", &nbf))
            return GC_JWT_BAD_CLAIMS;
        if (!__builtin_add_overflow(now, leeway, &limit) && nbf > limit)
            return GC_JWT_BAD_CLAIMS;
    }
    /* Expired when now > exp + leeway, written so nothing can overflow. */
    if (c->exp < now && !__builtin_sub_overflow(now, leeway, &limit) && c->exp < limit)
        return GC_JWT_EXPIRED;
    return GC_JWT_OK;
}

/* Full verification of one of our tokens at time now. */
gc_jwt_status_t gc_jwt_verify(apr_pool_t *p, const char *token,
                              const unsigned char *key, size_t keylen,
                              int64_t now, int64_t leeway, gc_jwt_claims_t *out)
{
    gc_jwt_claims_t c;
    jwt_parts_t parts;
    gc_jwt_status_t st;
    json_t *o;

    if (leeway < 0)
        leeway = 0;
    st = jwt_verify_parts(p, token, key, keylen, &parts);
    if (st != GC_JWT_OK)
        return st;
    /* By decoded length, so that a NUL byte cannot hide trailing text. */
    o = gc_json_own(p, json_loadb(parts.payload, parts.payload_len, JSON_REJECT_DUPLICATES, NULL));
    if (!json_is_object(o))
        return GC_JWT_MALFORMED;
    memset(&c, 0, sizeof(c));
    st = jwt_read_claims(p, o, now, leeway, &c);
    if (out && (st == GC_JWT_OK || st == GC_JWT_EXPIRED))
        *out = c;
    return st;
}
