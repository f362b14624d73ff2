/*
 * report.c — formatting and writing reports. ASYNC-SIGNAL-SAFE: runs inside the fault handler.
 *
 * No malloc, no stdio, no locale: a small formatter appends to one static buffer, and the whole
 * report goes out with one write(2) loop, so reports from concurrent threads never interleave.
 * Reports are serialized by a spinlock that records its owner; a fault while the same thread is
 * reporting (a bug here, or a corrupt stack) ends the process with a one-line message instead of
 * deadlocking.
 *
 * Text follows the contract's grammar (ASan's shape); `log_format=json` writes the same facts
 * as one JSON object per line. Frames carry the function from the symbol tables (symbols.c) and
 * the module path and offset, which `mirrorguard symbolize` turns into file:line.
 */
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <unistd.h>

#include "mg_internal.h"
#include "symbols.h"

#pragma GCC visibility push(hidden)

_Atomic unsigned long _mg_reports;

static const char *const kind_names[] = {
#define MG_KIND_NAME(e, s) s,
    MG_KINDS(MG_KIND_NAME)
#undef MG_KIND_NAME
};

const char *_mg_kind_name(enum mg_kind k)
{
    return (unsigned)k < MG_KIND_COUNT ? kind_names[k] : "unknown";
}

/* ---- A formatter over a fixed buffer ------------------------------------------------------ */

struct buf {
    char *p;
    size_t len, cap;
};

static void put(struct buf *b, const char *s, size_t n)
{
    if (b->len + n > b->cap) n = b->cap - b->len;
    memcpy(b->p + b->len, s, n);
    b->len += n;
}
static void puts_(struct buf *b, const char *s) { put(b, s, strlen(s)); }
static void putc_(struct buf *b, char c) { put(b, &c, 1); }

static void put_u(struct buf *b, uint64_t v, unsigned base)
{
    char tmp[24];
    int i = sizeof tmp;
    do {
        tmp[--i] = "0123456789abcdef"[v % base];
        v /= base;
    } while (v);
    put(b, tmp + i, sizeof tmp - (size_t)i);
}
static void put_hex(struct buf *b, uint64_t v) { puts_(b, "0x"); put_u(b, v, 16); }
static void put_dec(struct buf *b, int64_t v)
{
    if (v < 0) { putc_(b, '-'); v = -v; }
    put_u(b, (uint64_t)v, 10);
}

static void put_json_str(struct buf *b, const char *s)
{
    putc_(b, '"');
    for (; s && *s; s++) {
        unsigned char c = (unsigned char)*s;
        if (c == '"' || c == '\\') { putc_(b, '\\'); putc_(b, (char)c); }
        else if (c < 0x20) { puts_(b, "\\u00"); putc_(b, "0123456789abcdef"[c >> 4]); putc_(b, "0123456789abcdef"[c & 15]); }
        else putc_(b, (char)c);
    }
    putc_(b, '"');
}
static void put_json_hex(struct buf *b, uint64_t v) { putc_(b, '"'); put_hex(b, v); putc_(b, '"'); }

/* ---- Frames ------------------------------------------------------------------------------- */

/* Names frame i; return addresses (i > 0) are looked up one byte back, inside the call. */
static void frame_info(const uintptr_t *frames, int i, mg_frame_info_t *fi)
{
    uintptr_t back = i > 0 ? 1 : 0;
    if (_mg_symbolize(frames[i] - back, fi) != 0) {
        fi->function = NULL;
        fi->module = NULL;
        fi->function_offset = fi->module_offset = 0;
        return;
    }
    fi->function_offset += back;
    fi->module_offset += back;
}

/* Room kept at the end of the buffer for what follows the frames (the SUMMARY line, closing
 * braces), and the longest symbol printed: C++ names can run to kilobytes. */
#define RESERVE 4096
#define NAME_MAX_PRINTED 512

static void put_name(struct buf *b, const char *name)
{
    size_t n = strlen(name);
    put(b, name, n < NAME_MAX_PRINTED ? n : NAME_MAX_PRINTED);
    if (n > NAME_MAX_PRINTED) puts_(b, "...");
}

static int full(const struct buf *b) { return b->len + RESERVE > b->cap; }

static void text_stack(struct buf *b, const uintptr_t *frames, int n)
{
    for (int i = 0; i < n && !full(b); i++) {
        mg_frame_info_t fi;
        frame_info(frames, i, &fi);
        puts_(b, "    #");
        put_dec(b, i);
        putc_(b, ' ');
        put_hex(b, frames[i]);
        puts_(b, " in ");
        put_name(b, fi.function ? fi.function : "??");
        if (fi.function) { putc_(b, '+'); put_hex(b, fi.function_offset); }
        puts_(b, " (");
        if (fi.module) { puts_(b, fi.module); putc_(b, '+'); put_hex(b, fi.module_offset); }
        else puts_(b, "<unknown module>");
        puts_(b, ")\n");
    }
    if (n == 0) puts_(b, "    <empty stack>\n");
}

