#ifndef PIPE_HTML_TEXT_H
#define PIPE_HTML_TEXT_H

#include <stddef.h>

/// The readable text of an HTML page (UTF-8 in, UTF-8 out), by libxml2's HTML parser.
///
/// Scripts, styles, forms and navigation (nav, header, footer, aside; ARIA navigation, banner,
/// search and contentinfo roles; hidden elements; classes or ids naming navbars, breadcrumbs,
/// sidebars, menus, cookie notices, footers) are dropped. Block elements become line breaks,
/// paragraphs, headings, lists and tables blank lines; white space outside <pre> collapses;
/// entities are decoded. Returns a malloc'ed buffer the caller frees with pipe_html_free, with
/// its length in *length, or NULL when libxml2 finds no document.
char *pipe_html_to_text(const char *html, size_t size, size_t *length);

void pipe_html_free(char *text);

#endif
