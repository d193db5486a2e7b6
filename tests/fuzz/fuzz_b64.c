/* base64url (gc_b64.c): strict decoding and its round trips. Both ways:
 * the input as text (decode, then re-encode must give the same text: one
 * text per value) and as bytes (encode, then decode must give the bytes). */
#include "fuzz.h"
#include "gc_b64.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    apr_pool_t *p = fuzz_pool();
    size_t n = 0, m = 0;
    unsigned char *dec;
    char *enc;

    /* As text: strict decoding is the exact inverse of encoding. */
    dec = gc_b64url_decode(p, (const char *)data, size, &n);
    if (dec != NULL) {
        FUZZ_ASSERT(n == size / 4 * 3 + (size % 4 ? size % 4 - 1 : 0));
        FUZZ_ASSERT(dec[n] == '\0');
        enc = gc_b64url_encode(p, dec, n);
        FUZZ_ASSERT(strlen(enc) == size && memcmp(enc, data, size) == 0);
    }

    /* As bytes: encode then decode. */
    enc = gc_b64url_encode(p, data, size);
    FUZZ_ASSERT(strlen(enc) == (size * 4 + 2) / 3);
    dec = gc_b64url_decode(p, enc, strlen(enc), &m);
    FUZZ_ASSERT(dec != NULL && m == size && (size == 0 || memcmp(dec, data, size) == 0));

    apr_pool_destroy(p);
    return 0;
}
