#!lua name=loyaltyd_3
-- loyaltyd server-side functions.  Every function touches the keys of one
-- customer only (one hash tag), so the library runs unchanged on Redis Cluster.
-- The library and its functions carry the version of their arguments' layout,
-- so daemons of two versions can share one Redis during an upgrade.

-- KEYS: customer hash, aux string, outbox hash.
-- ARGV: expected revision; s, then s name/value pairs to set (watermarks,
--       partition, changed fields); d, then d names of fields back at their
--       default (deleted: a default is not stored); aux flag ('1': set the aux
--       string to the next argument, '0': leave it), aux value; then outbox
--       id/value pairs.
-- Returns {status, revision, outbox as flat id/value list}; status is 'ok'
-- (written, or nothing to write) or 'conflict' (the revision moved: nothing
-- written; reload and recompute).  The caller has checked the watermarks
-- against the revision it loaded, so a matching revision means no event is
-- applied twice.  Runs of arguments go to the commands with unpack(), so no
-- table is built per call.
local function commit(keys, args)
    local h, aux, ob = keys[1], keys[2], keys[3]
    local rev = tonumber(redis.call('HGET', h, 'rev') or '0')
    if rev ~= tonumber(args[1]) then
        return {'conflict', rev, redis.call('HGETALL', ob)}
    end
    local s = tonumber(args[2])
    local dpos = 3 + 2 * s
    local d = tonumber(args[dpos])
    local apos = dpos + d + 1
    local set_aux = args[apos]
    local outbox = apos + 2
    if s == 0 and d == 0 and set_aux == '0' and #args < outbox then
        -- nothing to write (every event was a duplicate): the outbox only
        return {'ok', rev, redis.call('HGETALL', ob)}
    end
    redis.call('HSET', h, 'rev', tostring(rev + 1), unpack(args, 3, dpos - 1))
    if d > 0 then
        redis.call('HDEL', h, unpack(args, dpos + 1, apos - 1))
    end
    if set_aux == '1' then
        redis.call('SET', aux, args[apos + 1])
    end
    if #args >= outbox then
        redis.call('HSET', ob, unpack(args, outbox, #args))
    end
    return {'ok', rev + 1, redis.call('HGETALL', ob)}
end

redis.register_function('loyaltyd_commit_3', commit)
