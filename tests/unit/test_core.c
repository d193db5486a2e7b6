/* Unit tests of the httpd-free core library (gccore/): every public function,
 * with the published test vectors (RFC 7515 A.1, RFC 4231, the Stripe
 * webhook example) and known answers computed independently with Python. */
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <apr_general.h>
#include <apr_pools.h>
#include <apr_strings.h>

#include "gc_b64.h"
#include "gc_crypto.h"
#include "gc_job.h"
#include "gc_json.h"
#include "gc_jwt.h"
#include "gc_otp.h"
#include "gc_password.h"
#include "gc_redis_url.h"
#include "gc_sig.h"
#include "gc_text.h"
#include "gc_time.h"
#include "unit.h"

#define S(lit) (lit), (sizeof(lit) - 1)   /* a literal and its length, NULs included */

/* ------------------------------------------------------------------ b64 -- */

/* Encodes s and compares with want. */
static void b64_enc(apr_pool_t *p, const char *s, size_t len, const char *want)
{
    STR_EQ(gc_b64url_encode(p, (const unsigned char *)s, len), want,
           apr_psprintf(p, "b64url encode of %lu bytes -> %s", (unsigned long)len, want));
}

/* 1 when gc_b64url_decode refuses s. */
static int b64_refuses(apr_pool_t *p, const char *s, size_t len)
{
    size_t n;
    return gc_b64url_decode(p, s, len, &n) == NULL;
}

/* base64url: RFC 4648 vectors, the URL alphabet, strictness, round trips. */
static void test_b64(apr_pool_t *p)
{
    unsigned char buf[64];
    unsigned char *dec;
    size_t n, i;
    int all_ok = 1;

    b64_enc(p, S(""), "");
    b64_enc(p, S("f"), "Zg");
    b64_enc(p, S("fo"), "Zm8");
    b64_enc(p, S("foo"), "Zm9v");
    b64_enc(p, S("foob"), "Zm9vYg");
    b64_enc(p, S("fooba"), "Zm9vYmE");
    b64_enc(p, S("foobar"), "Zm9vYmFy");
    b64_enc(p, S("\xfb\xff"), "-_8");

    dec = gc_b64url_decode(p, S("Zm9vYmE"), &n);
    OK(dec && n == 5 && memcmp(dec, "fooba", 5) == 0 && dec[5] == '\0',
       "b64url decode Zm9vYmE -> fooba, NUL-terminated");
    dec = gc_b64url_decode(p, S("-_8"), &n);
    OK(dec && n == 2 && dec[0] == 0xfb && dec[1] == 0xff, "b64url decode uses - and _");
    dec = gc_b64url_decode(p, S(""), &n);
    OK(dec && n == 0, "b64url decode of empty text is zero bytes");

    OK(b64_refuses(p, S("Zm8=")), "b64url refuses padding '='");
    OK(b64_refuses(p, S("Zg==")), "b64url refuses double padding");
    OK(b64_refuses(p, S("Zm9vY")), "b64url refuses impossible length (len %% 4 == 1)");
    OK(b64_refuses(p, S("Zh")), "b64url refuses non-zero filler bits (2 chars)");
    OK(b64_refuses(p, S("Zm9")), "b64url refuses non-zero filler bits (3 chars)");
    OK(b64_refuses(p, S("Zm 9v")), "b64url refuses a space");
    OK(b64_refuses(p, S("Zm9v\n")), "b64url refuses a newline");
    OK(b64_refuses(p, S("+/8")), "b64url refuses the + and / of plain base64");
    OK(b64_refuses(p, S("Zm\0v")), "b64url refuses an embedded NUL");
    OK(gc_b64url_decode(p, NULL, 0, &n) == NULL, "b64url refuses NULL");

    for (i = 0; i < sizeof(buf); i++) {
        char *enc;
        if (gc_random_bytes(buf, i) != 0) {
            all_ok = 0;
            break;
        }
        enc = gc_b64url_encode(p, buf, i);
        dec = gc_b64url_decode(p, enc, strlen(enc), &n);
        if (dec == NULL || n != i || memcmp(dec, buf, i) != 0 || strchr(enc, '='))
            all_ok = 0;
    }
    OK(all_ok, "b64url round trip of random data, lengths 0..63");
}

/* --------------------------------------------------------------- crypto -- */

/* HMAC, randomness, hex and constant-time compare. */
static void test_crypto(apr_pool_t *p)
{
    unsigned char mac[GC_SHA256_LEN], a[32], b[32];
    unsigned hits[10] = { 0 };
    uint32_t v;
    int i, in_range = 1, all_hit = 1;
    char *h1, *h2;

    OK(gc_hmac_sha256("Jefe", 4, "what do ya want for nothing?", 28, mac) == 0,
       "hmac-sha256 RFC 4231 case 2 runs");
    STR_EQ(gc_hex(p, mac, sizeof(mac)),
           "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843",
           "hmac-sha256 RFC 4231 case 2 value");
    OK(gc_hmac_sha256(NULL, 0, NULL, 0, mac) == 0, "hmac-sha256 of empty key and message runs");
    STR_EQ(gc_hex(p, mac, sizeof(mac)),
           "b613679a0814d9ec772f95d778c35fc5ff1697c493715653c6c712144292c5ad",
           "hmac-sha256 of empty key and message value");

    OK(gc_random_bytes(a, sizeof(a)) == 0 && gc_random_bytes(b, sizeof(b)) == 0
       && memcmp(a, b, sizeof(a)) != 0, "random_bytes gives two different 32-byte draws");
    OK(gc_random_bytes(a, 0) == 0, "random_bytes of zero bytes succeeds");

    OK(gc_random_uniform(0, &v) == -1, "random_uniform refuses bound 0");
    OK(gc_random_uniform(1, &v) == 0 && v == 0, "random_uniform bound 1 gives 0");
    OK(gc_random_uniform(UINT32_MAX, &v) == 0 && v < UINT32_MAX, "random_uniform bound 2^32-1");
    OK(gc_random_uniform(0x80000001u, &v) == 0 && v < 0x80000001u,
       "random_uniform bound just over 2^31 (half the draws rejected)");
    for (i = 0; i < 10000; i++) {
        if (gc_random_uniform(10, &v) != 0 || v >= 10) {
            in_range = 0;
            break;
        }
        hits[v]++;
    }
    for (i = 0; i < 10; i++)
        if (hits[i] < 800 || hits[i] > 1200)
            all_hit = 0;
    OK(in_range, "random_uniform(10) stays in [0, 10)");
    OK(all_hit, "random_uniform(10) hits each value about 1000 times in 10000");

    STR_EQ(gc_hex(p, (const unsigned char *)"\x00\x01\xab\xff", 4), "0001abff", "hex is lower case");
    STR_EQ(gc_hex(p, (const unsigned char *)"", 0), "", "hex of nothing is empty");

    OK(gc_ct_equal("abc", 3, "abc", 3) == 1, "ct_equal: equal buffers");
    OK(gc_ct_equal("abc", 3, "abd", 3) == 0, "ct_equal: different last byte");
    OK(gc_ct_equal("abc", 3, "abcd", 4) == 0, "ct_equal: different lengths");
    OK(gc_ct_equal("", 0, "", 0) == 1, "ct_equal: two empty buffers");

    h1 = gc_random_hex(p, 16);
    h2 = gc_random_hex(p, 16);
    OK(h1 && strlen(h1) == 32 && strspn(h1, "0123456789abcdef") == 32,
       "random_hex(16) is 32 lower-case hex characters");
    OK(h1 && h2 && strcmp(h1, h2) != 0, "random_hex gives different values");
    STR_EQ(gc_random_hex(p, 0), "", "random_hex(0) is empty");
}

/* ------------------------------------------------------------------ jwt -- */

static const unsigned char jwt_key[] = "0123456789abcdef0123456789abcdef-test-key";
#define JWT_KEYLEN (sizeof(jwt_key) - 1)
#define NOW ((int64_t)1795508100)   /* 2026-11-24T08:15:00Z */

/* A token with any header and payload text, correctly signed under jwt_key. */
static char *make_token(apr_pool_t *p, const char *header, const char *payload)
{
    unsigned char mac[GC_SHA256_LEN];
    char *input = apr_pstrcat(p, gc_b64url_encode(p, (const unsigned char *)header, strlen(header)),
                              ".",
                              gc_b64url_encode(p, (const unsigned char *)payload, strlen(payload)),
                              NULL);

    if (gc_hmac_sha256(jwt_key, JWT_KEYLEN, input, strlen(input), mac) != 0)
        return NULL;
    return apr_pstrcat(p, input, ".", gc_b64url_encode(p, mac, sizeof(mac)), NULL);
}

/* Verifies a token at NOW with 60 s leeway. */
static gc_jwt_status_t verify(apr_pool_t *p, const char *token, gc_jwt_claims_t *c)
{
    gc_jwt_claims_t dummy;
    return gc_jwt_verify(p, token, jwt_key, JWT_KEYLEN, NOW, 60, c ? c : &dummy);
}

#define HS256 "{\"alg\":\"HS256\",\"typ\":\"JWT\"}"
#define GOOD_CLAIMS "{\"sub\":\"42\",\"iat\":1795508000,\"exp\":1795594400,\"jti\":\"abc\",\"ver\":3}"

