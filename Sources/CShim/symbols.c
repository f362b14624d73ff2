/*
 * symbols.c — naming code addresses from inside a signal handler.
 *
 * MirrorGuard prints its reports from a SIGSEGV handler, usually while the program's heap is in
 * an unknown state, so every frame has to be named without allocating, without locks and without
 * stdio. The usual tools fail that test. dladdr and dl_iterate_phdr take the dynamic loader's
 * lock, which the faulting thread may already hold (a crash inside dlopen would deadlock the
 * report), and dladdr only sees .dynsym, so static functions would come out nameless.
 * libunwind's unw_get_proc_name maps the ELF file afresh on every call and, for MiniDebugInfo,
 * decompresses through malloc.
 *
 * So this file does the work itself, with nothing but static storage and the system calls POSIX
 * lists as async-signal-safe (open, read, close, fstat, mmap, munmap) plus the mem and str
 * functions, which touch no shared state. Callers serialize calls; a call that interrupts another
 * (a fault inside this file) is refused rather than waited for. Modules are found by reading
 * /proc/self/maps in chunks through a fixed buffer: a run of mappings of one file that starts
 * with its file-offset-0 mapping and contains an executable one is a loaded module, and the
 * start of that first mapping is its load base. The table is learnt at start-up
 * (_mg_symbols_prime) and re-read when an address falls outside every known module, which is
 * how libraries dlopen'ed later are found.
 *
 * The first time an address lands in a module, its ELF file is mapped read-only in one piece and
 * kept mapped for good, so the names we return stay valid until exit. The load bias is the base
 * minus the page of the first PT_LOAD for ET_DYN (PIE and shared objects) and zero for ET_EXEC;
 * subtracting it gives the file's own virtual address, which is what addr2line and
 * llvm-symbolizer expect. Names come from .symtab when the file has one (static functions of
 * unstripped binaries) and from .dynsym otherwise, by a linear scan: reports are rare, so we cache
 * only the mapping and the table pointers. Every offset and size read from the file is checked
 * against its length first, so a truncated or corrupt file yields no name rather than a crash.
 *
 * Limitations: x86-64 ELF64 only; no separate debug files or .gnu_debugdata. The table is only
 * re-read on a miss, so if a library is dlclose'd and another lands on its addresses, lookups
 * name the old one until then; _mg_symbols_prime is itself async-signal-safe and refreshes the
 * table. A dlclose'd library's file stays mapped (names handed out must not dangle), and a file
 * truncated in place after we mapped it would raise SIGBUS when read.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <elf.h>
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#pragma GCC visibility push(hidden)

#include "symbols.h"

#define MG_MAX_MODULES 512
#define MG_MAX_FILES 512
#define MG_PATH_POOL (64 * 1024)
#define MG_PAGE 4096u /* x86-64: both the kernel and ld.so map segments at 4 KiB granularity */

typedef struct {
    uint64_t dev, ino;
    const char *path;              /* in g_paths; never reused, callers keep it */
    int state;                     /* 0 not loaded yet, 1 usable, -1 unreadable or not ELF64 */
    uint16_t type;                 /* ET_EXEC or ET_DYN */
    uint64_t first_load;           /* page of the first PT_LOAD's p_vaddr */
    const unsigned char *map;      /* the whole file, mapped for good */
    size_t size, shnum;
    const Elf64_Shdr *sh;
    const Elf64_Sym *sym[2];       /* [0] .symtab, [1] .dynsym */
    const char *str[2];
    size_t nsym[2], strsz[2];
} mg_file;

/* lo is the load base (the offset-0 mapping); [lo, first_hi) names that mapping in map_files. */
typedef struct { uint64_t lo, hi, first_hi; int file; } mg_module;

typedef struct { uint64_t start, end, off, dev, ino; int exec; const char *path; size_t pathlen; } mg_line;

/* Files are append-only so that a path or name handed out once stays valid; modules are rebuilt on
 * every scan because libraries come and go. */
static mg_file g_files[MG_MAX_FILES];
static mg_module g_mods[MG_MAX_MODULES];
static int g_nfiles, g_nmods;
static char g_paths[MG_PATH_POOL];
static size_t g_paths_used;
static char g_maps[16 * 1024];     /* longer than any line: the kernel prints paths from one page */
static struct { int active, exec; mg_module m; uint64_t dev, ino; char path[4096 + 64]; } g_pend;
static int g_busy;                 /* not a lock: a nested call (fault inside us) just gets -1 */

