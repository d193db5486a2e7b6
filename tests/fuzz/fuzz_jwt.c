/* JWT (gc_jwt.c): gc_jwt_verify and gc_jwt_verify_mac on any text, with our
 * key and with the RFC 7515 A.1 key; and a token we sign from claims taken
 * from the input must verify, give the claims back, and fail once any one
 * character of it is changed. */
#include "fuzz.h"
#include <apr_strings.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include "gc_b64.h"
#include "gc_jwt.h"
#include "gc_text.h"

/* RFC 7515 A.1's key, base64url (decoded once). */
#define RFC7515_KEY "AyM1SysPpbyDfgZld3umj1qzKObwVMkoqQ-EstJQLr_T-1qS0gZH75aKtMN3Yj0iPS4hcgUuTwjAzZr1Z9CAow"
static const unsigned char our_key[] = "0123456789abcdef0123456789abcdef";

/* Verification of an arbitrary token: no crash, and the claims of an
 * accepted one obey the header's promises. */
static void verify_any(apr_pool_t *p, const char *tok)
{
    static const unsigned char *rfc_key;
    static size_t rfc_len;
    gc_jwt_claims_t c;
    gc_jwt_status_t st;
    const char *payload = "unset";
    int64_t id;

    if (rfc_key == NULL)
        rfc_key = gc_b64url_decode(fuzz_root, RFC7515_KEY, strlen(RFC7515_KEY), &rfc_len);
    st = gc_jwt_verify_mac(p, tok, rfc_key, rfc_len, &payload);
    FUZZ_ASSERT(st == GC_JWT_OK || st == GC_JWT_MALFORMED || st == GC_JWT_BAD_ALG
                || st == GC_JWT_BAD_MAC);
    FUZZ_ASSERT((st == GC_JWT_OK) == (payload != NULL));

    memset(&c, 0, sizeof(c));
    st = gc_jwt_verify(p, tok, our_key, sizeof(our_key) - 1, 1700000000, 30, &c);
    if (st == GC_JWT_OK || st == GC_JWT_EXPIRED) {
        FUZZ_ASSERT(c.sub != NULL && gc_parse_path_id(c.sub, strlen(c.sub), &id));
        FUZZ_ASSERT(c.jti != NULL && *c.jti != '\0');
        FUZZ_ASSERT(st == GC_JWT_EXPIRED || c.exp >= 1700000000 - 30);
    }
    /* The same call at the extremes of time must not overflow. */
    (void)gc_jwt_verify(p, tok, our_key, sizeof(our_key) - 1, INT64_MAX, INT64_MAX, &c);
    (void)gc_jwt_verify(p, tok, our_key, sizeof(our_key) - 1, INT64_MIN, -5, &c);
}