static void json_stack(struct buf *b, const uintptr_t *frames, int n)
{
    putc_(b, '[');
    for (int i = 0; i < n && !full(b); i++) {
        mg_frame_info_t fi;
        frame_info(frames, i, &fi);
        if (i) putc_(b, ',');
        puts_(b, "{\"pc\":");
        put_json_hex(b, frames[i]);
        puts_(b, ",\"function\":");
        if (fi.function && strlen(fi.function) <= NAME_MAX_PRINTED) put_json_str(b, fi.function);
        else if (fi.function) { char cut[NAME_MAX_PRINTED + 1]; memcpy(cut, fi.function, NAME_MAX_PRINTED); cut[NAME_MAX_PRINTED] = 0; put_json_str(b, cut); }
        else puts_(b, "null");
        puts_(b, ",\"offset\":");
        put_dec(b, (int64_t)fi.function_offset);
        puts_(b, ",\"module\":");
        if (fi.module) put_json_str(b, fi.module); else puts_(b, "null");
        puts_(b, ",\"module_offset\":");
        put_json_hex(b, fi.module_offset);
        putc_(b, '}');
    }
    putc_(b, ']');
}

static const char *summary_function(const struct mg_report *r)
{
    if (r->nframes <= 0) return "??";
    mg_frame_info_t fi;
    frame_info(r->frames, 0, &fi);
    return fi.function ? fi.function : "??";
}

static const char *where_word(enum mg_where w)
{
    return w == MG_WHERE_AFTER ? "after" : w == MG_WHERE_BEFORE ? "before" : "inside";
}

static uint64_t distance(const struct mg_report *r)
{
    if (r->where == MG_WHERE_AFTER) return r->addr - (r->region_begin + r->region_size);
    if (r->where == MG_WHERE_BEFORE) return r->region_begin - r->addr;
    return r->addr - r->region_begin;
}

/* ---- Text and JSON ------------------------------------------------------------------------ */

static void format_text(struct buf *b, const struct mg_report *r, pid_t pid)
{
    const struct mg_slot *s = r->slot;
    puts_(b, "==");
    put_dec(b, pid);
    puts_(b, "==ERROR: MirrorGuard: ");
    puts_(b, _mg_kind_name(r->kind));
    puts_(b, " on address ");
    put_hex(b, r->addr);
    puts_(b, " at pc ");
    put_hex(b, r->pc);
    puts_(b, " (");
    puts_(b, r->access);
    puts_(b, ", thread ");
    put_dec(b, r->tid);
    puts_(b, ")\n");
    text_stack(b, r->frames, r->nframes);
    if (r->where != MG_WHERE_NONE) {
        put_hex(b, r->addr);
        puts_(b, " is located ");
        put_dec(b, (int64_t)distance(r));
        puts_(b, " bytes ");
        puts_(b, where_word(r->where));
        puts_(b, " a ");
        put_dec(b, (int64_t)r->region_size);
        puts_(b, "-byte region [");
        put_hex(b, r->region_begin);
        putc_(b, ',');
        put_hex(b, r->region_begin + r->region_size);
        puts_(b, ")\n");
    }
    if (r->note) { puts_(b, r->note); putc_(b, '\n'); }
    if (s && s->alloc_stack) {
        int n;
        const uintptr_t *f = _mg_stack_get(s->alloc_stack, &n);
        puts_(b, "allocated by thread ");
        put_dec(b, s->alloc_tid);
        puts_(b, " here:\n");
        text_stack(b, f, n);
    }
    if (s && s->free_stack && s->state != MG_SLOT_LIVE) {
        int n;
        const uintptr_t *f = _mg_stack_get(s->free_stack, &n);
        puts_(b, "freed by thread ");
        put_dec(b, s->free_tid);
        puts_(b, " here:\n");
        text_stack(b, f, n);
    }
    puts_(b, "==");
    put_dec(b, pid);
    puts_(b, "==SUMMARY: MirrorGuard: ");
    puts_(b, _mg_kind_name(r->kind));
    puts_(b, " in ");
    put_name(b, summary_function(r));
    putc_(b, '\n');
}

static void json_origin(struct buf *b, const char *key, int32_t tid, uint32_t stack)
{
    putc_(b, ',');
    put_json_str(b, key);
    putc_(b, ':');
    if (!stack) { puts_(b, "null"); return; }
    int n;
    const uintptr_t *f = _mg_stack_get(stack, &n);
    puts_(b, "{\"thread\":");
    put_dec(b, tid);
    puts_(b, ",\"frames\":");
    json_stack(b, f, n);
    putc_(b, '}');
}