static const char *parse_num(const char *p, const char *e, unsigned base, uint64_t *v) {
    const char *s = p;
    for (*v = 0; p < e; p++) {
        unsigned c = (unsigned char)*p, d;
        if (c - '0' < 10) d = c - '0';
        else if (base == 16 && (c | 32) - 'a' < 6) d = (c | 32) - 'a' + 10;
        else break;
        *v = *v * base + d;
    }
    return p > s ? p : NULL;
}

/* "start-end perms offset major:minor inode   path"; the path is the rest of the line because it
 * may itself contain spaces. */
static int parse_line(const char *p, const char *e, mg_line *l) {
    uint64_t maj, min;
    if (!(p = parse_num(p, e, 16, &l->start)) || p == e || *p++ != '-' ||
        !(p = parse_num(p, e, 16, &l->end)) || e - p < 6 || p[0] != ' ' || p[5] != ' ')
        return -1;
    l->exec = p[3] == 'x';
    p += 6;
    if (!(p = parse_num(p, e, 16, &l->off)) || p == e || *p++ != ' ' ||
        !(p = parse_num(p, e, 16, &maj)) || p == e || *p++ != ':' ||
        !(p = parse_num(p, e, 16, &min)) || p == e || *p++ != ' ' ||
        !(p = parse_num(p, e, 10, &l->ino)))
        return -1;
    while (p < e && *p == ' ') p++;
    l->dev = makedev((unsigned)maj, (unsigned)min);
    l->path = p;
    l->pathlen = (size_t)(e - p);
    return 0;
}

static int intern_file(uint64_t dev, uint64_t ino, const char *path) {
    size_t len = strlen(path);
    for (int i = 0; i < g_nfiles; i++)
        if (g_files[i].dev == dev && g_files[i].ino == ino && strcmp(g_files[i].path, path) == 0)
            return i;
    if (g_nfiles == MG_MAX_FILES || len + 1 > MG_PATH_POOL - g_paths_used) return -1;
    char *copy = memcpy(g_paths + g_paths_used, path, len + 1);
    g_files[g_nfiles] = (mg_file){ .dev = dev, .ino = ino, .path = copy };
    g_paths_used += len + 1;
    return g_nfiles++;
}

/* Only runs with an executable mapping count as modules: this skips data files the program mapped
 * and our own read-only copies of ELF files, which also appear as offset-0 mappings. */
static void flush_pending(void) {
    if (g_pend.active && g_pend.exec && g_nmods < MG_MAX_MODULES) {
        int f = intern_file(g_pend.dev, g_pend.ino, g_pend.path);
        if (f >= 0) {
            g_pend.m.file = f;
            g_mods[g_nmods++] = g_pend.m;
        }
    }
    g_pend.active = 0;
}

static void take_line(const char *p, const char *e) {
    mg_line l;
    if (parse_line(p, e, &l) != 0 || l.pathlen == 0 || l.path[0] != '/') return;
    if (l.off == 0) {
        flush_pending();
        if (l.pathlen >= sizeof g_pend.path) return;
        memcpy(g_pend.path, l.path, l.pathlen);
        g_pend.path[l.pathlen] = '\0';
        g_pend.m = (mg_module){ .lo = l.start, .hi = l.end, .first_hi = l.end };
        g_pend.dev = l.dev;
        g_pend.ino = l.ino;
        g_pend.exec = l.exec;
        g_pend.active = 1;
    } else if (g_pend.active && l.dev == g_pend.dev && l.ino == g_pend.ino && l.start >= g_pend.m.hi) {
        /* Later segments (and PROT_NONE gaps) of the same file; anonymous .bss lines in between
         * are skipped above without ending the run. */
        g_pend.m.hi = l.end;
        g_pend.exec |= l.exec;
    }
}

static void scan_maps(void) {
    int fd = open("/proc/self/maps", O_RDONLY | O_CLOEXEC);
    if (fd < 0) return; /* keep what we knew rather than forget every module */
    size_t have = 0;
    int skipping = 0;
    g_nmods = 0;
    for (g_pend.active = 0;;) {
        ssize_t n = read(fd, g_maps + have, sizeof g_maps - have);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) break;
        have += (size_t)n;
        const char *p = g_maps, *end = g_maps + have, *nl;
        while ((nl = memchr(p, '\n', (size_t)(end - p))) != NULL) {
            if (!skipping) take_line(p, nl);
            skipping = 0;
            p = nl + 1;
        }
        have = (size_t)(end - p);
        if (have == sizeof g_maps) { skipping = 1; have = 0; } /* cannot happen; stay robust */
        else memmove(g_maps, p, have);
    }
    if (have && !skipping) take_line(g_maps, g_maps + have);
    flush_pending();
    close(fd);
}