/* Sign claims from the input; the token must verify and round-trip. */
static void sign_and_verify(apr_pool_t *p, const uint8_t *data, size_t size)
{
    gc_jwt_claims_t in, out;
    unsigned char key[64];
    size_t keylen, i, tlen;
    uint64_t sub;
    gc_jwt_status_t st;
    char *tok, *bad;
    const char *alphabet =
        "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_.";

    sub = fuzz_take_u64(&data, &size, 8) & INT64_MAX;
    in.sub = apr_psprintf(p, "%" APR_UINT64_T_FMT, sub ? sub : 1);
    in.iat = (int64_t)fuzz_take_u64(&data, &size, 8);
    in.exp = (int64_t)fuzz_take_u64(&data, &size, 8);
    in.ver = (int64_t)fuzz_take_u64(&data, &size, 8);
    keylen = (size_t)fuzz_take_u64(&data, &size, 1) % sizeof(key);
    for (i = 0; i < keylen; i++)
        key[i] = (unsigned char)fuzz_take_u64(&data, &size, 1);
    /* The rest is the jti: any bytes (invalid UTF-8 becomes null, then the
     * token must be refused as BAD_CLAIMS, never crash). */
    in.jti = apr_pstrmemdup(p, (const char *)data, strnlen((const char *)data, size));

    tok = gc_jwt_sign(p, key, keylen, &in);
    FUZZ_ASSERT(tok != NULL);
    memset(&out, 0, sizeof(out));
    st = gc_jwt_verify(p, tok, key, keylen, in.exp, 0, &out);
    if (strlen(tok) > 4096) {
        FUZZ_ASSERT(st == GC_JWT_MALFORMED);
        return;
    }
    if (*in.jti == '\0' || !gc_utf8_valid(in.jti, strlen(in.jti))) {
        FUZZ_ASSERT(st == GC_JWT_BAD_CLAIMS);
        return;
    }
    FUZZ_ASSERT(st == GC_JWT_OK);
    FUZZ_ASSERT(strcmp(out.sub, in.sub) == 0 && strcmp(out.jti, in.jti) == 0);
    FUZZ_ASSERT(out.iat == in.iat && out.exp == in.exp && out.ver == in.ver);
    FUZZ_ASSERT(gc_jwt_verify_mac(p, tok, key, keylen, NULL) == GC_JWT_OK);

    /* Any one character changed (to another of the token's alphabet) is refused. */
    tlen = strlen(tok);
    bad = apr_pstrdup(p, tok);
    i = (size_t)(sub % tlen);
    bad[i] = alphabet[(strchr(alphabet, bad[i]) - alphabet + 1 + (int)(in.ver & 63) % 64) % 65];
    if (strcmp(bad, tok) != 0)
        FUZZ_ASSERT(gc_jwt_verify(p, bad, key, keylen, in.exp, 0, &out) != GC_JWT_OK);
}

/* The input as the decoded header and payload ("<header>\n<payload>", or
 * our header and the whole input), signed with our key: reaches the header
 * and claim checks that a forged MAC never gets to. */
static void signed_any(apr_pool_t *p, const uint8_t *data, size_t size)
{
    static const char hdr[] = "{\"alg\":\"HS256\",\"typ\":\"JWT\"}";
    const uint8_t *nl = memchr(data, '\n', size);
    const char *h = nl ? (const char *)data : hdr, *input;
    size_t hlen = nl ? (size_t)(nl - data) : strlen(hdr);
    const uint8_t *pl = nl ? nl + 1 : data;
    size_t plen = nl ? size - hlen - 1 : size;
    unsigned char mac[32];
    unsigned int maclen = 0;
    gc_jwt_claims_t c;
    gc_jwt_status_t st;
    int64_t id;

    input = apr_pstrcat(p, gc_b64url_encode(p, (const unsigned char *)h, hlen), ".",
                        gc_b64url_encode(p, pl, plen), NULL);
    FUZZ_ASSERT(HMAC(EVP_sha256(), our_key, (int)sizeof(our_key) - 1,
                     (const unsigned char *)input, strlen(input), mac, &maclen) != NULL);
    input = apr_pstrcat(p, input, ".", gc_b64url_encode(p, mac, maclen), NULL);
    memset(&c, 0, sizeof(c));
    st = gc_jwt_verify(p, input, our_key, sizeof(our_key) - 1, 1700000000, 30, &c);
    FUZZ_ASSERT(st != GC_JWT_BAD_MAC);
    if (st == GC_JWT_OK || st == GC_JWT_EXPIRED) {
        FUZZ_ASSERT(c.sub != NULL && gc_parse_path_id(c.sub, strlen(c.sub), &id));
        FUZZ_ASSERT(c.jti != NULL && *c.jti != '\0');
        /* An accepted header names HS256. */
        FUZZ_ASSERT(memmem(h, hlen, "HS256", 5) != NULL);
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    apr_pool_t *p = fuzz_pool();
    char *tok = fuzz_cstr(data, size);

    verify_any(p, tok);
    sign_and_verify(p, data, size);
    signed_any(p, data, size);
    free(tok);
    apr_pool_destroy(p);
    return 0;
}