static void format_json(struct buf *b, const struct mg_report *r, pid_t pid)
{
    const struct mg_slot *s = r->slot;
    puts_(b, "{\"tool\":\"MirrorGuard\",\"pid\":");
    put_dec(b, pid);
    puts_(b, ",\"kind\":");
    put_json_str(b, _mg_kind_name(r->kind));
    puts_(b, ",\"address\":");
    put_json_hex(b, r->addr);
    puts_(b, ",\"pc\":");
    put_json_hex(b, r->pc);
    puts_(b, ",\"access\":");
    put_json_str(b, r->access);
    puts_(b, ",\"thread\":");
    put_dec(b, r->tid);
    puts_(b, ",\"frames\":");
    json_stack(b, r->frames, r->nframes);
    puts_(b, ",\"region\":");
    if (r->where != MG_WHERE_NONE) {
        puts_(b, "{\"begin\":");
        put_json_hex(b, r->region_begin);
        puts_(b, ",\"size\":");
        put_dec(b, (int64_t)r->region_size);
        puts_(b, ",\"where\":");
        put_json_str(b, where_word(r->where));
        puts_(b, ",\"distance\":");
        put_dec(b, (int64_t)distance(r));
        putc_(b, '}');
    } else {
        puts_(b, "null");
    }
    json_origin(b, "allocated_by", s ? s->alloc_tid : 0, s ? s->alloc_stack : 0);
    json_origin(b, "freed_by", s ? s->free_tid : 0, (s && s->state != MG_SLOT_LIVE) ? s->free_stack : 0);
    puts_(b, ",\"note\":");
    if (r->note) put_json_str(b, r->note); else puts_(b, "null");
    puts_(b, ",\"summary\":");
    put_json_str(b, summary_function(r));
    puts_(b, "}\n");
}

/* ---- Output ------------------------------------------------------------------------------- */

/* Where reports go: stderr, or PREFIX.<pid> opened for each report (reports are rare, and a
 * descriptor kept open could be closed and reused by the program under us). */
static int output_open(pid_t pid)
{
    if (!_mg_opt.log_path[0]) return 2;
    char path[320];
    struct buf b = {path, 0, sizeof path - 1};
    puts_(&b, _mg_opt.log_path);
    putc_(&b, '.');
    put_dec(&b, pid);
    path[b.len] = 0;
    int fd = open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
    return fd < 0 ? 2 : fd;
}

static _Atomic pid_t report_owner;

void _mg_report(const struct mg_report *r)
{
    static char storage[1 << 16];
    /* In continue mode an error is reported once per instruction and kind, then counted. */
    if (_mg_opt.on_error == MG_ON_ERROR_CONTINUE && r->kind != MG_KIND_MEMORY_LEAK && !r->counted &&
        !_mg_continue_first(r->pc, r->kind))
        return;
    int saved = errno;
    pid_t self = _mg_gettid(), none = 0;
    while (!atomic_compare_exchange_weak(&report_owner, &none, self)) {
        if (none == self) {
            static const char msg[] = "MirrorGuard: fault while writing a report; giving up\n";
            _mg_write_all(2, msg, sizeof msg - 1);
            _mg_die(_mg_opt.exitcode);
        }
        none = 0;
    }
    pid_t pid = getpid();
    _mg_symbols_prime(); /* learn libraries loaded (or unloaded) since the last report */
    struct buf b = {storage, 0, sizeof storage};
    if (_mg_opt.log_format == MG_FORMAT_JSON) format_json(&b, r, pid);
    else format_text(&b, r, pid);
    if (b.len == b.cap) storage[b.cap - 1] = '\n'; /* truncated: still end on a line */
    int fd = output_open(pid);
    _mg_write_all(fd, storage, b.len);
    if (fd != 2) close(fd);
    atomic_fetch_add(&_mg_reports, 1);
    atomic_store(&report_owner, 0);
    errno = saved;
}

void _mg_report_region(struct mg_report *r, const struct mg_slot *s, enum mg_view view)
{
    r->slot = s;
    r->region_begin = _mg_addr(s->user, view);
    r->region_size = s->size;
    r->where = r->addr < r->region_begin ? MG_WHERE_BEFORE
             : r->addr >= r->region_begin + r->region_size ? MG_WHERE_AFTER : MG_WHERE_INSIDE;
}

void _mg_report_sites(const char *title, const struct mg_site *sites, size_t n)
{
    static char storage[1 << 16];
    pid_t pid = getpid();
    _mg_symbols_prime();
    struct buf b = {storage, 0, sizeof storage};
    puts_(&b, "==");
    put_dec(&b, pid);
    puts_(&b, "==MirrorGuard: ");
    puts_(&b, title);
    puts_(&b, n ? ":\n" : ": none\n");
    for (size_t i = 0; i < n && !full(&b); i++) {
        puts_(&b, "  ");
        put_dec(&b, (int64_t)sites[i].written);
        puts_(&b, " written (");
        put_dec(&b, (int64_t)sites[i].written_bytes);
        puts_(&b, " bytes), ");
        put_dec(&b, (int64_t)sites[i].allocated);
        puts_(&b, " allocated, ");
        put_dec(&b, (int64_t)sites[i].freed);
        puts_(&b, " freed; objects allocated here:\n");
        int frames;
        const uintptr_t *f = _mg_stack_get(sites[i].stack, &frames);
        text_stack(&b, f, frames);
    }
    _mg_write_all(2, storage, b.len);
}

void _mg_report_after_fork_child(void)
{
    atomic_store(&report_owner, 0);
}

void _mg_report_abort(void)
{
    _mg_die(_mg_opt.exitcode);
}

#pragma GCC visibility pop

MG_EXPORT unsigned long mg_report_count(void)
{
    return atomic_load(&_mg_reports);
}