/* The RFC 7515 Appendix A.1 example: a foreign key and foreign claims. */
static void test_jwt_rfc7515(apr_pool_t *p)
{
    static const char k[] =
        "AyM1SysPpbyDfgZld3umj1qzKObwVMkoqQ-EstJQLr_T-1qS0gZH75aKtMN3Yj0iPS4hcgUuTwjAzZr1Z9CAow";
    static const char tok[] =
        "eyJ0eXAiOiJKV1QiLA0KICJhbGciOiJIUzI1NiJ9"
        ".eyJpc3MiOiJqb2UiLA0KICJleHAiOjEzMDA4MTkzODAsDQogImh0dHA6Ly9leGFtcGxlLmNvbS9pc19yb290Ijp0cnVlfQ"
        ".dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk";
    const char *payload = NULL;
    gc_jwt_claims_t c;
    gc_jwt_status_t st;
    unsigned char *key;
    size_t keylen = 0;
    char *bad;

    key = gc_b64url_decode(p, k, strlen(k), &keylen);
    OK(key && keylen == 64, "RFC 7515 A.1 key decodes to 64 bytes");
    if (key == NULL)
        return;
    INT_EQ(gc_jwt_verify_mac(p, tok, key, keylen, &payload), GC_JWT_OK,
           "RFC 7515 A.1 signature verifies");
    OK(payload && strstr(payload, "\"iss\":\"joe\"") && strstr(payload, "1300819380"),
       "RFC 7515 A.1 payload is returned decoded");
    st = gc_jwt_verify(p, tok, key, keylen, NOW, 60, &c);
    OK(st == GC_JWT_BAD_CLAIMS || st == GC_JWT_EXPIRED,
       "RFC 7515 A.1 through gc_jwt_verify is refused (no sub/jti/ver, exp 2011): %d", (int)st);
    /* The last of 43 characters carries 2 filler bits: 'k' (36) has them
     * zero, 'l' (37) decodes to the same bytes with a filler bit set. */
    bad = apr_pstrdup(p, tok);
    bad[strlen(bad) - 1] = 'l';
    INT_EQ(gc_jwt_verify_mac(p, bad, key, keylen, NULL), GC_JWT_MALFORMED,
           "RFC 7515 A.1 with non-zero filler bits in the signature is MALFORMED");
    bad[strlen(bad) - 1] = 'k';
    bad[strlen(bad) - 3] = 'Y';
    INT_EQ(gc_jwt_verify_mac(p, bad, key, keylen, NULL), GC_JWT_BAD_MAC,
           "RFC 7515 A.1 with one signature character changed is BAD_MAC");
    INT_EQ(gc_jwt_verify_mac(p, tok, key, keylen - 1, NULL), GC_JWT_BAD_MAC,
           "RFC 7515 A.1 under a shorter key is BAD_MAC");
}

/* Signing, and a sign -> verify round trip. */
static void test_jwt_roundtrip(apr_pool_t *p)
{
    gc_jwt_claims_t in = { "42", NOW, NOW + 86400, "jti-1", 7 }, out;
    const char *payload = NULL;
    char *tok = gc_jwt_sign(p, jwt_key, JWT_KEYLEN, &in);
    char *head;

    OK(tok != NULL, "jwt_sign returns a token");
    if (tok == NULL)
        return;
    head = apr_pstrndup(p, tok, (size_t)(strchr(tok, '.') - tok));
    STR_EQ(head, gc_b64url_encode(p, (const unsigned char *)HS256, strlen(HS256)),
           "jwt_sign header is {\"alg\":\"HS256\",\"typ\":\"JWT\"}");
    gc_jwt_verify_mac(p, tok, jwt_key, JWT_KEYLEN, &payload);
    STR_EQ(payload, "{\"sub\":\"42\",\"iat\":1795508100,\"exp\":1795594500,\"jti\":\"jti-1\",\"ver\":7}",
           "jwt_sign claims in order sub, iat, exp, jti, ver");
    memset(&out, 0, sizeof(out));
    INT_EQ(verify(p, tok, &out), GC_JWT_OK, "sign -> verify round trip is OK");
    OK(out.sub && strcmp(out.sub, "42") == 0 && out.iat == NOW && out.exp == NOW + 86400
       && out.jti && strcmp(out.jti, "jti-1") == 0 && out.ver == 7,
       "round trip returns the claims");
    INT_EQ(gc_jwt_verify(p, tok, (const unsigned char *)"another key of at least 32 bytes..", 34,
                         NOW, 60, &out), GC_JWT_BAD_MAC, "verify under another key is BAD_MAC");
    in.sub = NULL;
    OK(gc_jwt_sign(p, jwt_key, JWT_KEYLEN, &in) == NULL, "jwt_sign refuses a NULL sub");
    in.sub = "42";
    in.jti = NULL;
    OK(gc_jwt_sign(p, jwt_key, JWT_KEYLEN, &in) == NULL, "jwt_sign refuses a NULL jti");
}

/* Header, structure and encoding attacks. */
static void test_jwt_structure(apr_pool_t *p)
{
    static const char other_sub[] =
        "{\"sub\":\"1\",\"iat\":1795508000,\"exp\":1795594400,\"jti\":\"abc\",\"ver\":3}";
    char *good = make_token(p, HS256, GOOD_CLAIMS);
    const char *dot2 = strrchr(good, '.');
    char *t;
    size_t i;

    INT_EQ(verify(p, good, NULL), GC_JWT_OK, "hand-made token with good claims is OK");
    INT_EQ(verify(p, make_token(p, "{\"alg\":\"HS256\"}", GOOD_CLAIMS), NULL), GC_JWT_OK,
           "header without typ is OK");
    INT_EQ(verify(p, make_token(p, "{\"alg\":\"none\",\"typ\":\"JWT\"}", GOOD_CLAIMS), NULL),
           GC_JWT_BAD_ALG, "alg none is BAD_ALG");
    t = apr_pstrcat(p, gc_b64url_encode(p, (const unsigned char *)"{\"alg\":\"none\"}", 14), ".",
                    gc_b64url_encode(p, (const unsigned char *)GOOD_CLAIMS, strlen(GOOD_CLAIMS)),
                    ".", NULL);
    INT_EQ(verify(p, t, NULL), GC_JWT_BAD_ALG, "unsigned alg none token with empty signature is BAD_ALG");
    INT_EQ(verify(p, make_token(p, "{\"alg\":\"HS512\",\"typ\":\"JWT\"}", GOOD_CLAIMS), NULL),
           GC_JWT_BAD_ALG, "alg HS512 is BAD_ALG");
    INT_EQ(verify(p, make_token(p, "{\"alg\":\"hs256\"}", GOOD_CLAIMS), NULL), GC_JWT_BAD_ALG,
           "alg hs256 (wrong case) is BAD_ALG");
    INT_EQ(verify(p, make_token(p, "{\"typ\":\"JWT\"}", GOOD_CLAIMS), NULL), GC_JWT_BAD_ALG,
           "header without alg is BAD_ALG");
    INT_EQ(verify(p, make_token(p, "{\"alg\":[\"HS256\"]}", GOOD_CLAIMS), NULL), GC_JWT_BAD_ALG,
           "alg that is not a string is BAD_ALG");
    INT_EQ(verify(p, make_token(p, "{\"alg\":\"HS256\",\"crit\":[\"exp\"]}", GOOD_CLAIMS), NULL),
           GC_JWT_BAD_ALG, "crit present is BAD_ALG");
    INT_EQ(verify(p, make_token(p, "{\"alg\":\"none\",\"alg\":\"HS256\"}", GOOD_CLAIMS), NULL),
           GC_JWT_MALFORMED, "header with a duplicate alg is MALFORMED");
    INT_EQ(verify(p, make_token(p, "[\"HS256\"]", GOOD_CLAIMS), NULL), GC_JWT_MALFORMED,
           "header that is not an object is MALFORMED");
    INT_EQ(verify(p, make_token(p, "{\"alg\":\"HS256\"", GOOD_CLAIMS), NULL), GC_JWT_MALFORMED,
           "header that is not JSON is MALFORMED");
    INT_EQ(verify(p, make_token(p, HS256, "[1]"), NULL), GC_JWT_MALFORMED,
           "payload that is not an object is MALFORMED");
    INT_EQ(verify(p, make_token(p, HS256, "{\"sub\":"), NULL), GC_JWT_MALFORMED,
           "payload that is not JSON is MALFORMED");

    /* Payload swapped for another one under the original signature. */
    t = apr_pstrcat(p, apr_pstrndup(p, good, (size_t)(strchr(good, '.') - good)), ".",
                    gc_b64url_encode(p, (const unsigned char *)other_sub, strlen(other_sub)),
                    dot2, NULL);
    INT_EQ(verify(p, t, NULL), GC_JWT_BAD_MAC, "tampered payload is BAD_MAC");
    t = apr_pstrdup(p, good);
    t[strlen(t) - 1] = t[strlen(t) - 1] == 'A' ? 'B' : 'A';
    OK(verify(p, t, NULL) != GC_JWT_OK, "changed last signature character is refused");
    INT_EQ(verify(p, apr_pstrcat(p, good, "=", NULL), NULL), GC_JWT_MALFORMED,
           "signature with '=' padding is MALFORMED");
    INT_EQ(verify(p, apr_pstrcat(p, good, " ", NULL), NULL), GC_JWT_MALFORMED,
           "trailing space is MALFORMED");
    INT_EQ(verify(p, apr_pstrcat(p, " ", good, NULL), NULL), GC_JWT_MALFORMED,
           "leading space is MALFORMED");
    INT_EQ(verify(p, apr_pstrcat(p, good, "\n", NULL), NULL), GC_JWT_MALFORMED,
           "trailing newline is MALFORMED");
    INT_EQ(verify(p, apr_pstrndup(p, good, (size_t)(dot2 - good)), NULL), GC_JWT_MALFORMED,
           "two segments is MALFORMED");
    INT_EQ(verify(p, apr_pstrcat(p, good, ".", NULL), NULL), GC_JWT_MALFORMED,
           "four segments (trailing dot) is MALFORMED");
    INT_EQ(verify(p, apr_pstrcat(p, good, ".e30", NULL), NULL), GC_JWT_MALFORMED,
           "four segments is MALFORMED");
    INT_EQ(verify(p, "", NULL), GC_JWT_MALFORMED, "empty token is MALFORMED");
    INT_EQ(verify(p, "..", NULL), GC_JWT_MALFORMED, "\"..\" is MALFORMED");
    INT_EQ(gc_jwt_verify(p, NULL, jwt_key, JWT_KEYLEN, NOW, 60, NULL), GC_JWT_MALFORMED,
           "NULL token is MALFORMED");
    t = apr_palloc(p, 5000);
    for (i = 0; i < 4999; i++)
        t[i] = 'A';
    t[100] = '.';
    t[200] = '.';
    t[4999] = '\0';
    INT_EQ(verify(p, t, NULL), GC_JWT_MALFORMED, "token over 4096 bytes is MALFORMED");
}

