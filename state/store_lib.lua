#!lua name=loyaltyd_2
-- loyaltyd server-side functions.  Every function touches the keys of one
-- customer only (one hash tag), so the library runs unchanged on Redis Cluster.
-- The library and its functions carry the version of their arguments' layout,
-- so daemons of two versions can share one Redis during an upgrade.

-- KEYS: customer hash, aux string, outbox hash.
-- ARGV: expected revision; number of store fields m, m name/value pairs
--       (watermarks, partition); aux flag ('1': set the aux string to the
--       next argument, '0': leave it), aux value; number of changed fields n,
--       n name/value pairs (an empty value deletes the field); then outbox
--       id/value pairs.
-- Returns {status, revision, outbox as flat id/value list}; status is 'ok'
-- (written) or 'conflict' (the revision moved: nothing written; reload and
-- recompute).  The caller has checked the watermarks against the revision it
-- loaded, so a matching revision means no event is applied twice.
local function commit(keys, args)
    local h, aux, ob = keys[1], keys[2], keys[3]
    local rev = tonumber(redis.call('HGET', h, 'rev') or '0')
    if rev ~= tonumber(args[1]) then
        return {'conflict', rev, redis.call('HGETALL', ob)}
    end
    local m = tonumber(args[2])
    local set_aux, aux_value = args[3 + 2 * m], args[4 + 2 * m]
    local n = tonumber(args[5 + 2 * m])
    local fields, outbox = 6 + 2 * m, 6 + 2 * m + 2 * n
    if m == 0 and set_aux == '0' and n == 0 and #args < outbox then
        -- nothing to write (every event was a duplicate): the outbox only
        return {'ok', rev, redis.call('HGETALL', ob)}
    end
    local hset = {'HSET', h, 'rev', tostring(rev + 1)}
    local hdel = {'HDEL', h}
    for j = 3, 2 + 2 * m, 2 do
        hset[#hset + 1] = args[j]
        hset[#hset + 1] = args[j + 1]
    end
    -- An empty value means "at its default": the field is not stored.
    for j = fields, outbox - 1, 2 do
        if args[j + 1] == '' then
            hdel[#hdel + 1] = args[j]
        else
            hset[#hset + 1] = args[j]
            hset[#hset + 1] = args[j + 1]
        end
    end
    redis.call(unpack(hset))
    if #hdel > 2 then
        redis.call(unpack(hdel))
    end
    if set_aux == '1' then
        redis.call('SET', aux, aux_value)
    end
    if #args >= outbox then
        local ohset = {'HSET', ob}
        for j = outbox, #args do
            ohset[#ohset + 1] = args[j]
        end
        redis.call(unpack(ohset))
    end
    return {'ok', rev + 1, redis.call('HGETALL', ob)}
end

redis.register_function('loyaltyd_commit_2', commit)
