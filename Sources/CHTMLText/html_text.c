// HTML to text over libxml2's tree. Kept in C because libxml2's headers cannot be imported into
// Swift next to Foundation (both bring their own ICU declarations).
#define _GNU_SOURCE  // strcasestr
#include "html_text.h"

#include <libxml/HTMLparser.h>
#include <libxml/tree.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

typedef struct {
    char *data;
    size_t length, capacity;
    int pending_breaks;  // line breaks owed before the next character
    int pending_space;   // a collapsed space owed before the next character
} writer;

static void put(writer *w, char c) {
    if (w->length == w->capacity) {
        w->capacity = w->capacity ? w->capacity * 2 : 4096;
        w->data = realloc(w->data, w->capacity);
    }
    w->data[w->length++] = c;
}

static void request_breaks(writer *w, int n) {
    if (n > w->pending_breaks) w->pending_breaks = n;
    w->pending_space = 0;
}

static void append_text(writer *w, const unsigned char *p, int preformatted) {
    for (; *p; p++) {
        unsigned char b = *p;
        if (!preformatted && (b == ' ' || b == '\n' || b == '\t' || b == '\r' || b == '\f')) {
            if (w->length > 0 && w->pending_breaks == 0) w->pending_space = 1;
            continue;
        }
        if (w->pending_breaks > 0) {
            if (w->length > 0)
                for (int i = 0; i < w->pending_breaks; i++) put(w, '\n');
            w->pending_breaks = 0;
        } else if (w->pending_space) {
            put(w, ' ');
        }
        w->pending_space = 0;
        put(w, (char)b);
    }
}

static int in_list(const char *name, const char *const *list) {
    for (; *list; list++)
        if (strcasecmp(name, *list) == 0) return 1;
    return 0;
}

static const char *const skipped[] = {"script", "style", "noscript", "template", "svg", "math", "head", "nav", "header",
                                      "footer", "aside", "form", "button", "select", "textarea", "iframe", "object",
                                      "canvas", "audio", "video", "map", NULL};
static const char *const paragraphs[] = {"p", "h1", "h2", "h3", "h4", "h5", "h6", "pre", "blockquote", "table", "ul", "ol",
                                         "dl", "section", "article", "main", "figure", "address", "details", "hr", NULL};
static const char *const lines[] = {"div", "li", "tr", "br", "dt", "dd", "caption", "figcaption", "summary", "center", NULL};
static const char *const boilerplate_roles[] = {"navigation", "banner", "contentinfo", "search", "menu", "menubar",
                                                "complementary", NULL};
static const char *const boilerplate_markers[] = {"navbar", "navheader", "navfooter", "breadcrumb", "sidebar", "menu",
                                                  "cookie", "footer", "skip-link", "skiplink", NULL};

/// Whether a class or id value names navigation: a marker anywhere, or the word nav/navigation.
static int names_boilerplate(const char *value) {
    for (const char *const *m = boilerplate_markers; *m; m++)
        if (strcasestr(value, *m)) return 1;
    const char *p = value;
    while (*p) {
        while (*p == ' ') p++;
        const char *start = p;
        while (*p && *p != ' ') p++;
        size_t n = (size_t)(p - start);
        if ((n == 3 && strncasecmp(start, "nav", 3) == 0) || (n == 10 && strncasecmp(start, "navigation", 10) == 0)) return 1;
    }
    return 0;
}

static int is_boilerplate(xmlNodePtr node) {
    for (xmlAttrPtr a = node->properties; a; a = a->next) {
        const char *name = (const char *)a->name;
        if (strcasecmp(name, "hidden") == 0) return 1;
        const char *value = a->children && a->children->content ? (const char *)a->children->content : "";
        if (strcasecmp(name, "aria-hidden") == 0 && strcasecmp(value, "true") == 0) return 1;
        if (strcasecmp(name, "role") == 0 && in_list(value, boilerplate_roles)) return 1;
        if ((strcasecmp(name, "class") == 0 || strcasecmp(name, "id") == 0) && names_boilerplate(value)) return 1;
    }
    return 0;
}

static void walk(xmlNodePtr node, writer *w, int preformatted) {
    for (; node; node = node->next) {
        if (node->type == XML_TEXT_NODE || node->type == XML_CDATA_SECTION_NODE) {
            if (node->content) append_text(w, node->content, preformatted);
            continue;
        }
        if (node->type != XML_ELEMENT_NODE) continue;
        const char *name = (const char *)node->name;
        if (in_list(name, skipped) || is_boilerplate(node)) continue;
        int breaks = in_list(name, paragraphs) ? 2 : in_list(name, lines) ? 1 : 0;
        if (breaks) request_breaks(w, breaks);
        if ((strcasecmp(name, "td") == 0 || strcasecmp(name, "th") == 0) && w->length > 0) w->pending_space = 1;
        walk(node->children, w, preformatted || strcasecmp(name, "pre") == 0);
        if (breaks) request_breaks(w, breaks);
    }
}

char *pipe_html_to_text(const char *html, size_t size, size_t *length) {
    int options = HTML_PARSE_RECOVER | HTML_PARSE_NOERROR | HTML_PARSE_NOWARNING | HTML_PARSE_NONET | HTML_PARSE_COMPACT;
    htmlDocPtr doc = htmlReadMemory(html, (int)size, NULL, "UTF-8", options);
    if (!doc) return NULL;
    xmlNodePtr root = xmlDocGetRootElement(doc);
    writer w = {0};
    if (root) walk(root, &w, 0);
    xmlFreeDoc(doc);
    put(&w, '\0');
    *length = w.length - 1;
    return w.data;
}

void pipe_html_free(char *text) { free(text); }
