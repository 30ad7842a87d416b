/*
 * The hand-written C references for examples/capped (registered by the cbench module in
 * hgetset.c). Each does exactly what the Rust command does, call for call:
 *
 *   CLPUSHCAP key cap element [element ...]   ListPush at the head, ListPop at the tail
 *                                             while longer than cap, "lpush" event,
 *                                             ReplicateVerbatim, reply the length.
 *   CZINCRCAP key cap increment member        ZsetIncrby, then while longer than cap: the
 *                                             lowest member by a score range, ZsetRem;
 *                                             "zincr" event, ReplicateVerbatim, reply the
 *                                             score or null if member was dropped.
 *   CXADDMAXLEN key maxlen field value [...]  StreamAdd (auto ID), exact TrimByLength,
 *                                             replicate XADD key MAXLEN n id fields, "xadd"
 *                                             event, reply the ID.
 */
#include "redismodule.h"

#include <stdio.h>
#include <string.h>

static int positive(RedisModuleCtx *ctx, RedisModuleString *arg, const char *what, long long *out) {
    if (RedisModule_StringToLongLong(arg, out) != REDISMODULE_OK) {
        RedisModule_ReplyWithError(ctx, "ERR value is not an integer or out of range");
        return 0;
    }
    if (*out <= 0) {
        char msg[64];
        snprintf(msg, sizeof msg, "ERR %s must be a positive integer", what);
        RedisModule_ReplyWithError(ctx, msg);
        return 0;
    }
    return 1;
}

static int CLPushCap(RedisModuleCtx *ctx, RedisModuleString **argv, int argc) {
    if (argc < 4) return RedisModule_WrongArity(ctx);
    long long cap;
    if (!positive(ctx, argv[2], "cap", &cap)) return REDISMODULE_OK;
    RedisModuleKey *key = RedisModule_OpenKey(ctx, argv[1], REDISMODULE_READ | REDISMODULE_WRITE);
    int type = RedisModule_KeyType(key);
    if (type != REDISMODULE_KEYTYPE_EMPTY && type != REDISMODULE_KEYTYPE_LIST) {
        RedisModule_CloseKey(key);
        return RedisModule_ReplyWithError(ctx, REDISMODULE_ERRORMSG_WRONGTYPE);
    }
    for (int i = 3; i < argc; i++) RedisModule_ListPush(key, REDISMODULE_LIST_HEAD, argv[i]);
    while ((long long)RedisModule_ValueLength(key) > cap) {
        RedisModuleString *s = RedisModule_ListPop(key, REDISMODULE_LIST_TAIL);
        if (s) RedisModule_FreeString(ctx, s);
    }
    size_t len = RedisModule_ValueLength(key);
    RedisModule_CloseKey(key);
    RedisModule_NotifyKeyspaceEvent(ctx, REDISMODULE_NOTIFY_LIST, "lpush", argv[1]);
    RedisModule_ReplicateVerbatim(ctx);
    return RedisModule_ReplyWithLongLong(ctx, (long long)len);
}

