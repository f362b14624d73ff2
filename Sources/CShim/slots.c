/*
 * slots.c — one guarded slot per object.
 *
 * The arena is carved, from a bump pointer, into slots of whole pages, each followed by its own
 * guard page; page 0 is a guard too. So every object has a guard on both sides:
 *
 *     | guard | data … data | guard | data … data | guard | …
 *               slot 1                slot 2
 *
 * By default the object ends as close to the next guard as the alignment allows (an overflow
 * traps at once) and the slack before it, inside its first page, holds a canary checked at free.
 * With protect_below=1 the object starts right after the previous guard instead, and the canary
 * sits after it. Either way small overruns on the unguarded side are found at free.
 *
 * A slot keeps its geometry for life, so a page → slot map written once at creation can be read
 * without a lock by the signal handler. Freeing a slot guards its data pages too (so a use after
 * free traps), punches its pages out of the file (so RSS follows live memory; in batches, see
 * punch_batch) and then puts it at the tail of a FIFO quarantine of `quarantine_mb`; slots
 * leaving the quarantine join a free list for their page count and are reused, unguarded and
 * zero, by a later allocation of that count.
 *
 * Metadata changes under one mutex; the syscalls (madvise, fallocate, mprotect) happen outside
 * it, after the slot's state has been claimed, so no thread waits on another's syscall.
 */
#include <errno.h>
#include <pthread.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "mg_internal.h"

#pragma GCC visibility push(hidden)

#define SMALL_CLASSES 64   /* exact free lists for 1..64 pages; larger slots share list 0 */
#define PUNCH_BATCH 64          /* freed slots waiting to be punched, at most */
#define PUNCH_BATCH_PAGES 256   /* a batch is punched once its pages reach this */

static struct mg_slot *slots;    /* indexed by id; id 0 is never used */
static uint32_t *page_map;       /* arena page -> id of the slot owning it (data or guard) */
static size_t max_slots, max_pages;
static uint32_t slot_count = 1;  /* next id */
static uint64_t bump_page = 1;   /* next unassigned page; page 0 is the leading guard */
static uint32_t free_head[SMALL_CLASSES + 1];
static uint32_t q_head, q_tail;
static size_t q_bytes, live_count, peak_live, allocations;
static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;

static void canary_init(void);
static size_t take_pending(uint32_t *batch);
static void punch_batch(uint32_t *ids, size_t n);