/* Claims after a good MAC: types, sub rules, ver, nbf, exp with leeway. */
static void test_jwt_claims(apr_pool_t *p)
{
    gc_jwt_claims_t c;

#define CLAIMS(sub, exp, ver, extra) \
    "{\"sub\":" sub ",\"iat\":1795508000,\"exp\":" exp ",\"jti\":\"j\"" ver extra "}"
#define V(claims) verify(p, make_token(p, HS256, claims), &c)

    memset(&c, 0, sizeof(c));
    INT_EQ(V(CLAIMS("\"42\"", "1795508039", ",\"ver\":1", "")), GC_JWT_EXPIRED,
           "exp 61 s before now (past the 60 s leeway) is EXPIRED");
    OK(c.sub && strcmp(c.sub, "42") == 0 && c.exp == 1795508039, "EXPIRED still returns the claims");
    INT_EQ(V(CLAIMS("\"42\"", "1795508040", ",\"ver\":1", "")), GC_JWT_OK,
           "exp exactly leeway before now is OK");
    INT_EQ(V(CLAIMS("\"42\"", "1795508099", ",\"ver\":1", "")), GC_JWT_OK,
           "exp 1 s before now (within leeway) is OK");
    INT_EQ(gc_jwt_verify(p, make_token(p, HS256, CLAIMS("\"42\"", "1795508099", ",\"ver\":1", "")),
                         jwt_key, JWT_KEYLEN, NOW, 0, &c), GC_JWT_EXPIRED,
           "exp 1 s before now with no leeway is EXPIRED");
    INT_EQ(V(CLAIMS("42", "1795594400", ",\"ver\":1", "")), GC_JWT_BAD_CLAIMS,
           "sub as a number is BAD_CLAIMS");
    INT_EQ(V(CLAIMS("null", "1795594400", ",\"ver\":1", "")), GC_JWT_BAD_CLAIMS,
           "sub null is BAD_CLAIMS");
    INT_EQ(V(CLAIMS("\"01\"", "1795594400", ",\"ver\":1", "")), GC_JWT_BAD_CLAIMS,
           "sub \"01\" (leading zero) is BAD_CLAIMS");
    INT_EQ(V(CLAIMS("\"0\"", "1795594400", ",\"ver\":1", "")), GC_JWT_BAD_CLAIMS,
           "sub \"0\" is BAD_CLAIMS");
    INT_EQ(V(CLAIMS("\"-1\"", "1795594400", ",\"ver\":1", "")), GC_JWT_BAD_CLAIMS,
           "sub \"-1\" is BAD_CLAIMS");
    INT_EQ(V(CLAIMS("\"\"", "1795594400", ",\"ver\":1", "")), GC_JWT_BAD_CLAIMS,
           "sub \"\" is BAD_CLAIMS");
    INT_EQ(V(CLAIMS("\"12a\"", "1795594400", ",\"ver\":1", "")), GC_JWT_BAD_CLAIMS,
           "sub \"12a\" is BAD_CLAIMS");
    INT_EQ(V(CLAIMS("\"42\"", "1795594400", "", "")), GC_JWT_BAD_CLAIMS,
           "ver missing is BAD_CLAIMS");
    INT_EQ(V(CLAIMS("\"42\"", "1795594400", ",\"ver\":\"1\"", "")), GC_JWT_BAD_CLAIMS,
           "ver as a string is BAD_CLAIMS");
    INT_EQ(V(CLAIMS("\"42\"", "1795594400", ",\"ver\":1.0", "")), GC_JWT_BAD_CLAIMS,
           "ver as a real is BAD_CLAIMS");
    INT_EQ(V(CLAIMS("\"42\"", "\"1795594400\"", ",\"ver\":1", "")), GC_JWT_BAD_CLAIMS,
           "exp as a string is BAD_CLAIMS");
    INT_EQ(V("{\"sub\":\"42\",\"exp\":1795594400,\"jti\":\"j\",\"ver\":1}"), GC_JWT_BAD_CLAIMS,
           "iat missing is BAD_CLAIMS");
    INT_EQ(V("{\"sub\":\"42\",\"iat\":1795508000,\"jti\":\"j\",\"ver\":1}"), GC_JWT_BAD_CLAIMS,
           "exp missing is BAD_CLAIMS");
    INT_EQ(V("{\"sub\":\"42\",\"iat\":1795508000,\"exp\":1795594400,\"ver\":1}"), GC_JWT_BAD_CLAIMS,
           "jti missing is BAD_CLAIMS");
    INT_EQ(V("{\"sub\":\"42\",\"iat\":1795508000,\"exp\":1795594400,\"jti\":\"\",\"ver\":1}"),
           GC_JWT_BAD_CLAIMS, "jti empty is BAD_CLAIMS");
    INT_EQ(V(CLAIMS("\"42\"", "1795594400", ",\"ver\":1", ",\"nbf\":1795508160")), GC_JWT_OK,
           "nbf exactly now + leeway is OK");
    INT_EQ(V(CLAIMS("\"42\"", "1795594400", ",\"ver\":1", ",\"nbf\":1795508161")), GC_JWT_BAD_CLAIMS,
           "nbf beyond now + leeway is BAD_CLAIMS");
    INT_EQ(V(CLAIMS("\"42\"", "1795594400", ",\"ver\":1", ",\"nbf\":\"0\"")), GC_JWT_BAD_CLAIMS,
           "nbf as a string is BAD_CLAIMS");
    INT_EQ(V(CLAIMS("\"9223372036854775807\"", "9223372036854775807", ",\"ver\":1", "")), GC_JWT_OK,
           "largest sub and exp are OK (no overflow)");
    INT_EQ(V(CLAIMS("\"42\"", "-9223372036854775808", ",\"ver\":1", "")), GC_JWT_EXPIRED,
           "smallest exp is EXPIRED (no overflow)");
    INT_EQ(V(CLAIMS("\"42\"", "1795594400", ",\"ver\":1", ",\"sub\":\"43\"")), GC_JWT_MALFORMED,
           "payload with a duplicate claim is MALFORMED");
#undef CLAIMS
#undef V
}

/* ------------------------------------------------------------------ sig -- */

#define WHSEC "whsec_test_secret"
#define EVT "{\"id\":\"evt_test\",\"object\":\"event\"}"
#define EVT_V1 "8042376f6ca064adbe037642a718227dfd59047137eb49497a54c49eb0cfb724"

/* Verifies header against the test event at time now, tolerance 300. */
static gc_sig_status_t sig(apr_pool_t *p, const char *header, int64_t now)
{
    return gc_sig_verify(p, header, WHSEC, strlen(WHSEC), EVT, strlen(EVT), now, 300);
}

