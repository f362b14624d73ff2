/*
 * options.c — MIRRORGUARD_OPTIONS: the table of options.def expanded into defaults, a parser,
 * `help=1`, and the public table (mg_option_at) that the harness prints.
 *
 * The parser runs at start-up, possibly from inside the first malloc of the process, so it
 * allocates nothing and prints with write(2). ASan's conventions: `key=value` pairs separated by
 * ':' or ','; an unknown key or a malformed value prints one line naming it and keeps the
 * default, so a typo never stops the program and is never silent.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "mg_internal.h"

#pragma GCC visibility push(hidden)

#define STR_(x) #x
#define STR(x) STR_(x)

struct mg_options _mg_opt = {
#define MG_OPT_INT(name, def, min, max, help) .name = (def),
#define MG_OPT_ENUM(name, def, values, help) .name = 0,
#define MG_OPT_STR(name, def, help) .name = def,
#include "options.def"
#undef MG_OPT_INT
#undef MG_OPT_ENUM
#undef MG_OPT_STR
};

enum { KIND_INT, KIND_ENUM, KIND_STR };

struct option_desc {
    mg_option_info_t info;
    int kind;
    long min, max;
    size_t offset;
};

static const struct option_desc options[] = {
#define MG_OPT_INT(name, def, min, max, help) \
    {{#name, STR(def), #min ".." #max, help}, KIND_INT, (min), (max), offsetof(struct mg_options, name)},
#define MG_OPT_ENUM(name, def, values, help) \
    {{#name, def, values, help}, KIND_ENUM, 0, 0, offsetof(struct mg_options, name)},
#define MG_OPT_STR(name, def, help) \
    {{#name, "\"" def "\"", "PREFIX", help}, KIND_STR, 0, 0, offsetof(struct mg_options, name)},
#include "options.def"
#undef MG_OPT_INT
#undef MG_OPT_ENUM
#undef MG_OPT_STR
};
enum { OPTION_COUNT = sizeof(options) / sizeof(options[0]) };

/* Enum defaults are names in options.def; resolve them once so the struct holds indices. */
static int enum_index(const char *values, const char *word, size_t len)
{
    int index = 0;
    const char *p = values;
    for (;;) {
        const char *bar = strchr(p, '|');
        size_t n = bar ? (size_t)(bar - p) : strlen(p);
        if (n == len && memcmp(p, word, len) == 0) return index;
        if (!bar) return -1;
        p = bar + 1;
        index++;
    }
}

static void bad_option(const char *what, const char *key, size_t keylen, const char *why)
{
    char line[512];
    size_t n = 0;
#define PUT(s, l) do { size_t l_ = (l); if (n + l_ > sizeof line - 2) l_ = sizeof line - 2 - n; memcpy(line + n, (s), l_); n += l_; } while (0)
    PUT("MirrorGuard: ", 13);
    PUT(what, strlen(what));
    PUT(" '", 2);
    PUT(key, keylen);
    PUT("' in MIRRORGUARD_OPTIONS: ", 26);
    PUT(why, strlen(why));
#undef PUT
    line[n++] = '\n';
    _mg_write_all(2, line, n);
}

static void set_one(const char *key, size_t keylen, const char *val, size_t vallen)
{
    for (int i = 0; i < OPTION_COUNT; i++) {
        const struct option_desc *o = &options[i];
        if (strlen(o->info.name) != keylen || memcmp(o->info.name, key, keylen) != 0) continue;
        char *field = (char *)&_mg_opt + o->offset;
        if (o->kind == KIND_STR) {
            if (vallen >= 256) { bad_option("value too long for", key, keylen, "keeping the default"); return; }
            memcpy(field, val, vallen);
            field[vallen] = 0;
            return;
        }
        if (o->kind == KIND_ENUM) {
            int idx = enum_index(o->info.values, val, vallen);
            if (idx < 0) { bad_option("bad value for", key, keylen, "expected one of the values `mirrorguard options` lists; keeping the default"); return; }
            *(int *)field = idx;
            return;
        }
        /* An integer: decimal, optionally negative, within [min, max]. */
        char buf[32];
        if (vallen == 0 || vallen >= sizeof buf) { bad_option("bad value for", key, keylen, "expected a number; keeping the default"); return; }
        memcpy(buf, val, vallen);
        buf[vallen] = 0;
        char *end;
        errno = 0;
        long v = strtol(buf, &end, 10);
        if (errno || *end || v < o->min || v > o->max) {
            bad_option("bad value for", key, keylen, "out of range or not a number; keeping the default");
            return;
        }
        if (o->offset == offsetof(struct mg_options, alignment) && (v & (v - 1))) {
            bad_option("bad value for", key, keylen, "alignment must be a power of 2; keeping the default");
            return;
        }
        *(int *)field = (int)v;
        return;
    }
    bad_option("unknown option", key, keylen, "ignored (`MIRRORGUARD_OPTIONS=help=1` lists them)");
}

void _mg_options_parse(const char *spec)
{
    for (int i = 0; i < OPTION_COUNT; i++) {
        if (options[i].kind == KIND_ENUM) {
            const char *def = options[i].info.default_value;
            *(int *)((char *)&_mg_opt + options[i].offset) = enum_index(options[i].info.values, def, strlen(def));
        }
    }
    if (!spec) return;
    const char *p = spec;
    while (*p) {
        size_t len = strcspn(p, ":,");
        if (len > 0) {
            const char *eq = memchr(p, '=', len);
            if (!eq) bad_option("missing '=' after", p, len, "expected key=value");
            else set_one(p, (size_t)(eq - p), eq + 1, len - (size_t)(eq - p) - 1);
        }
        p += len;
        if (*p) p++;
    }
}

void _mg_options_print_help(void)
{
    static char buf[8192];
    size_t n = 0;
#define PUTS(s) do { size_t l_ = strlen(s); if (n + l_ < sizeof buf) { memcpy(buf + n, (s), l_); n += l_; } } while (0)
    PUTS("MirrorGuard options (MIRRORGUARD_OPTIONS=key=value:key=value):\n");
    for (int i = 0; i < OPTION_COUNT; i++) {
        const mg_option_info_t *o = &options[i].info;
        PUTS("  ");
        PUTS(o->name);
        PUTS("=");
        PUTS(o->default_value);
        PUTS("  [");
        PUTS(o->values);
        PUTS("]\n      ");
        PUTS(o->help);
        PUTS("\n");
    }
#undef PUTS
    _mg_write_all(2, buf, n);
}

#pragma GCC visibility pop

MG_EXPORT int mg_option_count(void) { return OPTION_COUNT; }

MG_EXPORT const mg_option_info_t *mg_option_at(int i)
{
    return (i >= 0 && i < OPTION_COUNT) ? &options[i].info : NULL;
}