int _mg_slots_init(void)
{
    max_pages = _mg_arena.reserve >> _mg_arena.page_shift;
    if (max_pages > UINT32_MAX) max_pages = UINT32_MAX;
    max_slots = max_pages / 2;
    slots = mmap(NULL, max_slots * sizeof *slots, PROT_READ | PROT_WRITE,
                 MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    page_map = mmap(NULL, max_pages * sizeof *page_map, PROT_READ | PROT_WRITE,
                    MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    if (slots == MAP_FAILED || page_map == MAP_FAILED) return ENOMEM;
    canary_init();
    _mg_leaks_exclude(slots, max_slots * sizeof *slots);
    _mg_leaks_exclude(page_map, max_pages * sizeof *page_map);
    return 0;
}

/* The canary byte at arena offset o depends on o's place in its page, so a region of slack
 * (always within one page) is filled with one memcpy from `pattern` and checked with one
 * memcmp: fast enough for every malloc and free. */
static uint8_t pattern[1 << 16];

static void canary_init(void)
{
    for (size_t o = 0; o < _mg_arena.page && o < sizeof pattern; o++) pattern[o] = (uint8_t)(0xA5 ^ (o * 0x3B));
}

static void canary_fill(uint64_t from, uint64_t to)
{
    if (to > from) memcpy((uint8_t *)_mg_arena.rw + from, pattern + (from & (_mg_arena.page - 1)), to - from);
}

/* The first corrupted canary byte in [from, to), searching from the end nearest the object
 * (`from_end` = 1 when the object lies after the range), or -1. */
static int64_t canary_check(uint64_t from, uint64_t to, int from_end)
{
    const uint8_t *p = (const uint8_t *)_mg_arena.rw;
    const uint8_t *want = pattern + (from & (_mg_arena.page - 1)) - from;
    if (to <= from || memcmp(p + from, want + from, to - from) == 0) return -1;
    if (from_end) {
        for (uint64_t o = to; o > from; o--)
            if (p[o - 1] != want[o - 1]) return (int64_t)(o - 1);
    } else {
        for (uint64_t o = from; o < to; o++)
            if (p[o] != want[o]) return (int64_t)o;
    }
    return -1;
}

static inline uint64_t page_off(uint64_t page) { return page << _mg_arena.page_shift; }

/* The canary covers the slack on both sides of the object, but only within the pages the object
 * itself touches: whole pages of alignment padding stay untouched (no RSS) and unused. */
static void canary_bounds(const struct mg_slot *s, uint64_t *lo, uint64_t *hi)
{
    uint64_t mask = _mg_arena.page - 1;
    uint64_t data = page_off(s->first_page), end = page_off(s->first_page + s->npages);
    uint64_t first = s->user & ~mask, last = (s->user + s->size + mask) & ~mask;
    *lo = first > data ? first : data;
    *hi = last < end ? last : end;
    if (*hi < s->user + s->size) *hi = s->user + s->size; /* a zero-size object at the guard */
}

/* Pops a recycled slot of exactly `npages`, or 0. Called with the lock held. */
static uint32_t pop_free(uint32_t npages)
{
    uint32_t cls = npages <= SMALL_CLASSES ? npages : 0;
    uint32_t *link = &free_head[cls];
    for (int scanned = 0; *link && scanned < 64; scanned++) {
        struct mg_slot *s = &slots[*link];
        if (s->npages == npages) {
            uint32_t id = *link;
            *link = s->next;
            return id;
        }
        link = &s->next;
    }
    return 0;
}

/* Can a new slot of `npages` be carved from the bump pointer (the file grown to hold it)? Called
 * with the lock held. */
static int bump_fits(size_t npages)
{
    return slot_count < max_slots && bump_page + npages + 1 <= max_pages &&
           _mg_arena_grow(page_off(bump_page + npages + 1)) == 0;
}

int _mg_slot_alloc(size_t size, size_t align, enum mg_family family, enum mg_view view,
                   uint32_t stack, uint64_t *off_out)
{
    const size_t page = _mg_arena.page;
    if (align < 1) align = 1;
    if (size > _mg_arena.reserve / 4 || align > _mg_arena.reserve / 4) return ENOMEM;
    int below = _mg_opt.protect_below;
    /* Pages enough for the object at its place: against the guard after it (rounded to the
     * alignment), or right after the guard before it; alignments above a page need room to
     * slide the object to an aligned address. */
    size_t small_align = align < page ? align : page;
    size_t need = (below ? size : (size + small_align - 1) & ~(small_align - 1)) + (align > page ? align - page : 0);
    size_t npages = (need + page - 1) / page;
    if (npages == 0) npages = 1;

    pthread_mutex_lock(&lock);
    uint32_t id = pop_free((uint32_t)npages);
    int fresh = 0;
    /* Full: freed slots still waiting to be punched may be the room wanted (a few tries, as
     * other threads may take what one batch frees). */
    for (int tries = 0; !id && !bump_fits(npages); tries++) {
        uint32_t batch[PUNCH_BATCH];
        size_t n = tries < 3 ? take_pending(batch) : 0;
        pthread_mutex_unlock(&lock);
        if (!n) return ENOMEM;
        punch_batch(batch, n);
        pthread_mutex_lock(&lock);
        id = pop_free((uint32_t)npages);
    }
    if (!id) {
        id = slot_count++;
        struct mg_slot *s = &slots[id];
        s->first_page = (uint32_t)bump_page;
        s->npages = (uint32_t)npages;
        for (uint64_t p = bump_page; p <= bump_page + npages; p++) page_map[p] = id;
        bump_page += npages + 1;
        fresh = 1;
    }
    struct mg_slot *s = &slots[id];
    uint64_t data = page_off(s->first_page), end = page_off(s->first_page + s->npages);
    s->user = below ? ((data + align - 1) & ~(uint64_t)(align - 1)) : ((end - size) & ~(uint64_t)(align - 1));
    s->size = size;
    s->alloc_stack = stack;
    s->free_stack = 0;
    s->alloc_tid = _mg_gettid();
    s->free_tid = 0;
    s->family = (uint8_t)family;
    s->view = (uint8_t)view;
    s->gen++;
    /* LIVE is published only once the pages are accessible (below): until then a use of the old
     * object still finds it freed. The slot is off the free list, so nobody else touches it. */
    if (++live_count > peak_live) peak_live = live_count;
    allocations++;
    pthread_mutex_unlock(&lock);

    /* The trailing guard of a new slot; the data pages of a recycled one come back (zero, since
     * they were punched before joining the quarantine). */
    int err = fresh ? _mg_arena_guard(end, page, 1) : _mg_arena_guard(data, end - data, 0);
    if (err) {
        /* Out of VMAs (mprotect mode). A recycled slot goes back, still guarded; a new one whose
         * trailing guard may be missing is never handed out. */
        pthread_mutex_lock(&lock);
        s->state = MG_SLOT_FREE;
        live_count--;
        if (fresh) {
            s->opened = 1;
        } else {
            uint32_t cls = s->npages <= SMALL_CLASSES ? s->npages : 0;
            s->next = free_head[cls];
            free_head[cls] = id;
        }
        pthread_mutex_unlock(&lock);
        return ENOMEM;
    }
    __atomic_store_n(&s->state, (uint8_t)MG_SLOT_LIVE, __ATOMIC_RELEASE);
    uint64_t lo, hi;
    canary_bounds(s, &lo, &hi);
    canary_fill(lo, s->user);
    canary_fill(s->user + size, hi);
    *off_out = s->user;
    return 0;
}

const struct mg_slot *_mg_slot_for(uint64_t off, uint32_t *id)
{
    uint64_t page = off >> _mg_arena.page_shift;
    if (!page_map || page >= max_pages) return NULL;
    uint32_t i = page_map[page];
    if (id) *id = i;
    return i ? &slots[i] : NULL;
}

const struct mg_slot *_mg_slot_get(uint32_t id)
{
    return (slots && id && id < slot_count) ? &slots[id] : NULL;
}

void _mg_slot_mark_opened(uint32_t id)
{
    if (slots && id && id < slot_count) __atomic_store_n(&slots[id].opened, (uint8_t)1, __ATOMIC_RELAXED);
}

uint32_t _mg_slots_count(void)
{
    return slot_count;
}

size_t _mg_slots_live(void)
{
    return live_count;
}

void _mg_slots_stats(size_t *allocs, size_t *peak)
{
    pthread_mutex_lock(&lock);
    *allocs = allocations;
    *peak = peak_live;
    pthread_mutex_unlock(&lock);
}

/* An overrun found in a canary at free, reported with the object's stacks. */
static void report_canary(const struct mg_slot *s, int64_t bad, uint32_t stack)
{
    int n;
    const uintptr_t *frames = _mg_stack_get(stack, &n);
    int after = (uint64_t)bad >= s->user + s->size;
    uintptr_t addr = _mg_addr((uint64_t)bad, (enum mg_view)s->view);
    struct mg_report r = {
        .kind = after ? MG_KIND_HEAP_BUFFER_OVERFLOW : MG_KIND_HEAP_BUFFER_UNDERFLOW,
        .addr = addr,
        .pc = n ? frames[0] : 0,
        .access = "WRITE",
        .tid = _mg_gettid(),
        .frames = frames,
        .nframes = n,
        .note = "found at free: the canary next to the object was overwritten; the stack above is the free",
    };
    _mg_report_region(&r, s, (enum mg_view)s->view);
    _mg_report(&r);
}

/* Does a deallocation of `by` fit an object allocated by `family`? malloc and mg_alloc objects
 * are interchangeable; new pairs only with delete and new[] with delete[]. */
static int family_matches(unsigned family, unsigned by)
{
    if (!_mg_opt.alloc_dealloc_mismatch || by == MG_FAMILY_ANY) return 1;
    int a = family >= MG_FAMILY_NEW ? (int)family : MG_FAMILY_MALLOC;
    int b = by >= MG_FAMILY_NEW ? (int)by : MG_FAMILY_MALLOC;
    return a == b;
}

enum mg_free_status _mg_slot_free(uint64_t off, enum mg_family family, uint32_t stack, uint32_t *slot_id)
{
    uint32_t id = 0;
    _mg_slot_for(off, &id);
    *slot_id = id;
    if (!id) return MG_FREE_INVALID;

    pthread_mutex_lock(&lock);
    struct mg_slot *s = &slots[id];
    if (s->user != off) {
        pthread_mutex_unlock(&lock);
        return MG_FREE_INVALID;
    }
    if (s->state != MG_SLOT_LIVE) {
        pthread_mutex_unlock(&lock);
        return MG_FREE_DOUBLE;
    }
    if (!family_matches(s->family, family)) {
        pthread_mutex_unlock(&lock);
        return MG_FREE_MISMATCH;
    }
    s->state = MG_SLOT_QUARANTINED; /* claimed: a racing free of the same pointer sees a double free */
    s->free_stack = stack;
    s->free_tid = _mg_gettid();
    live_count--;
    pthread_mutex_unlock(&lock);

    uint64_t lo, hi;
    canary_bounds(s, &lo, &hi);
    int64_t bad = canary_check(s->user + s->size, hi, 0);
    if (bad < 0) bad = canary_check(lo, s->user, 1);
    if (bad >= 0) {
        report_canary(s, bad, stack);
        if (_mg_opt.on_error == MG_ON_ERROR_ABORT) _mg_report_abort();
    }
    /* A lazily forked child may not change the file it still shares: the rest waits (fork.c). */
    if (MG_UNLIKELY(_mg_fork_child_pending) && _mg_fork_defer_free(id)) return MG_FREE_OK;
    _mg_slot_retire(id);
    return MG_FREE_OK;
}

/* Freed slots are guarded at once but punched in batches: fallocate's cost is mostly per call
 * (Benchmarks/floor.c measures one slot alone against runs of 64 neighbours), and programs often
 * free what they allocated together. A slot joins the quarantine only once punched, so it is
 * never handed out while its old pages may still be punched under the new object. Up to 63
 * slots and 255 pages wait between batches, and they wait for the next free: that much freed
 * memory can stay resident. */
static uint32_t punch_pending[PUNCH_BATCH];
static size_t npunch_pending, punch_pending_pages;

static void enqueue(uint32_t id)
{
    struct mg_slot *s = &slots[id];
    s->next = 0;
    if (q_tail) slots[q_tail].next = id;
    else q_head = id;
    q_tail = id;
    q_bytes += page_off(s->npages);
}

/* Takes the waiting slots out as a batch, marked as being punched. Called with the lock held. */
static size_t take_pending(uint32_t *batch)
{
    size_t n = npunch_pending;
    for (size_t i = 0; i < n; i++) {
        batch[i] = punch_pending[i];
        slots[batch[i]].punching = 1;
    }
    npunch_pending = punch_pending_pages = 0;
    return n;
}

static int opened(uint32_t id) { return __atomic_load_n(&slots[id].opened, __ATOMIC_RELAXED); }

/* The batch this thread is punching: a fork made from a signal handler that interrupted it must
 * not requeue it in the child, where the handler's return finishes the batch itself. */
static MG_TLS const uint32_t *my_batch;
static MG_TLS size_t my_batch_n;

/* Punches the batch's slots, neighbours merged into one range each (between two neighbours lies
 * the first one's guard page: a hole, or opened by continue mode and then its own to lose), then
 * queues them. A slot continue mode opened keeps its pages: the program may be using them, and
 * the slot is never reused. (A page opened between the check and the punch is punched: the
 * stale writes made just before are lost, which only a use after free that continued sees.) A
 * slot whose pages could not be zeroed is never reused either. Called without the lock, on a
 * batch no one else can see. */
static void punch_batch(uint32_t *ids, size_t n)
{
    my_batch = ids;
    my_batch_n = n;
    for (size_t i = 1; i < n; i++) /* by address: insertion sort, n <= PUNCH_BATCH */
        for (size_t j = i; j > 0 && slots[ids[j - 1]].first_page > slots[ids[j]].first_page; j--) {
            uint32_t t = ids[j]; ids[j] = ids[j - 1]; ids[j - 1] = t;
        }
    for (size_t i = 0; i < n;) {
        const struct mg_slot *a = &slots[ids[i]];
        size_t j = i + 1;
        if (opened(ids[i])) { i = j; continue; }
        uint64_t from = page_off(a->first_page), to = page_off(a->first_page + a->npages);
        for (; j < n && !opened(ids[j]) && page_off(slots[ids[j]].first_page) == to + _mg_arena.page; j++)
            to = page_off(slots[ids[j]].first_page + slots[ids[j]].npages);
        if (_mg_arena_release(from, to - from) != 0)
            for (size_t k = i; k < j; k++) __atomic_store_n(&slots[ids[k]].opened, (uint8_t)1, __ATOMIC_RELAXED);
        i = j;
    }
    pthread_mutex_lock(&lock);
    for (size_t i = 0; i < n; i++) {
        slots[ids[i]].punching = 0;
        enqueue(ids[i]);
    }
    my_batch_n = 0;
    size_t limit = (size_t)_mg_opt.quarantine_mb << 20;
    while (q_head && q_bytes > limit) {
        uint32_t old = q_head;
        struct mg_slot *o = &slots[old];
        q_head = o->next;
        if (!q_head) q_tail = 0;
        q_bytes -= page_off(o->npages);
        o->state = MG_SLOT_FREE;
        if (o->opened) continue; /* continue mode opened a page of it, or it could not be zeroed: never hand it out again */
        uint32_t cls = o->npages <= SMALL_CLASSES ? o->npages : 0;
        o->next = free_head[cls];
        free_head[cls] = old;
    }
    pthread_mutex_unlock(&lock);
}

void _mg_slot_retire(uint32_t id)
{
    struct mg_slot *s = &slots[id];
    uint64_t data = page_off(s->first_page), end = page_off(s->first_page + s->npages);
    if (atomic_load(&_mg_snapshots_active)) _mg_snapshot_preserve(data, end - data);
    (void)_mg_arena_guard(data, end - data, 1);

    uint32_t batch[PUNCH_BATCH];
    size_t n = 0;
    pthread_mutex_lock(&lock);
    if (s->npages > PUNCH_BATCH_PAGES / 4) { /* a large object's pages go back at once */
        s->punching = 1;
        batch[n++] = id;
    } else {
        punch_pending[npunch_pending++] = id;
        punch_pending_pages += s->npages;
        if (npunch_pending == PUNCH_BATCH || punch_pending_pages >= PUNCH_BATCH_PAGES) n = take_pending(batch);
    }
    pthread_mutex_unlock(&lock);
    if (n) punch_batch(batch, n);
}

void _mg_slots_requeue_after_fork(void)
{
    for (uint32_t id = 1; id < slot_count; id++) {
        if (!slots[id].punching) continue;
        int mine = 0;
        for (size_t k = 0; k < my_batch_n && !mine; k++) mine = my_batch[k] == id;
        if (mine) continue;
        slots[id].punching = 0;
        enqueue(id);
    }
}

#pragma GCC visibility pop

/* ---- fork (used by fork.c) ---------------------------------------------------------------- */

#pragma GCC visibility push(hidden)

void _mg_slots_lock(void) { pthread_mutex_lock(&lock); }
uint64_t _mg_slots_bump_offset(void) { return page_off(bump_page); }
void _mg_slots_unlock(void) { pthread_mutex_unlock(&lock); }

/* Copies every live object's data pages into fd (a fork's new file). A small object's pages are
 * written straight from the writable view, one pwrite each; a larger one's are copied extent by
 * extent, so pages it never touched stay holes. Reads never wait on write-protection. 0 or -1. */
int _mg_slots_copy_live(int fd)
{
    for (uint32_t id = 1; id < slot_count; id++) {
        const struct mg_slot *s = &slots[id];
        if (s->state != MG_SLOT_LIVE) continue;
        uint64_t from = page_off(s->first_page), len = page_off(s->npages);
        if (s->npages <= 2) {
            if (pwrite(fd, (const void *)(_mg_arena.rw + from), len, (off_t)from) != (ssize_t)len) return -1;
        } else if (_mg_arena_copy_range(fd, from, from + len) != 0) {
            return -1;
        }
    }
    return 0;
}

/* After the views were mapped afresh (a fork), guards go back on: page 0, every slot's trailing
 * guard, and the data pages of every slot not live, ranges next to each other merged. Live
 * pages never lose access, so other threads reading them meanwhile (a parent moving to its own
 * copy while its threads run) never fault. */
int _mg_slots_reguard(void)
{
    uint64_t off[256];
    size_t len[256], n = 0;
    int err = 0;
    uint64_t run = 0, run_end = page_off(1); /* page 0 starts the first run */
    for (uint32_t id = 1; !err && id < slot_count; id++) {
        const struct mg_slot *s = &slots[id];
        uint64_t data = page_off(s->first_page), guard = page_off(s->first_page + s->npages);
        uint64_t from = s->state == MG_SLOT_LIVE ? guard : data;
        if (from != run_end) {
            off[n] = run;
            len[n++] = run_end - run;
            if (n == 256) { err = _mg_arena_guard_many(off, len, n); n = 0; }
            run = from;
        }
        run_end = guard + _mg_arena.page;
    }
    if (!err) { off[n] = run; len[n++] = run_end - run; err = _mg_arena_guard_many(off, len, n); }
    return err;
}

#pragma GCC visibility pop