/* The Stripe signature scheme. */
static void test_sig(apr_pool_t *p)
{
    const char *other = "v1=0000000000000000000000000000000000000000000000000000000000000000";

    STR_EQ(gc_sig_header(p, WHSEC, strlen(WHSEC), EVT, strlen(EVT), 1700000000),
           "t=1700000000,v1=" EVT_V1, "sig_header reproduces the Stripe test vector");
    INT_EQ(sig(p, "t=1700000000,v1=" EVT_V1, 1700000000), GC_SIG_OK, "Stripe vector verifies");
    INT_EQ(sig(p, apr_pstrcat(p, "t=1700000000,", other, ",v1=" EVT_V1, NULL), 1700000000),
           GC_SIG_OK, "several v1, the second matching, verifies");
    INT_EQ(sig(p, apr_pstrcat(p, "v1=" EVT_V1 ",", other, ",t=1700000000,v0=abc", NULL), 1700000000),
           GC_SIG_OK, "t after v1, and a v0 ignored, verifies");
    INT_EQ(sig(p, "t=1700000000, v1=" EVT_V1, 1700000000), GC_SIG_OK,
           "a space after the comma is tolerated");
    INT_EQ(sig(p, "t=1700000000,v1=" EVT_V1, 1700000300), GC_SIG_OK, "300 s late is within tolerance");
    INT_EQ(sig(p, "t=1700000000,v1=" EVT_V1, 1699999700), GC_SIG_OK, "300 s early is within tolerance");
    INT_EQ(sig(p, "t=1700000000,v1=" EVT_V1, 1700000301), GC_SIG_STALE, "301 s late is STALE");
    INT_EQ(sig(p, "t=1700000000,v1=" EVT_V1, 1699999699), GC_SIG_STALE, "301 s early is STALE");
    INT_EQ(sig(p, apr_pstrcat(p, "t=1700000000,", other, NULL), 1800000000), GC_SIG_MISMATCH,
           "forged and stale is MISMATCH, not STALE");
    INT_EQ(sig(p, apr_pstrcat(p, "t=1700000000,", other, NULL), 1700000000), GC_SIG_MISMATCH,
           "wrong v1 is MISMATCH");
    INT_EQ(sig(p, "t=1700000001,v1=" EVT_V1, 1700000000), GC_SIG_MISMATCH,
           "another timestamp is MISMATCH");
    INT_EQ(sig(p, "t=1700000000,v1=8042376F6CA064ADBE037642A718227DFD59047137EB49497A54C49EB0CFB724",
               1700000000), GC_SIG_MISMATCH, "upper-case hex is MISMATCH (Stripe sends lower case)");
    INT_EQ(sig(p, "t=1700000000,v1=" EVT_V1 "00", 1700000000), GC_SIG_MISMATCH,
           "v1 with extra characters is MISMATCH");
    INT_EQ(gc_sig_verify(p, "t=1700000000,v1=" EVT_V1, WHSEC, strlen(WHSEC), EVT " ", strlen(EVT) + 1,
                         1700000000, 300), GC_SIG_MISMATCH, "a changed body is MISMATCH");
    INT_EQ(sig(p, NULL, 1700000000), GC_SIG_MISSING, "no header is MISSING");
    INT_EQ(sig(p, "", 1700000000), GC_SIG_MISSING, "empty header is MISSING");
    INT_EQ(sig(p, "t=1700000000", 1700000000), GC_SIG_MISSING, "no v1 is MISSING");
    INT_EQ(sig(p, "t=1700000000,v0=" EVT_V1, 1700000000), GC_SIG_MISSING, "only v0 is MISSING");
    INT_EQ(sig(p, "v1=" EVT_V1, 1700000000), GC_SIG_MISSING, "no t is MISSING");
    INT_EQ(sig(p, "t=abc,v1=" EVT_V1, 1700000000), GC_SIG_MALFORMED, "t=abc is MALFORMED");
    INT_EQ(sig(p, "t=-1,v1=" EVT_V1, 1700000000), GC_SIG_MALFORMED, "negative t is MALFORMED");
    INT_EQ(sig(p, "t=,v1=" EVT_V1, 1700000000), GC_SIG_MALFORMED, "empty t is MALFORMED");
    INT_EQ(sig(p, "t=99999999999999999999,v1=" EVT_V1, 1700000000), GC_SIG_MALFORMED,
           "overlong t is MALFORMED");
    INT_EQ(sig(p, "t=1700000000,t=1700000000,v1=" EVT_V1, 1700000000), GC_SIG_MALFORMED,
           "two t elements is MALFORMED");
    INT_EQ(sig(p, "t=1700000000,garbage,v1=" EVT_V1, 1700000000), GC_SIG_MALFORMED,
           "element without '=' is MALFORMED");
    INT_EQ(sig(p, "t=1700000000,,v1=" EVT_V1, 1700000000), GC_SIG_MALFORMED,
           "empty element is MALFORMED");
    INT_EQ(gc_sig_verify(p, gc_sig_header(p, "s", 1, "", 0, 5), "s", 1, "", 0, 5, 0), GC_SIG_OK,
           "sig_header -> sig_verify round trip with an empty body");
    /* Found by tests/fuzz/fuzz_sig: |now - t| overflowed for a now near INT64_MIN. */
    INT_EQ(sig(p, "t=1700000000,v1=" EVT_V1, INT64_MIN), GC_SIG_STALE,
           "now = INT64_MIN is STALE, without overflow");
    INT_EQ(sig(p, "t=1700000000,v1=" EVT_V1, INT64_MAX), GC_SIG_STALE, "now = INT64_MAX is STALE");
}

/* ------------------------------------------------------------- password -- */

/* PBKDF2 strings: hashing, verifying, a known answer, malformed input. */
static void test_password(apr_pool_t *p)
{
    /* Python: hashlib.pbkdf2_hmac("sha256", b"correct horse", bytes(range(16)), 1000, 32) */
    static const char known[] =
        "$pbkdf2-sha256$i=1000$AAECAwQFBgcICQoLDA0ODw$yRTMTwbMbo9G0VfjobWqerzuuxe7BETNTErBbKKumGQ";
    static const char *const bad[] = {
        "",
        "pbkdf2-sha256$i=1000$AAECAwQFBgcICQoLDA0ODw$yRTMTwbMbo9G0VfjobWqerzuuxe7BETNTErBbKKumGQ",
        "$pbkdf2-sha1$i=1000$AAECAwQFBgcICQoLDA0ODw$yRTMTwbMbo9G0VfjobWqerzuuxe7BETNTErBbKKumGQ",
        "$pbkdf2-sha256$i=0$AAECAwQFBgcICQoLDA0ODw$yRTMTwbMbo9G0VfjobWqerzuuxe7BETNTErBbKKumGQ",
        "$pbkdf2-sha256$i=01000$AAECAwQFBgcICQoLDA0ODw$yRTMTwbMbo9G0VfjobWqerzuuxe7BETNTErBbKKumGQ",
        "$pbkdf2-sha256$i=10000001$AAECAwQFBgcICQoLDA0ODw$yRTMTwbMbo9G0VfjobWqerzuuxe7BETNTErBbKKumGQ",
        "$pbkdf2-sha256$i=-1000$AAECAwQFBgcICQoLDA0ODw$yRTMTwbMbo9G0VfjobWqerzuuxe7BETNTErBbKKumGQ",
        "$pbkdf2-sha256$i=abc$AAECAwQFBgcICQoLDA0ODw$yRTMTwbMbo9G0VfjobWqerzuuxe7BETNTErBbKKumGQ",
        "$pbkdf2-sha256$1000$AAECAwQFBgcICQoLDA0ODw$yRTMTwbMbo9G0VfjobWqerzuuxe7BETNTErBbKKumGQ",
        "$pbkdf2-sha256$i=1000$AAECAwQFBgcICQoLDA0O$yRTMTwbMbo9G0VfjobWqerzuuxe7BETNTErBbKKumGQ",
        "$pbkdf2-sha256$i=1000$AAECAwQFBgcICQoLDA0ODw$yRTMTwbMbo9G0VfjobWqerzuuxe7BETNTErBbKKum",
        "$pbkdf2-sha256$i=1000$AAECAwQFBgcICQoLDA0ODw==$yRTMTwbMbo9G0VfjobWqerzuuxe7BETNTErBbKKumGQ",
        "$pbkdf2-sha256$i=1000$AAECAwQFBgcICQoLDA0ODw$yRTMTwbMbo9G0VfjobWqerzuuxe7BETNTErBbKKumGQ=",
        "$pbkdf2-sha256$i=1000$AAECAwQFBgcICQoLDA0ODw",
        "$pbkdf2-sha256$i=1000$AAECAwQFBgcICQoLDA0ODw$yRTMTwbMbo9G0VfjobWqerzuuxe7BETNTErBbKKumGQ$x",
        "$pbkdf2-sha256$i=1000$AAECAwQFBgcICQoLDA0ODw$yRTMTwbMbo9G0VfjobWqerzuuxe7BETNTErBbKKumGQ ",
        NULL
    };
    char *h1, *h2;
    int i, all_refused = 1;

    h1 = gc_password_hash(p, "s3cret-pw", 9, 1000);
    h2 = gc_password_hash(p, "s3cret-pw", 9, 1000);
    OK(h1 && strncmp(h1, "$pbkdf2-sha256$i=1000$", 22) == 0 && strlen(h1) == 22 + 22 + 1 + 43,
       "password_hash format: prefix, 22-char salt, 43-char hash");
    OK(h1 && h2 && strcmp(h1, h2) != 0, "two hashes of one password differ (random salt)");
    INT_EQ(gc_password_verify(p, "s3cret-pw", 9, h1), 1, "right password verifies");
    INT_EQ(gc_password_verify(p, "s3cret-pX", 9, h1), 0, "wrong password does not");
    INT_EQ(gc_password_verify(p, "s3cret-pw", 8, h1), 0, "a prefix of the password does not");
    INT_EQ(gc_password_verify(p, "s3cret-pw ", 10, h1), 0, "the password plus a space does not");
    h1 = gc_password_hash(p, "a\0b", 3, 1000);
    INT_EQ(gc_password_verify(p, "a\0b", 3, h1), 1, "a password holding NUL verifies by length");
    INT_EQ(gc_password_verify(p, "a\0c", 3, h1), 0, "bytes after NUL count");
    h1 = gc_password_hash(p, "", 0, 1000);
    INT_EQ(gc_password_verify(p, NULL, 0, h1), 1, "empty password hashes and verifies");
    OK(gc_password_hash(p, "x", 1, 0) == NULL, "password_hash refuses 0 iterations");
    OK(gc_password_hash(p, "x", 1, 10000001) == NULL, "password_hash refuses > 10,000,000 iterations");

    INT_EQ(gc_password_verify(p, "correct horse", 13, known), 1,
           "known answer from Python's hashlib.pbkdf2_hmac verifies");
    INT_EQ(gc_password_verify(p, "correct horsf", 13, known), 0, "known answer, wrong password");
    INT_EQ(gc_password_verify(p, "x", 1, NULL), -1, "NULL stored string is -1");
    for (i = 0; bad[i]; i++)
        if (gc_password_verify(p, "correct horse", 13, bad[i]) != -1) {
            all_refused = 0;
            printf("# accepted: %s\n", bad[i]);
        }
    OK(all_refused, "%d malformed stored strings are all -1", i);

    INT_EQ(gc_password_needs_rehash(known, 600000), 1, "1000 iterations need a rehash for 600000");
    INT_EQ(gc_password_needs_rehash(known, 1000), 0, "1000 iterations suffice for 1000");
    INT_EQ(gc_password_needs_rehash(known, 999), 0, "1000 iterations suffice for 999");
    INT_EQ(gc_password_needs_rehash("$argon2id$v=19$...", 1000), 1, "unknown scheme needs a rehash");
    INT_EQ(gc_password_needs_rehash(NULL, 1000), 1, "NULL needs a rehash");
}

