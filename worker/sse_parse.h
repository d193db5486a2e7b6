/* An incremental parser for server-sent events as Gemini sends them: fed
 * whatever bytes arrive, it hands over the data of each complete event.
 * Lines end in \r\n, \n or \r (also split across feeds); an empty line ends
 * an event; "data:" lines (one optional space after the colon) are joined
 * with \n; comments (":...") and every other field are ignored; no "[DONE]"
 * is expected. A UTF-8 BOM at the very start is skipped. */
#ifndef SSE_PARSE_H
#define SSE_PARSE_H

#include <stddef.h>

/* Receives one event's data (NUL-terminated, len bytes). Returns 0 to go
 * on; anything else stops the parser and is returned by sse_feed. */
typedef int (*sse_event_fn)(void *arg, const char *data, size_t len);

#define SSE_TOO_BIG (-1)     /* a line or an event's data exceeds max */

typedef struct {
    char *line;              /* the line being read */
    size_t line_len, line_cap;
    char *data;              /* the event's data so far */
    size_t data_len, data_cap;
    int has_data;            /* a data field was seen in this event */
    int after_cr;            /* the last byte was \r: skip a following \n */
    int at_start;            /* no line ended yet (BOM check) */
    size_t max;              /* cap on a line and on an event's data */
} sse_parser;

void sse_init(sse_parser *s, size_t max);

/* Frees the buffers; the parser may be sse_init'ed again. */
void sse_free(sse_parser *s);

/* Parses n bytes. Returns 0, SSE_TOO_BIG, or what fn returned. */
int sse_feed(sse_parser *s, const char *buf, size_t n, sse_event_fn fn, void *arg);

/* End of the stream: an unterminated last line and event are handed over
 * too (lenient: a stream cut right after its last data line loses nothing).
 * Returns as sse_feed. */
int sse_end(sse_parser *s, sse_event_fn fn, void *arg);

#endif