static const mg_module *find_module(uintptr_t addr) {
    for (int i = 0; i < g_nmods; i++)
        if (addr >= g_mods[i].lo && addr < g_mods[i].hi) return &g_mods[i];
    return NULL;
}

/* True when [off, off+len) lies inside the file and off is suitably aligned for the struct read
 * there (the mapping itself is page-aligned). */
static int in_file(const mg_file *f, uint64_t off, uint64_t len, uint64_t align) {
    return off <= f->size && len <= f->size - off && off % align == 0;
}

static char *put_hex(char *p, uint64_t v) {
    char tmp[16];
    int n = 0;
    do tmp[n++] = "0123456789abcdef"[v & 15]; while (v >>= 4);
    while (n) *p++ = tmp[--n];
    return p;
}

/* Open the file that is really mapped. The path may since have been replaced (an upgrade) or
 * deleted; /proc/self/map_files reaches the mapped inode itself but needs privileges, so when it
 * fails we settle for the path (a dev/ino mismatch is also what overlayfs shows). */
static int open_mapped(const mg_file *f, const mg_module *m) {
    struct stat st;
    int fd = open(f->path, O_RDONLY | O_CLOEXEC);
    if (fd >= 0 && fstat(fd, &st) == 0 && st.st_dev == f->dev && st.st_ino == f->ino) return fd;
    char mf[64] = "/proc/self/map_files/", *p = mf + strlen(mf);
    p = put_hex(p, m->lo);
    *p++ = '-';
    *put_hex(p, m->first_hi) = '\0';
    int fd2 = open(mf, O_RDONLY | O_CLOEXEC);
    if (fd2 < 0) return fd;
    if (fd >= 0) close(fd);
    return fd2;
}

static void load_symtab(mg_file *f, int t, uint32_t type) {
    for (size_t i = 0; i < f->shnum; i++) {
        const Elf64_Shdr *s = &f->sh[i], *st;
        if (s->sh_type != type) continue;
        if (s->sh_entsize != sizeof(Elf64_Sym) || !in_file(f, s->sh_offset, s->sh_size, 8) ||
            s->sh_link >= f->shnum)
            return;
        st = &f->sh[s->sh_link];
        /* A strtab that ends in NUL makes every in-range st_name a terminated string. */
        if (st->sh_type != SHT_STRTAB || st->sh_size == 0 || !in_file(f, st->sh_offset, st->sh_size, 1) ||
            f->map[st->sh_offset + st->sh_size - 1] != '\0')
            return;
        f->sym[t] = (const Elf64_Sym *)(f->map + s->sh_offset);
        f->nsym[t] = s->sh_size / sizeof(Elf64_Sym);
        f->str[t] = (const char *)(f->map + st->sh_offset);
        f->strsz[t] = st->sh_size;
        return;
    }
}

static void load_file(mg_file *f, const mg_module *m) {
    struct stat st;
    void *map = MAP_FAILED;
    f->state = -1; /* one attempt only: a failing open must not be repeated on every frame */
    int fd = open_mapped(f, m);
    if (fd < 0) return;
    if (fstat(fd, &st) == 0 && st.st_size >= (off_t)sizeof(Elf64_Ehdr))
        map = mmap(NULL, (size_t)st.st_size, PROT_READ, MAP_PRIVATE, fd, 0);
    close(fd);
    if (map == MAP_FAILED) return;
    f->map = map;
    f->size = (size_t)st.st_size;
    const Elf64_Ehdr *eh = map;
    if (memcmp(eh->e_ident, ELFMAG, SELFMAG) != 0 || eh->e_ident[EI_CLASS] != ELFCLASS64 ||
        eh->e_ident[EI_DATA] != ELFDATA2LSB || eh->e_machine != EM_X86_64 ||
        (eh->e_type != ET_EXEC && eh->e_type != ET_DYN) || eh->e_phentsize != sizeof(Elf64_Phdr) ||
        !in_file(f, eh->e_phoff, (uint64_t)eh->e_phnum * sizeof(Elf64_Phdr), 8))
        goto reject;
    const Elf64_Phdr *ph = (const Elf64_Phdr *)(f->map + eh->e_phoff);
    size_t i = 0;
    while (i < eh->e_phnum && ph[i].p_type != PT_LOAD) i++;
    if (i == eh->e_phnum) goto reject;
    f->type = eh->e_type;
    f->first_load = ph[i].p_vaddr & ~(uint64_t)(MG_PAGE - 1);
    /* Without usable section headers the module is still reported, just without names. */
    if (eh->e_shoff && eh->e_shentsize == sizeof(Elf64_Shdr) &&
        in_file(f, eh->e_shoff, sizeof(Elf64_Shdr), 8)) {
        f->sh = (const Elf64_Shdr *)(f->map + eh->e_shoff);
        f->shnum = eh->e_shnum ? eh->e_shnum : f->sh[0].sh_size; /* >= SHN_LORESERVE sections */
        if (f->shnum > f->size / sizeof(Elf64_Shdr) ||
            !in_file(f, eh->e_shoff, (uint64_t)f->shnum * sizeof(Elf64_Shdr), 8))
            f->shnum = 0;
        load_symtab(f, 0, SHT_SYMTAB);
        load_symtab(f, 1, SHT_DYNSYM);
    }
    f->state = 1;
    return;
reject:
    munmap(map, f->size);
    f->map = NULL;
    f->size = 0;
}