/* ------------------------------------------------------------------ otp -- */

/* Codes: format, spread of values, the keyed hash. */
static void test_otp(apr_pool_t *p)
{
    static const unsigned char pepper[] = "pepper";
    unsigned first[10] = { 0 };
    int i, all_formed = 1, spread = 1, leading_zero = 0;
    char *h;

    for (i = 0; i < 20000; i++) {
        char *c = gc_otp_generate(p);
        if (c == NULL || strlen(c) != 6 || !gc_otp_is_well_formed(c)) {
            all_formed = 0;
            break;
        }
        first[c[0] - '0']++;
        leading_zero |= c[0] == '0';
    }
    for (i = 0; i < 10; i++)
        if (first[i] < 1600 || first[i] > 2400)
            spread = 0;
    OK(all_formed, "20000 generated codes are all 6 digits and well-formed");
    OK(spread, "first digits spread evenly (each 1600..2400 of 20000)");
    OK(leading_zero, "codes below 100000 are zero-padded");

    OK(gc_otp_is_well_formed("123456"), "\"123456\" is well-formed");
    OK(gc_otp_is_well_formed("000000"), "\"000000\" is well-formed");
    OK(!gc_otp_is_well_formed("12345"), "5 digits is not");
    OK(!gc_otp_is_well_formed("1234567"), "7 digits is not");
    OK(!gc_otp_is_well_formed("12a456"), "a letter is not");
    OK(!gc_otp_is_well_formed(" 123456"), "a leading space is not");
    OK(!gc_otp_is_well_formed("123456\n"), "a trailing newline is not");
    OK(!gc_otp_is_well_formed("-12345"), "a sign is not");
    OK(!gc_otp_is_well_formed("\xef\xbc\x91" "23456"), "a full-width digit is not");
    OK(!gc_otp_is_well_formed(""), "empty is not");
    OK(!gc_otp_is_well_formed(NULL), "NULL is not");

    h = gc_otp_hash(p, pepper, 6, "+919876543210", "login", "123456");
    STR_EQ(h, "2166d5422770f4b39e9024312bd0034eee7d1b9a83e1748888c551594845ceba",
           "otp_hash known answer (Python hmac)");
    STR_EQ(gc_otp_hash(p, pepper, 6, "+919876543210", "login", "123456"), h, "otp_hash is deterministic");
    OK(strcmp(gc_otp_hash(p, pepper, 6, "+919876543210", "reset", "123456"), h) != 0,
       "a reset code's hash differs from a login code's");
    OK(strcmp(gc_otp_hash(p, pepper, 6, "+919876543211", "login", "123456"), h) != 0,
       "another mobile's hash differs");
    OK(strcmp(gc_otp_hash(p, pepper, 6, "+919876543210", "login", "123457"), h) != 0,
       "another code's hash differs");
    OK(strcmp(gc_otp_hash(p, (const unsigned char *)"peppex", 6, "+919876543210", "login", "123456"),
              h) != 0, "another pepper's hash differs");
    OK(gc_otp_hash(p, pepper, 6, NULL, "login", "123456") == NULL, "otp_hash refuses NULL mobile");
}

/* ----------------------------------------------------------------- text -- */

/* UTF-8 validity and length. */
static void test_utf8(void)
{
    OK(gc_utf8_valid(S("plain ascii")), "ASCII is valid");
    OK(gc_utf8_valid(S("")), "empty is valid");
    OK(gc_utf8_valid(S("a\0b")), "NUL is valid UTF-8");
    OK(gc_utf8_valid(S("\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80")), "2-, 3- and 4-byte forms are valid");
    OK(gc_utf8_valid(S("\xef\xbf\xbf")), "U+FFFF is valid");
    OK(gc_utf8_valid(S("\xf4\x8f\xbf\xbf")), "U+10FFFF is valid");
    OK(gc_utf8_valid(S("\xed\x9f\xbf\xee\x80\x80")), "U+D7FF and U+E000 are valid");
    OK(!gc_utf8_valid(S("\xc0\xaf")), "overlong 2-byte '/' is invalid");
    OK(!gc_utf8_valid(S("\xc1\xbf")), "overlong C1 is invalid");
    OK(!gc_utf8_valid(S("\xe0\x80\xaf")), "overlong 3-byte is invalid");
    OK(!gc_utf8_valid(S("\xe0\x9f\xbf")), "overlong 3-byte U+07FF is invalid");
    OK(!gc_utf8_valid(S("\xf0\x80\x80\xaf")), "overlong 4-byte is invalid");
    OK(!gc_utf8_valid(S("\xf0\x8f\xbf\xbf")), "overlong 4-byte U+FFFF is invalid");
    OK(!gc_utf8_valid(S("\xed\xa0\x80")), "surrogate U+D800 (ED A0 80) is invalid");
    OK(!gc_utf8_valid(S("\xed\xbf\xbf")), "surrogate U+DFFF is invalid");
    OK(!gc_utf8_valid(S("\xed\xa0\xbd\xed\xb8\x80")), "CESU-8 surrogate pair is invalid");
    OK(!gc_utf8_valid(S("\xf4\x90\x80\x80")), "U+110000 is invalid");
    OK(!gc_utf8_valid(S("\xf5\x80\x80\x80")), "lead byte F5 is invalid");
    OK(!gc_utf8_valid(S("\xff")), "byte FF is invalid");
    OK(!gc_utf8_valid(S("\x80")), "a lone continuation byte is invalid");
    OK(!gc_utf8_valid(S("\xe2\x82")), "truncated 3-byte sequence is invalid");
    OK(!gc_utf8_valid(S("a\xf0\x9f\x98")), "truncated 4-byte sequence at the end is invalid");
    OK(!gc_utf8_valid(S("\xc3" "a")), "lead byte followed by ASCII is invalid");
    OK(!gc_utf8_valid("\xc3\xa9", 1), "the length cuts a sequence: invalid");

    INT_EQ(gc_utf8_length(S("")), 0, "length of empty is 0");
    INT_EQ(gc_utf8_length(S("abc")), 3, "length of abc is 3");
    INT_EQ(gc_utf8_length(S("a\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80")), 4,
           "length of a, e-acute, euro, emoji is 4 code points");
    INT_EQ(gc_utf8_length(S("a\0b")), 3, "NUL counts as a code point");
}

/* Trims s and compares with want. */
static void trim_is(apr_pool_t *p, const char *s, size_t len, const char *want, size_t want_len,
                    const char *name)
{
    size_t n = 99;
    char *t = gc_trim(p, s, len, &n);

    OK(t && n == want_len && memcmp(t, want, n) == 0 && t[n] == '\0', "trim: %s", name);
}

/* Trimming of ASCII and Unicode white space. */
static void test_trim(apr_pool_t *p)
{
    trim_is(p, S("  hi  "), S("hi"), "ASCII spaces");
    trim_is(p, S("\t\n\v\f\r x y \r\n"), S("x y"), "all ASCII space characters, inner space kept");
    trim_is(p, S("\xc2\xa0x\xe3\x80\x80"), S("x"), "U+00A0 and U+3000");
    trim_is(p, S("\xef\xbb\xbfx\xe1\x9a\x80"), S("x"), "U+FEFF and U+1680");
    trim_is(p, S("\xe2\x80\x80\xe2\x80\x8ax\xe2\x80\xa8\xe2\x80\xa9\xe2\x80\xaf\xe2\x81\x9f"), S("x"),
            "U+2000, U+200A, U+2028, U+2029, U+202F, U+205F");
    trim_is(p, S("\xe2\x80\x8bx\xe2\x80\x8b"), S("\xe2\x80\x8bx\xe2\x80\x8b"),
            "U+200B (zero width space) is not white space");
    trim_is(p, S("x\xc2\xa0y"), S("x\xc2\xa0y"), "inner U+00A0 kept");
    trim_is(p, S(" \xc2\xa0 \t"), S(""), "all white space gives empty");
    trim_is(p, S(""), S(""), "empty stays empty");
    trim_is(p, S(" \xff "), S("\xff"), "an invalid byte is content");
    trim_is(p, S(" \xc2"), S("\xc2"), "a truncated sequence at the end is content");
    trim_is(p, S(" a\0b "), S("a\0b"), "NUL inside is content (length-based)");
    trim_is(p, S("\x85x"), S("\x85x"), "a lone byte 0x85 is not NEL");
    OK(gc_trim(p, S("  x"), NULL) != NULL, "trim accepts a NULL out_len");
}

