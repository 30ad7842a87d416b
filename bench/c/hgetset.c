/*
 * The hand-written C reference for the rmkit benchmarks (module name "cbench").
 *
 *   CHGETSET key field value   exactly what hashex's HGETSET does: open the key READ|WRITE,
 *                              WRONGTYPE unless empty or a hash, HashGet the old value, HashSet
 *                              the new one, the "hset" keyspace event, ReplicateVerbatim, reply
 *                              the old value or null. No AutoMemory: the old string is freed.
 *   CBENCH.MIXED n             bench/loops/src/lib.rs `mixed` with raw RedisModule_Alloc/Free.
 *   CBENCH.GROW rounds         bench/loops/src/lib.rs `grow` with raw RedisModule_Alloc/Realloc.
 *   CLPUSHCAP, CZINCRCAP,      examples/capped's commands (bench/c/capped.c).
 *   CXADDMAXLEN
 *
 * Both loops reply with the nanoseconds they took (CLOCK_MONOTONIC, like Rust's Instant).
 * Built by bench/run.sh: cc -O2 -fPIC -shared against the redismodule.h the redis-module crate
 * ships.
 */
#include "redismodule.h"

#include <stdint.h>
#include <string.h>
#include <time.h>

static int CHGetSet_RedisCommand(RedisModuleCtx *ctx, RedisModuleString **argv, int argc) {
    if (argc != 4) return RedisModule_WrongArity(ctx);
    RedisModuleKey *key = RedisModule_OpenKey(ctx, argv[1], REDISMODULE_READ | REDISMODULE_WRITE);
    int type = RedisModule_KeyType(key);
    if (type != REDISMODULE_KEYTYPE_EMPTY && type != REDISMODULE_KEYTYPE_HASH) {
        RedisModule_CloseKey(key);
        return RedisModule_ReplyWithError(ctx, REDISMODULE_ERRORMSG_WRONGTYPE);
    }
    RedisModuleString *old = NULL;
    RedisModule_HashGet(key, REDISMODULE_HASH_NONE, argv[2], &old, NULL);
    RedisModule_HashSet(key, REDISMODULE_HASH_NONE, argv[2], argv[3], NULL);
    RedisModule_NotifyKeyspaceEvent(ctx, REDISMODULE_NOTIFY_HASH, "hset", argv[1]);
    RedisModule_ReplicateVerbatim(ctx);
    RedisModule_CloseKey(key);
    if (old) {
        RedisModule_ReplyWithString(ctx, old);
        RedisModule_FreeString(ctx, old);
    } else {
        RedisModule_ReplyWithNull(ctx);
    }
    return REDISMODULE_OK;
}

/* ---- allocator loops: keep in step with bench/loops/src/lib.rs ---- */

#define RING 1024
#define VECS 16
#define LEN 4096

static uint64_t now_ns(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static inline size_t next_size(uint64_t *x) {
    *x = *x * 6364136223846793005ULL + 1442695040888963407ULL;
    return 16 + ((size_t)(*x >> 33) & 4080);
}

/* Keeps the compiler from dropping stores to memory it can prove is never read. */
static inline void escape(void *p) { __asm__ volatile("" : : "g"(p) : "memory"); }

static int parse_count(RedisModuleCtx *ctx, RedisModuleString **argv, int argc, long long *n) {
    if (argc != 2) {
        RedisModule_WrongArity(ctx);
        return 0;
    }
    if (RedisModule_StringToLongLong(argv[1], n) != REDISMODULE_OK || *n < 0) {
        RedisModule_ReplyWithError(ctx, "ERR value is not an integer or out of range");
        return 0;
    }
    return 1;
}

static int CMixed_RedisCommand(RedisModuleCtx *ctx, RedisModuleString **argv, int argc) {
    long long n;
    if (!parse_count(ctx, argv, argc, &n)) return REDISMODULE_OK;
    unsigned char **ring = RedisModule_Calloc(RING, sizeof(*ring));
    uint64_t x = 0x2545F4914F6CDD1DULL;
    uint64_t start = now_ns();
    for (uint64_t i = 0; i < (uint64_t)n; i++) {
        unsigned char *block = RedisModule_Alloc(next_size(&x));
        block[0] = (unsigned char)i;
        escape(block);
        size_t slot = i & (RING - 1);
        if (ring[slot]) RedisModule_Free(ring[slot]);
        ring[slot] = block;
    }
    for (size_t s = 0; s < RING; s++) {
        if (ring[s]) RedisModule_Free(ring[s]);
        ring[s] = NULL;
    }
    uint64_t ns = now_ns() - start;
    RedisModule_Free(ring);
    return RedisModule_ReplyWithLongLong(ctx, (long long)ns);
}

typedef struct {
    uint64_t *ptr;
    size_t len, cap;
} vec;

/* Rust's Vec<u64> growth: capacity 4 first, then doubling. */
static inline void vec_push(vec *v, uint64_t value) {
    if (v->len == v->cap) {
        size_t cap = v->cap ? v->cap * 2 : 4;
        v->ptr = v->ptr ? RedisModule_Realloc(v->ptr, cap * sizeof(uint64_t))
                        : RedisModule_Alloc(cap * sizeof(uint64_t));
        v->cap = cap;
    }
    v->ptr[v->len++] = value;
}

static int CGrow_RedisCommand(RedisModuleCtx *ctx, RedisModuleString **argv, int argc) {
    long long rounds;
    if (!parse_count(ctx, argv, argc, &rounds)) return REDISMODULE_OK;
    uint64_t start = now_ns();
    for (long long r = 0; r < rounds; r++) {
        vec vecs[VECS];
        memset(vecs, 0, sizeof(vecs));
        for (uint64_t j = 0; j < LEN; j++)
            for (int k = 0; k < VECS; k++) vec_push(&vecs[k], j);
        escape(vecs);
        for (int k = 0; k < VECS; k++) RedisModule_Free(vecs[k].ptr);
    }
    uint64_t ns = now_ns() - start;
    return RedisModule_ReplyWithLongLong(ctx, (long long)ns);
}

int CappedC_Register(RedisModuleCtx *ctx); /* capped.c */

int RedisModule_OnLoad(RedisModuleCtx *ctx, RedisModuleString **argv, int argc) {
    REDISMODULE_NOT_USED(argv);
    REDISMODULE_NOT_USED(argc);
    if (RedisModule_Init(ctx, "cbench", 1, REDISMODULE_APIVER_1) == REDISMODULE_ERR)
        return REDISMODULE_ERR;
    if (RedisModule_CreateCommand(ctx, "chgetset", CHGetSet_RedisCommand, "write fast deny-oom", 1, 1, 1) ==
        REDISMODULE_ERR)
        return REDISMODULE_ERR;
    if (RedisModule_CreateCommand(ctx, "cbench.mixed", CMixed_RedisCommand, "readonly", 0, 0, 0) == REDISMODULE_ERR)
        return REDISMODULE_ERR;
    if (RedisModule_CreateCommand(ctx, "cbench.grow", CGrow_RedisCommand, "readonly", 0, 0, 0) == REDISMODULE_ERR)
        return REDISMODULE_ERR;
    if (CappedC_Register(ctx) == REDISMODULE_ERR) return REDISMODULE_ERR;
    return REDISMODULE_OK;
}