static int CZIncrCap(RedisModuleCtx *ctx, RedisModuleString **argv, int argc) {
    if (argc != 5) return RedisModule_WrongArity(ctx);
    long long cap;
    if (!positive(ctx, argv[2], "cap", &cap)) return REDISMODULE_OK;
    double by;
    if (RedisModule_StringToDouble(argv[3], &by) != REDISMODULE_OK)
        return RedisModule_ReplyWithError(ctx, "ERR value is not a valid float");
    RedisModuleKey *key = RedisModule_OpenKey(ctx, argv[1], REDISMODULE_READ | REDISMODULE_WRITE);
    int type = RedisModule_KeyType(key);
    if (type != REDISMODULE_KEYTYPE_EMPTY && type != REDISMODULE_KEYTYPE_ZSET) {
        RedisModule_CloseKey(key);
        return RedisModule_ReplyWithError(ctx, REDISMODULE_ERRORMSG_WRONGTYPE);
    }
    int flags = 0;
    double score;
    if (RedisModule_ZsetIncrby(key, by, argv[4], &flags, &score) != REDISMODULE_OK) {
        RedisModule_CloseKey(key);
        return RedisModule_ReplyWithError(ctx, "ERR ZINCRBY refused: the result is not a number");
    }
    size_t mlen;
    const char *member = RedisModule_StringPtrLen(argv[4], &mlen);
    int dropped_self = 0;
    while ((long long)RedisModule_ValueLength(key) > cap) {
        if (RedisModule_ZsetFirstInScoreRange(key, REDISMODULE_NEGATIVE_INFINITE,
                                              REDISMODULE_POSITIVE_INFINITE, 0, 0) != REDISMODULE_OK)
            break;
        double s;
        RedisModuleString *lowest = RedisModule_ZsetRangeCurrentElement(key, &s);
        RedisModule_ZsetRangeStop(key);
        if (!lowest) break;
        size_t llen;
        const char *l = RedisModule_StringPtrLen(lowest, &llen);
        if (llen == mlen && memcmp(l, member, mlen) == 0) dropped_self = 1;
        RedisModule_ZsetRem(key, lowest, NULL);
        RedisModule_FreeString(ctx, lowest);
    }
    RedisModule_CloseKey(key);
    RedisModule_NotifyKeyspaceEvent(ctx, REDISMODULE_NOTIFY_ZSET, "zincr", argv[1]);
    RedisModule_ReplicateVerbatim(ctx);
    if (dropped_self) return RedisModule_ReplyWithNull(ctx);
    return RedisModule_ReplyWithDouble(ctx, score);
}

static int CXAddMaxLen(RedisModuleCtx *ctx, RedisModuleString **argv, int argc) {
    if (argc < 5 || (argc - 3) % 2 != 0) return RedisModule_WrongArity(ctx);
    long long maxlen;
    if (RedisModule_StringToLongLong(argv[2], &maxlen) != REDISMODULE_OK)
        return RedisModule_ReplyWithError(ctx, "ERR value is not an integer or out of range");
    if (maxlen < 0) return RedisModule_ReplyWithError(ctx, "ERR maxlen must not be negative");
    RedisModuleKey *key = RedisModule_OpenKey(ctx, argv[1], REDISMODULE_READ | REDISMODULE_WRITE);
    int type = RedisModule_KeyType(key);
    if (type != REDISMODULE_KEYTYPE_EMPTY && type != REDISMODULE_KEYTYPE_STREAM) {
        RedisModule_CloseKey(key);
        return RedisModule_ReplyWithError(ctx, REDISMODULE_ERRORMSG_WRONGTYPE);
    }
    RedisModuleStreamID id;
    if (RedisModule_StreamAdd(key, REDISMODULE_STREAM_ADD_AUTOID, &id, &argv[3], (argc - 3) / 2) !=
        REDISMODULE_OK) {
        RedisModule_CloseKey(key);
        return RedisModule_ReplyWithError(ctx, "ERR could not add the entry");
    }
    RedisModule_StreamTrimByLength(key, 0, maxlen);
    RedisModule_CloseKey(key);
    RedisModuleString *ids = RedisModule_CreateStringFromStreamID(ctx, &id);
    RedisModule_Replicate(ctx, "XADD", "sclsv", argv[1], "MAXLEN", maxlen, ids, &argv[3],
                          (size_t)(argc - 3));
    RedisModule_NotifyKeyspaceEvent(ctx, REDISMODULE_NOTIFY_STREAM, "xadd", argv[1]);
    RedisModule_ReplyWithString(ctx, ids);
    RedisModule_FreeString(ctx, ids);
    return REDISMODULE_OK;
}

int CappedC_Register(RedisModuleCtx *ctx) {
    if (RedisModule_CreateCommand(ctx, "clpushcap", CLPushCap, "write deny-oom fast", 1, 1, 1) ==
            REDISMODULE_ERR ||
        RedisModule_CreateCommand(ctx, "czincrcap", CZIncrCap, "write deny-oom fast", 1, 1, 1) ==
            REDISMODULE_ERR ||
        RedisModule_CreateCommand(ctx, "cxaddmaxlen", CXAddMaxLen, "write deny-oom fast", 1, 1, 1) ==
            REDISMODULE_ERR)
        return REDISMODULE_ERR;
    return REDISMODULE_OK;
}