/* Normalises s and compares with want (NULL: refused). */
static void mobile_is(apr_pool_t *p, const char *s, const char *want)
{
    STR_EQ(gc_mobile_normalize(p, s), want,
           apr_psprintf(p, "mobile \"%s\" -> %s", s ? s : "(null)", want ? want : "refused"));
}

/* Mobile numbers. */
static void test_mobile(apr_pool_t *p)
{
    mobile_is(p, "+91 98765-43210", "+919876543210");
    mobile_is(p, "98765 43210", "9876543210");
    mobile_is(p, "12345678", "12345678");
    mobile_is(p, "+123456789012345", "+123456789012345");
    mobile_is(p, "1234567", NULL);
    mobile_is(p, "+1234567", NULL);
    mobile_is(p, "1234567890123456", NULL);
    mobile_is(p, "+1 800 FLOWERS", NULL);
    mobile_is(p, "++19876543210", NULL);
    mobile_is(p, "98765+43210", NULL);
    mobile_is(p, "(987) 654-3210", NULL);
    mobile_is(p, "98765\t43210", NULL);
    mobile_is(p, "+", NULL);
    mobile_is(p, "", NULL);
    mobile_is(p, NULL, NULL);
    mobile_is(p, " - +98765432", "+98765432");   /* stripping comes first */
}

/* Parses s as a path id; want_ok and the value. */
static void path_id_is(const char *s, int want_ok, int64_t want)
{
    int64_t v = -7;
    int ok = gc_parse_path_id(s, strlen(s), &v);

    OK(ok == want_ok && (!ok || v == want), "path id \"%s\" %s", s, want_ok ? "accepted" : "refused");
}

/* Path ids and request ids. */
static void test_ids(void)
{
    char rid[130];
    int64_t v;

    path_id_is("1", 1, 1);
    path_id_is("42", 1, 42);
    path_id_is("9223372036854775807", 1, INT64_MAX);
    path_id_is("9223372036854775808", 0, 0);
    path_id_is("18446744073709551616", 0, 0);
    path_id_is("99999999999999999999", 0, 0);
    path_id_is("01", 0, 0);
    path_id_is("0", 0, 0);
    path_id_is("-1", 0, 0);
    path_id_is("+1", 0, 0);
    path_id_is("abc", 0, 0);
    path_id_is("1a", 0, 0);
    path_id_is(" 1", 0, 0);
    path_id_is("1 ", 0, 0);
    path_id_is("", 0, 0);
    OK(gc_parse_path_id("12", 1, &v) && v == 1, "path id honours len (\"12\" with len 1 is 1)");
    OK(!gc_parse_path_id(NULL, 0, &v), "path id NULL refused");

    OK(gc_request_id_acceptable("abc-123._:XYZ"), "request id of allowed characters accepted");
    memset(rid, 'a', sizeof(rid));
    rid[128] = '\0';
    OK(gc_request_id_acceptable(rid), "request id of 128 characters accepted");
    rid[128] = 'a';
    rid[129] = '\0';
    OK(!gc_request_id_acceptable(rid), "request id of 129 characters refused");
    OK(!gc_request_id_acceptable(""), "empty request id refused");
    OK(!gc_request_id_acceptable(NULL), "NULL request id refused");
    OK(!gc_request_id_acceptable("a b"), "request id with a space refused");
    OK(!gc_request_id_acceptable("a/b"), "request id with a slash refused");
    OK(!gc_request_id_acceptable("a\nb"), "request id with a newline refused");
    OK(!gc_request_id_acceptable("\xc3\xa9"), "request id with UTF-8 refused");
}

/* Form escaping for Stripe bodies. */
static void test_form_escape(apr_pool_t *p)
{
    STR_EQ(gc_form_escape(p, "AZaz09-._~"), "AZaz09-._~", "form escape keeps unreserved characters");
    STR_EQ(gc_form_escape(p, "a b&c=d/e?f+g%h[0]"), "a%20b%26c%3Dd%2Fe%3Ff%2Bg%25h%5B0%5D",
           "form escape encodes reserved characters");
    STR_EQ(gc_form_escape(p, "\xc3\xa9\n"), "%C3%A9%0A", "form escape encodes UTF-8 bytes and controls");
    STR_EQ(gc_form_escape(p, "https://x.test/ok?session_id={CHECKOUT_SESSION_ID}"),
           "https%3A%2F%2Fx.test%2Fok%3Fsession_id%3D%7BCHECKOUT_SESSION_ID%7D", "form escape of a URL");
    STR_EQ(gc_form_escape(p, ""), "", "form escape of empty");
}

/* ----------------------------------------------------------------- time -- */

/* Parses s and compares with want (or expects refusal). */
static void parse_is(const char *s, int want_ok, int64_t want)
{
    int64_t v = -7;
    int ok = gc_time_parse_rfc3339(s, &v);

    OK(ok == want_ok && (!ok || v == want), "parse \"%s\" %s", s ? s : "(null)",
       want_ok ? "accepted" : "refused");
    if (ok && want_ok && v != want)
        printf("#   got %lld\n", (long long)v);
}

/* Formatting against gmtime_r, an independent oracle, over a wide range. */
static void test_time_oracle(apr_pool_t *p)
{
    int64_t t;
    int all_ok = 1, round_ok = 1;

    for (t = -2208988800LL; t < 7258118400LL; t += 7777777 + (t & 0xffff)) {
        time_t tt = (time_t)t;
        struct tm tm;
        char buf[64];
        int64_t back;
        char *s = gc_time_rfc3339(p, t);

        gmtime_r(&tt, &tm);
        strftime(buf, sizeof(buf), "%Y-%m-%dT%H:%M:%SZ", &tm);
        if (strcmp(s, buf) != 0) {
            all_ok = 0;
            printf("# %lld: %s vs %s\n", (long long)t, s, buf);
        }
        if (!gc_time_parse_rfc3339(s, &back) || back != t)
            round_ok = 0;
    }
    OK(all_ok, "rfc3339 agrees with gmtime_r from 1900 to 2200");
    OK(round_ok, "parse(format(t)) == t from 1900 to 2200");
}

/* RFC 3339 and UTC day boundaries. */
static void test_time(apr_pool_t *p)
{
    STR_EQ(gc_time_rfc3339(p, 0), "1970-01-01T00:00:00Z", "rfc3339 of 0");
    STR_EQ(gc_time_rfc3339(p, 1795508100), "2026-11-24T08:15:00Z", "rfc3339 of 2026-11-24T08:15:00Z");
    STR_EQ(gc_time_rfc3339(p, 951782400), "2000-02-29T00:00:00Z", "rfc3339 of a leap day");
    STR_EQ(gc_time_rfc3339(p, -1), "1969-12-31T23:59:59Z", "rfc3339 of -1");
    STR_EQ(gc_time_rfc3339(p, 4102444800LL), "2100-01-01T00:00:00Z", "rfc3339 of 2100");
    /* Found by tests/fuzz/fuzz_time_url_job: t - days * 86400 overflowed near INT64_MIN. */
    STR_EQ(gc_time_rfc3339(p, INT64_MIN), "-292277022657-01-27T08:29:52Z", "rfc3339 of INT64_MIN");
    STR_EQ(gc_time_rfc3339(p, INT64_MAX), "292277026596-12-04T15:30:07Z", "rfc3339 of INT64_MAX");
    test_time_oracle(p);

    parse_is("2026-11-24T08:15:00Z", 1, 1795508100);
    parse_is("2026-11-24t08:15:00z", 1, 1795508100);
    parse_is("2026-11-24T08:15:00.987654Z", 1, 1795508100);
    parse_is("2026-11-24T08:15:00+00:00", 1, 1795508100);
    parse_is("2026-11-24 08:15:00.5+00", 1, 1795508100);
    parse_is("2026-11-24T10:15:00+02:00", 1, 1795508100);
    parse_is("2026-11-24T03:45:00-0430", 1, 1795508100);
    parse_is("2000-02-29T00:00:00Z", 1, 951782400);
    parse_is("1969-12-31T23:59:59Z", 1, -1);
    parse_is("2026-02-29T00:00:00Z", 0, 0);
    parse_is("1900-02-29T00:00:00Z", 0, 0);
    parse_is("2026-13-01T00:00:00Z", 0, 0);
    parse_is("2026-00-01T00:00:00Z", 0, 0);
    parse_is("2026-04-31T00:00:00Z", 0, 0);
    parse_is("2026-11-24T24:00:00Z", 0, 0);
    parse_is("2026-11-24T08:60:00Z", 0, 0);
    parse_is("2026-11-24T08:15:60Z", 0, 0);
    parse_is("2026-11-24T08:15:00", 0, 0);
    parse_is("2026-11-24T08:15:00Zjunk", 0, 0);
    parse_is("2026-11-24T08:15:00.Z", 0, 0);
    parse_is("2026-11-24T08:15Z", 0, 0);
    parse_is("2026-11-24", 0, 0);
    parse_is("26-11-24T08:15:00Z", 0, 0);
    parse_is("2026-11-24T08:15:00+24:00", 0, 0);
    parse_is("", 0, 0);
    parse_is(NULL, 0, 0);

    INT_EQ(gc_time_utc_day_start(1795508100), 1795478400, "day start of 2026-11-24T08:15:00Z");
    INT_EQ(gc_time_utc_day_start(1795478400), 1795478400, "day start of a midnight is itself");
    INT_EQ(gc_time_utc_day_start(1795478399), 1795392000, "day start one second before midnight");
    INT_EQ(gc_time_utc_day_start(-1), -86400, "day start of -1 is -86400");
    INT_EQ(gc_time_next_utc_midnight(1795508100), 1795564800, "next midnight after 08:15");
    INT_EQ(gc_time_next_utc_midnight(1795478400), 1795564800, "next midnight after a midnight is strictly later");
    INT_EQ(gc_time_next_utc_midnight(1795564799), 1795564800, "next midnight one second before it");
    INT_EQ(gc_time_next_utc_midnight(-1), 0, "next midnight after -1 is 0");
}

