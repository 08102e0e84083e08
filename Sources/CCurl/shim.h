#ifndef CCURL_SHIM_H
#define CCURL_SHIM_H
#include <curl/curl.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

/// curl_easy_setopt is variadic, which Swift cannot call: one typed wrapper per argument kind.
static inline CURLcode CCurl_setopt_long(CURL *easy, CURLoption option, long value) {
    return curl_easy_setopt(easy, option, value);
}
static inline CURLcode CCurl_setopt_string(CURL *easy, CURLoption option, const char *value) {
    return curl_easy_setopt(easy, option, value);
}
static inline CURLcode CCurl_setopt_pointer(CURL *easy, CURLoption option, void *value) {
    return curl_easy_setopt(easy, option, value);
}

/// The response body is not kept (only the status matters): a write callback that swallows it.
static inline size_t CCurl_discard(char *data, size_t size, size_t count, void *user) {
    (void)data; (void)user;
    return size * count;
}
static inline CURLcode CCurl_discard_body(CURL *easy) {
    return curl_easy_setopt(easy, CURLOPT_WRITEFUNCTION, CCurl_discard);
}

/// A response body kept in memory (push providers answer with JSON that
/// says why a token failed), up to `limit` bytes; the rest is dropped.
typedef struct {
    char *data;
    size_t length;
    size_t capacity;
    size_t limit;
} CCurl_buffer;

static inline size_t CCurl_collect(char *data, size_t size, size_t count, void *user) {
    CCurl_buffer *buffer = (CCurl_buffer *)user;
    size_t bytes = size * count;
    size_t keep = bytes;
    if (buffer->length + keep > buffer->limit) keep = buffer->limit > buffer->length ? buffer->limit - buffer->length : 0;
    if (keep > 0) {
        if (buffer->length + keep > buffer->capacity) {
            size_t capacity = buffer->capacity ? buffer->capacity : 1024;
            while (capacity < buffer->length + keep) capacity *= 2;
            char *grown = (char *)realloc(buffer->data, capacity);
            if (!grown) return 0;
            buffer->data = grown;
            buffer->capacity = capacity;
        }
        memcpy(buffer->data + buffer->length, data, keep);
        buffer->length += keep;
    }
    return bytes;
}
static inline CURLcode CCurl_collect_body(CURL *easy, CCurl_buffer *buffer) {
    curl_easy_setopt(easy, CURLOPT_WRITEDATA, (void *)buffer);
    return curl_easy_setopt(easy, CURLOPT_WRITEFUNCTION, CCurl_collect);
}

/// CURL_HTTP_VERSION_* are enum members Swift sees with different types across curl versions.
static inline long CCurl_http_version_2tls(void) { return (long)CURL_HTTP_VERSION_2TLS; }
static inline long CCurl_http_version_2_prior_knowledge(void) { return (long)CURL_HTTP_VERSION_2_PRIOR_KNOWLEDGE; }

/// curl_easy_getinfo is variadic too.
static inline long CCurl_response_code(CURL *easy) {
    long code = 0;
    curl_easy_getinfo(easy, CURLINFO_RESPONSE_CODE, &code);
    return code;
}
static inline void *CCurl_private(CURL *easy) {
    char *pointer = NULL;
    curl_easy_getinfo(easy, CURLINFO_PRIVATE, &pointer);
    return pointer;
}

/// CURLMsg's result lives in a union.
static inline CURLcode CCurl_message_result(CURLMsg *message) { return message->data.result; }

#endif
