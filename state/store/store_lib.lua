#!lua name=loyaltyd_4
-- loyaltyd server-side functions.  Every function touches the keys of one
-- customer only (one hash tag), so the library runs unchanged on Redis Cluster.
-- The library and its functions carry the version of their arguments' layout,
-- so daemons of two versions can share one Redis during an upgrade.

-- KEYS: summary hash, packed state, aux string and outbox (both of layout 2).
-- Returns the packed state; for a customer still in layout 2, {hash as a flat
-- name/value list, aux string, outbox as a flat id/value list}; nil for none.
local function load(keys)
    local st = redis.call('GET', keys[2])
    if st then
        return st
    end
    if redis.call('EXISTS', keys[1]) == 0 then
        return false
    end
    return {redis.call('HGETALL', keys[1]), redis.call('GET', keys[3]) or '',
            redis.call('HGETALL', keys[4])}
end

-- KEYS: summary hash, packed state, aux string and outbox (layout 2).
-- ARGV: expected revision; the packed state ('' : unchanged, nothing is
--       written); upgrade flag ('1': the customer is stored in layout 2: its
--       hash, aux string and outbox are replaced); then name/value pairs of
--       summary fields to set.
-- Returns the new revision, or -1 - the stored revision when it is not the
-- expected one (a conflict: nothing written; reload and recompute).  The
-- revision inside the packed state is the new one the caller computed.
local function commit(keys, args)
    local h = keys[1]
    local rev = tonumber(redis.call('HGET', h, 'rev') or '0')
    if rev ~= tonumber(args[1]) then
        return -1 - rev
    end
    if args[2] == '' then
        return rev
    end
    if args[3] == '1' then
        redis.call('DEL', h, keys[3], keys[4])
    end
    redis.call('SET', keys[2], args[2])
    redis.call('HSET', h, 'rev', tostring(rev + 1), unpack(args, 4))
    return rev + 1
end

-- KEYS: a task's progress hash.  ARGV: field/offset pairs (-1: none).  Each field is
-- raised to its offset, never lowered: a late write of an instance that lost
-- the task does not take the progress back.
local function progress(keys, args)
    for i = 1, #args, 2 do
        local cur = tonumber(redis.call('HGET', keys[1], args[i]) or '-1')
        if tonumber(args[i + 1]) > cur then
            redis.call('HSET', keys[1], args[i], args[i + 1])
        end
    end
    return 0
end

redis.register_function{function_name='loyaltyd_load_4', callback=load,
                        flags={'no-writes'}}
redis.register_function('loyaltyd_commit_4', commit)
redis.register_function('loyaltyd_progress_4', progress)