/* ------------------------------------------------------------ redis url -- */

/* Parses a URL that must be accepted. */
static gc_redis_url_t redis_ok(apr_pool_t *p, const char *url)
{
    gc_redis_url_t u;
    const char *err = gc_redis_url_parse(p, url, &u);

    OK(err == NULL, "redis url %s accepted%s%s", url, err ? ": " : "", err ? err : "");
    return u;
}

/* Redis URL parsing. */
static void test_redis_url(apr_pool_t *p)
{
    static const char *const bad[] = {
        "", "http://h:1", "redis://", "redis://:1", "redis://h:0", "redis://h:65536", "redis://h:abc",
        "redis://h:", "redis://h/x", "redis://h/-1", "redis://h/1/2", "redis://h?db=1",
        "redis://:p%4@h", "redis://:p%zz@h", "redis://:p%00ss@h", "redis://h h", "rediss://h",
        "unix://", "unix://relative/path", "unix:///tmp/r.sock?db=x", "unix:///tmp/r.sock?pass=x",
        "redis://[::1", NULL
    };
    gc_redis_url_t u;
    int i, all_refused = 1;

    u = redis_ok(p, "redis://127.0.0.1:6379/0");
    OK(u.host && strcmp(u.host, "127.0.0.1") == 0 && u.port == 6379 && u.db == 0 && !u.socket
       && !u.username && !u.password, "redis://127.0.0.1:6379/0 fields");
    u = redis_ok(p, "redis://:p%40ss@h:1/2");
    OK(u.host && strcmp(u.host, "h") == 0 && u.port == 1 && u.db == 2 && !u.username && u.password
       && strcmp(u.password, "p@ss") == 0, "redis://:p%%40ss@h:1/2 fields (password decoded)");
    u = redis_ok(p, "redis://user:pw@h");
    OK(u.host && strcmp(u.host, "h") == 0 && u.port == 6379 && u.db == 0 && u.username
       && strcmp(u.username, "user") == 0 && u.password && strcmp(u.password, "pw") == 0,
       "redis://user:pw@h fields (default port and db)");
    u = redis_ok(p, "unix:///tmp/r.sock?db=3");
    OK(!u.host && u.socket && strcmp(u.socket, "/tmp/r.sock") == 0 && u.db == 3,
       "unix:///tmp/r.sock?db=3 fields");
    u = redis_ok(p, "unix:///tmp/r.sock");
    OK(u.socket && strcmp(u.socket, "/tmp/r.sock") == 0 && u.db == 0, "unix socket without db");
    u = redis_ok(p, "redis://localhost");
    OK(u.host && strcmp(u.host, "localhost") == 0 && u.port == 6379 && u.db == 0, "redis://localhost");
    u = redis_ok(p, "redis://localhost/");
    OK(u.db == 0, "redis://localhost/ (empty path) is db 0");
    u = redis_ok(p, "redis://[::1]:6380/5");
    OK(u.host && strcmp(u.host, "::1") == 0 && u.port == 6380 && u.db == 5, "IPv6 host in brackets");
    u = redis_ok(p, "REDIS://h:7");
    OK(u.host && strcmp(u.host, "h") == 0 && u.port == 7, "scheme is case-insensitive");
    u = redis_ok(p, "redis://p@ss:word@h");
    OK(u.password && strcmp(u.password, "word") == 0 && u.username && strcmp(u.username, "p@ss") == 0,
       "a raw '@' in user information: the last '@' ends it");

    for (i = 0; bad[i]; i++) {
        const char *err = gc_redis_url_parse(p, bad[i], &u);
        if (err == NULL || *err == '\0') {
            all_refused = 0;
            printf("# accepted: %s\n", bad[i]);
        }
    }
    OK(all_refused, "%d bad redis urls all refused with a message", i);
    OK(gc_redis_url_parse(p, NULL, &u) != NULL, "NULL redis url refused");
}

/* ----------------------------------------------------------------- json -- */

/* Parses a body and returns the status. */
static gc_json_parse_status_t parse(apr_pool_t *p, const char *body, size_t len, json_t **out)
{
    json_t *dummy;
    const char *err;

    return gc_json_parse_body(p, body, len, out ? out : &dummy, &err);
}

/* gc_json_own ties a reference to a pool. */
static void test_json_own(apr_pool_t *p)
{
    apr_pool_t *sub;
    json_t *j = json_object();

    apr_pool_create(&sub, p);
    json_incref(j);
    OK(gc_json_own(sub, j) == j, "json_own returns its argument");
    INT_EQ(j->refcount, 2, "owned object has our reference and the pool's");
    apr_pool_destroy(sub);
    INT_EQ(j->refcount, 1, "destroying the pool dropped its reference");
    json_decref(j);
    OK(gc_json_own(p, NULL) == NULL, "json_own of NULL is NULL");
}

/* Compact dumping. */
static void test_json_dump(apr_pool_t *p)
{
    json_t *o = gc_json_own(p, json_object());
    size_t len = 0;
    char *s;

    json_object_set_new(o, "z", json_integer(1));
    json_object_set_new(o, "a", json_pack("[i,b,n]", 2, 1));
    json_object_set_new(o, "s", json_string("\xc3\xa9 \"q\" /"));
    json_object_set_new(o, "nul", json_stringn("a\0b", 3));
    s = gc_json_dump(p, o, &len);
    STR_EQ(s, "{\"z\":1,\"a\":[2,true,null],\"s\":\"\xc3\xa9 \\\"q\\\" /\",\"nul\":\"a\\u0000b\"}",
           "dump is compact, keeps insertion order and UTF-8, escapes NUL");
    INT_EQ(len, s ? strlen(s) : 0, "dump sets len");
    STR_EQ(gc_json_dump(p, gc_json_own(p, json_integer(5)), NULL), "5", "dump of a bare integer");
    STR_EQ(gc_json_dump(p, gc_json_own(p, json_object()), NULL), "{}", "dump of an empty object");
    OK(gc_json_dump(p, NULL, &len) == NULL, "dump of NULL is NULL");
}