/* Among aliases covering the address prefer the innermost, then an exported name, then the one
 * with fewest leading underscores: `write` reads better than `__libc_write`. */
static int better(const mg_file *f, int t, const Elf64_Sym *a, const Elf64_Sym *b) {
    if (a->st_value != b->st_value) return a->st_value > b->st_value;
    int la = ELF64_ST_BIND(a->st_info) == STB_LOCAL, lb = ELF64_ST_BIND(b->st_info) == STB_LOCAL;
    if (la != lb) return lb;
    const char *na = f->str[t] + a->st_name, *nb = f->str[t] + b->st_name;
    while (*na == '_' && *nb == '_') na++, nb++;
    return *na != '_' && *nb == '_';
}

static const Elf64_Sym *find_sym(const mg_file *f, int t, uint64_t v) {
    const Elf64_Sym *best = NULL, *prev = NULL;
    for (size_t i = 0; i < f->nsym[t]; i++) {
        const Elf64_Sym *s = &f->sym[t][i];
        int ty = ELF64_ST_TYPE(s->st_info);
        if ((ty != STT_FUNC && ty != STT_GNU_IFUNC) || s->st_shndx == SHN_UNDEF ||
            s->st_shndx >= SHN_LORESERVE || s->st_value > v || s->st_name == 0 || s->st_name >= f->strsz[t])
            continue;
        if (s->st_size && v - s->st_value < s->st_size) {
            if (!best || better(f, t, s, best)) best = s;
        } else if (!prev || s->st_value > prev->st_value || (s->st_value == prev->st_value && !s->st_size)) {
            prev = s;
        }
    }
    if (best) return best;
    /* Hand-written assembly often has size-0 symbols; trust one only when nothing sized lies
     * between it and the address and both sit in the same executable section. */
    if (!prev || prev->st_size || prev->st_shndx >= f->shnum) return NULL;
    const Elf64_Shdr *sec = &f->sh[prev->st_shndx];
    if (!(sec->sh_flags & SHF_EXECINSTR) || v < sec->sh_addr || v - sec->sh_addr >= sec->sh_size) return NULL;
    return prev;
}

/* A fork child: a lookup another thread was making at the fork is gone. */
void _mg_symbols_after_fork_child(void)
{
    __atomic_store_n(&g_busy, 0, __ATOMIC_RELEASE);
}

int _mg_symbolize(uintptr_t addr, mg_frame_info_t *out) {
    int rc = -1, saved_errno = errno; /* a signal handler must leave errno as it found it */
    *out = (mg_frame_info_t){ 0 };
    if (__atomic_exchange_n(&g_busy, 1, __ATOMIC_ACQUIRE)) return -1;
    const mg_module *m = find_module(addr);
    if (!m) {
        scan_maps();
        m = find_module(addr);
    }
    if (m) {
        mg_file *f = &g_files[m->file];
        if (f->state == 0) load_file(f, m);
        uint64_t bias = m->lo; /* unreadable file: assume the usual first PT_LOAD at vaddr 0 */
        if (f->state > 0) {
            bias = f->type == ET_DYN ? m->lo - f->first_load : 0;
            uint64_t v = addr - bias;
            int t = 0;
            const Elf64_Sym *s = find_sym(f, t, v);
            if (!s) s = find_sym(f, t = 1, v);
            if (s) {
                out->function = f->str[t] + s->st_name;
                out->function_offset = v - s->st_value;
            }
        }
        out->module = f->path;
        out->module_offset = addr - bias;
        rc = 0;
    }
    __atomic_store_n(&g_busy, 0, __ATOMIC_RELEASE);
    errno = saved_errno;
    return rc;
}

void _mg_symbols_prime(void) {
    int saved_errno = errno;
    if (!__atomic_exchange_n(&g_busy, 1, __ATOMIC_ACQUIRE)) {
        scan_maps();
        __atomic_store_n(&g_busy, 0, __ATOMIC_RELEASE);
    }
    errno = saved_errno;
}

#pragma GCC visibility pop
