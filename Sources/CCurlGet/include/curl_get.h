#ifndef PIPE_CURL_GET_H
#define PIPE_CURL_GET_H

#include <stddef.h>

/// What a GET hands back while it runs. `on_body` receives each piece of the body as libcurl
/// reads it and returns nonzero to stop the transfer; `should_stop` is polled about once a
/// second (and on every piece) and stops it when nonzero.
typedef struct {
    int (*on_body)(void *context, const char *data, size_t size);
    int (*should_stop)(void *context);
    void *context;
} pipe_curl_callbacks;

/// The result of a GET.
typedef struct {
    int code;               /* CURLcode: 0 when the transfer completed */
    int stopped;            /* 1 when a callback stopped it */
    long status;            /* HTTP status of the last response */
    char content_type[256]; /* its Content-Type, "" when none */
    char error[256];        /* libcurl's message when code != 0 */
} pipe_curl_result;

/// GETs `url` (http or https, redirects followed within those), with `user_agent`, giving up when
/// fewer than one byte a second arrives for `idle_seconds` or connecting takes that long.
void pipe_curl_get(const char *url, const char *user_agent, long idle_seconds,
                   const pipe_curl_callbacks *callbacks, pipe_curl_result *result);

#endif
