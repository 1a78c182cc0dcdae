#include "curl_get.h"

#include <curl/curl.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>

static pthread_once_t global_init = PTHREAD_ONCE_INIT;

static void init_curl(void) { curl_global_init(CURL_GLOBAL_DEFAULT); }

typedef struct {
    const pipe_curl_callbacks *callbacks;
    int stopped;
} transfer;

/* libcurl calls this with each piece of the body, on the transferring thread: returning less
   than the size given aborts at once, so a body never piles up ahead of its reader. */
static size_t write_body(char *data, size_t size, size_t count, void *user) {
    transfer *t = user;
    size_t bytes = size * count;
    if (t->callbacks->should_stop(t->callbacks->context) || t->callbacks->on_body(t->callbacks->context, data, bytes)) {
        t->stopped = 1;
        return 0;
    }
    return bytes;
}

static int progress(void *user, curl_off_t dltotal, curl_off_t dlnow, curl_off_t ultotal, curl_off_t ulnow) {
    (void)dltotal; (void)dlnow; (void)ultotal; (void)ulnow;
    transfer *t = user;
    if (t->callbacks->should_stop(t->callbacks->context)) {
        t->stopped = 1;
        return 1;
    }
    return 0;
}

void pipe_curl_get(const char *url, const char *user_agent, long idle_seconds,
                   const pipe_curl_callbacks *callbacks, pipe_curl_result *result) {
    memset(result, 0, sizeof *result);
    pthread_once(&global_init, init_curl);
    CURL *curl = curl_easy_init();
    if (!curl) {
        result->code = CURLE_FAILED_INIT;
        snprintf(result->error, sizeof result->error, "cannot start libcurl");
        return;
    }
    transfer t = {callbacks, 0};
    char error[CURL_ERROR_SIZE] = {0};
    curl_easy_setopt(curl, CURLOPT_URL, url);
    curl_easy_setopt(curl, CURLOPT_USERAGENT, user_agent);
    curl_easy_setopt(curl, CURLOPT_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(curl, CURLOPT_REDIR_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(curl, CURLOPT_FOLLOWLOCATION, 1L);
    curl_easy_setopt(curl, CURLOPT_MAXREDIRS, 10L);
    curl_easy_setopt(curl, CURLOPT_ACCEPT_ENCODING, "");  /* decoded bytes are what the cap counts */
    curl_easy_setopt(curl, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(curl, CURLOPT_CONNECTTIMEOUT, idle_seconds);
    curl_easy_setopt(curl, CURLOPT_LOW_SPEED_LIMIT, 1L);
    curl_easy_setopt(curl, CURLOPT_LOW_SPEED_TIME, idle_seconds);
    curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, write_body);
    curl_easy_setopt(curl, CURLOPT_WRITEDATA, &t);
    curl_easy_setopt(curl, CURLOPT_NOPROGRESS, 0L);
    curl_easy_setopt(curl, CURLOPT_XFERINFOFUNCTION, progress);
    curl_easy_setopt(curl, CURLOPT_XFERINFODATA, &t);
    curl_easy_setopt(curl, CURLOPT_ERRORBUFFER, error);

    CURLcode code = curl_easy_perform(curl);
    result->code = (int)code;
    result->stopped = t.stopped;
    curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &result->status);
    char *type = NULL;
    if (curl_easy_getinfo(curl, CURLINFO_CONTENT_TYPE, &type) == CURLE_OK && type) {
        snprintf(result->content_type, sizeof result->content_type, "%s", type);
    }
    if (code != CURLE_OK) {
        snprintf(result->error, sizeof result->error, "%s", error[0] ? error : curl_easy_strerror(code));
    }
    curl_easy_cleanup(curl);
}