/* Request body parsing. */
static void test_json_parse(apr_pool_t *p)
{
    json_t *o = NULL;
    const char *err = NULL;
    char *deep;
    int i;

    INT_EQ(parse(p, "", 0, &o), GC_JSON_PARSED, "empty body parses");
    OK(json_is_object(o) && json_object_size(o) == 0, "empty body is {}");
    INT_EQ(parse(p, S(" {\"a\":1}\n"), &o), GC_JSON_PARSED, "object with white space around parses");
    OK(json_integer_value(json_object_get(o, "a")) == 1, "parsed value is there");
    INT_EQ(parse(p, S("[]"), NULL), GC_JSON_NOT_OBJECT, "[] is NOT_OBJECT");
    INT_EQ(parse(p, S("5"), NULL), GC_JSON_NOT_OBJECT, "5 is NOT_OBJECT");
    INT_EQ(parse(p, S("\"x\""), NULL), GC_JSON_NOT_OBJECT, "a string is NOT_OBJECT");
    INT_EQ(parse(p, S("null"), NULL), GC_JSON_NOT_OBJECT, "null is NOT_OBJECT");
    INT_EQ(parse(p, S("nan"), NULL), GC_JSON_SYNTAX, "nan is SYNTAX");
    INT_EQ(parse(p, S("{\"a\":NaN}"), NULL), GC_JSON_SYNTAX, "NaN value is SYNTAX");
    INT_EQ(parse(p, S("{\"a\":Infinity}"), NULL), GC_JSON_SYNTAX, "Infinity is SYNTAX");
    INT_EQ(parse(p, S("{\"a\":-Infinity}"), NULL), GC_JSON_SYNTAX, "-Infinity is SYNTAX");
    INT_EQ(parse(p, S("{\"a\":1e400}"), NULL), GC_JSON_SYNTAX, "real overflow is SYNTAX");
    INT_EQ(parse(p, S("{\"a\":\"\xff\"}"), NULL), GC_JSON_SYNTAX, "invalid UTF-8 byte is SYNTAX");
    INT_EQ(parse(p, S("{\"a\":\"\xc0\xaf\"}"), NULL), GC_JSON_SYNTAX, "overlong UTF-8 is SYNTAX");
    INT_EQ(parse(p, S("{\"a\":\"\xed\xa0\x80\"}"), NULL), GC_JSON_SYNTAX, "raw UTF-8 surrogate is SYNTAX");
    INT_EQ(parse(p, S("{\"a\":\"\\ud800\"}"), NULL), GC_JSON_SYNTAX, "lone high surrogate escape is SYNTAX");
    INT_EQ(parse(p, S("{\"a\":\"\\udc00\"}"), NULL), GC_JSON_SYNTAX, "lone low surrogate escape is SYNTAX");
    INT_EQ(parse(p, S("{\"a\":\"\\ud83d\\ude00\"}"), &o), GC_JSON_PARSED, "a surrogate pair parses");
    STR_EQ(json_string_value(json_object_get(o, "a")), "\xf0\x9f\x98\x80", "surrogate pair decodes to U+1F600");
    INT_EQ(parse(p, S("{\"a\":\"x\\u0000y\"}"), &o), GC_JSON_PARSED, "\\u0000 inside a string parses");
    INT_EQ(json_string_length(json_object_get(o, "a")), 3, "the NUL is kept in the string (length 3)");
    INT_EQ(parse(p, S("{}x"), NULL), GC_JSON_SYNTAX, "trailing garbage is SYNTAX");
    INT_EQ(parse(p, S("{} {}"), NULL), GC_JSON_SYNTAX, "two objects is SYNTAX");
    INT_EQ(parse(p, S("{}\0"), NULL), GC_JSON_SYNTAX, "a NUL byte after the object is SYNTAX");
    INT_EQ(parse(p, S("{\"a\":1,}"), NULL), GC_JSON_SYNTAX, "trailing comma is SYNTAX");
    INT_EQ(parse(p, S("{'a':1}"), NULL), GC_JSON_SYNTAX, "single quotes are SYNTAX");
    INT_EQ(parse(p, S("\xef\xbb\xbf{}"), NULL), GC_JSON_SYNTAX, "a byte order mark is SYNTAX");
    INT_EQ(parse(p, S("{\"a\":9223372036854775807}"), &o), GC_JSON_PARSED, "int64 max parses");
    INT_EQ(parse(p, S("{\"a\":9223372036854775808}"), NULL), GC_JSON_SYNTAX, "int64 max + 1 is SYNTAX");
    INT_EQ(parse(p, S("{\"a\":-9223372036854775809}"), NULL), GC_JSON_SYNTAX, "int64 min - 1 is SYNTAX");
    INT_EQ(parse(p, S("{\"a\":1,\"a\":2}"), &o), GC_JSON_PARSED, "duplicate keys parse");
    INT_EQ(json_integer_value(json_object_get(o, "a")), 2, "the last duplicate wins");
    deep = apr_palloc(p, 6001);
    for (i = 0; i < 3000; i++) {
        deep[i] = '[';
        deep[3000 + i] = ']';
    }
    deep[6000] = '\0';
    INT_EQ(parse(p, deep, 6000, NULL), GC_JSON_SYNTAX, "3000 levels of nesting is SYNTAX");
    INT_EQ(gc_json_parse_body(p, S("{"), &o, &err), GC_JSON_SYNTAX, "unterminated object is SYNTAX");
    OK(o == NULL && err != NULL && *err != '\0', "SYNTAX leaves out NULL and sets err_text: %s",
       err ? err : "(null)");
    OK(gc_json_parse_body(p, S("{}"), &o, NULL) == GC_JSON_PARSED, "err_text may be NULL");
}

/* Alias lookup and the setters. */
static void test_json_alias_set(apr_pool_t *p)
{
    static const char *const mobile[] = { "mobile", "mobileNumber", "mobile_number", NULL };
    json_t *o = NULL;
    const char *which = "x";
    json_t *v;

    parse(p, S("{\"mobileNumber\":\"a\",\"mobile\":\"b\",\"mobile_number\":\"c\"}"), &o);
    v = gc_json_get_alias(o, mobile, &which);
    OK(v && strcmp(json_string_value(v), "b") == 0 && which && strcmp(which, "mobile") == 0,
       "alias: the canonical name wins whatever the order in the body");
    parse(p, S("{\"mobile_number\":\"c\",\"mobileNumber\":\"a\"}"), &o);
    v = gc_json_get_alias(o, mobile, &which);
    OK(v && strcmp(json_string_value(v), "a") == 0 && which && strcmp(which, "mobileNumber") == 0,
       "alias: earlier alias in the list wins over a later one");
    parse(p, S("{\"mobile\":null,\"mobileNumber\":\"a\"}"), &o);
    v = gc_json_get_alias(o, mobile, &which);
    OK(v && strcmp(json_string_value(v), "a") == 0 && which && strcmp(which, "mobileNumber") == 0,
       "alias: a null counts as absent, the next name is used");
    parse(p, S("{\"other\":1}"), &o);
    which = "x";
    OK(gc_json_get_alias(o, mobile, &which) == NULL && which == NULL, "alias: none present gives NULL");
    OK(gc_json_get_alias(gc_json_own(p, json_array()), mobile, NULL) == NULL, "alias: not an object gives NULL");

    o = gc_json_own(p, json_object());
    gc_json_set_str(o, "a", "x");
    gc_json_set_str(o, "b", NULL);
    gc_json_set_str(o, "c", "\xff");
    gc_json_set_time(p, o, "t", 1795508100);
    gc_json_set_time(p, o, "u", -1);
    gc_json_set_time(p, o, "e", 0);
    STR_EQ(gc_json_dump(p, o, NULL),
           "{\"a\":\"x\",\"b\":null,\"c\":null,\"t\":\"2026-11-24T08:15:00Z\",\"u\":null,"
           "\"e\":\"1970-01-01T00:00:00Z\"}",
           "set_str and set_time, with null for NULL, invalid UTF-8 and t < 0");
}

/* ----------------------------------------------------------------- main -- */

/* Runs one group in its own pool, so each group's cleanups run (valgrind). */
static void run(apr_pool_t *root, void (*fn)(apr_pool_t *))
{
    apr_pool_t *p;

    apr_pool_create(&p, root);
    fn(p);
    apr_pool_destroy(p);
}

/* The job codec: the sweeper's fields, and entries without them. */
static void test_job(apr_pool_t *p)
{
    const char *f1[] = { "v", "reply_id", "enqueued_at" };
    const char *v1[] = { "1", "42", "1700000000" };
    const char *f2[] = { "v", "reply_id", "generation", "lease_until" };
    const char *v2[] = { "1", "42", "3", "1700000030500000" };
    const char *v3[] = { "1", "42", "3", "soon" };
    gc_job_t j;

    (void)p;
    OK(gc_job_decode(f1, v1, 3, &j) == NULL && j.reply_id == 42, "a module's job decodes");
    /* Found by tests/fuzz/fuzz_time_url_job: strtoll's ERANGE went unseen. */
    v1[1] = "99999999999999999999";
    OK(gc_job_decode(f1, v1, 3, &j) != NULL, "an out-of-range reply_id is refused, not clamped");
    v1[1] = "42";
    OK(j.swept_generation == -1 && j.swept_lease_until == -1, "... not swept");
    OK(gc_job_decode(f2, v2, 4, &j) == NULL && j.swept_generation == 3,
       "a swept job decodes with its generation");
    INT_EQ(j.swept_lease_until, INT64_C(1700000030500000), "... and the lease the sweeper set");
    OK(gc_job_decode(f2, v3, 4, &j) == NULL && j.swept_lease_until == -1,
       "a bad lease_until is none (the claim then needs a lease that ran out)");
    OK(strstr(GC_LUA_QUOTA_REFUND, "'172800'") != NULL, "the refund marker lives two days");
}

/* Adapters for the groups that need no pool. */
static void test_utf8_p(apr_pool_t *p) { (void)p; test_utf8(); }
static void test_ids_p(apr_pool_t *p) { (void)p; test_ids(); }

int main(void)
{
    apr_pool_t *root;
    int rc;

    apr_initialize();
    apr_pool_create(&root, NULL);
    run(root, test_b64);
    run(root, test_crypto);
    run(root, test_jwt_rfc7515);
    run(root, test_jwt_roundtrip);
    run(root, test_jwt_structure);
    run(root, test_jwt_claims);
    run(root, test_sig);
    run(root, test_password);
    run(root, test_otp);
    run(root, test_utf8_p);
    run(root, test_trim);
    run(root, test_mobile);
    run(root, test_ids_p);
    run(root, test_form_escape);
    run(root, test_time);
    run(root, test_redis_url);
    run(root, test_json_own);
    run(root, test_json_dump);
    run(root, test_json_parse);
    run(root, test_json_alias_set);
    run(root, test_job);
    rc = unit_done();
    apr_pool_destroy(root);
    apr_terminate();
    return rc;
}
