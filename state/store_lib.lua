#!lua name=loyaltyd
-- loyaltyd server-side functions.  Every function touches the keys of one
-- customer only (one hash tag), so the library runs unchanged on Redis Cluster.

-- KEYS: customer hash, aux string, outbox hash.
-- ARGV: watermark field ('' for none), offset, expected revision, aux value,
--       number of hash fields n, n field/value pairs (an empty value deletes the
--       field), then outbox id/value pairs.
-- Returns {status, revision, outbox as flat id/value list}; status is
-- 'ok' (written), 'dup' (offset at or below the watermark: nothing written)
-- or 'conflict' (revision moved: reload and recompute).
local function commit(keys, args)
    local h, aux, ob = keys[1], keys[2], keys[3]
    local wmf = args[1]
    local cur = redis.call('HMGET', h, 'rev', wmf ~= '' and wmf or 'rev')
    local rev = tonumber(cur[1] or '0')
    if wmf ~= '' and cur[2] and tonumber(cur[2]) >= tonumber(args[2]) then
        return {'dup', rev, redis.call('HGETALL', ob)}
    end
    if rev ~= tonumber(args[3]) then
        return {'conflict', rev, redis.call('HGETALL', ob)}
    end
    local nf = tonumber(args[5])
    local hset = {'HSET', h, 'rev', tostring(rev + 1)}
    local hdel = {'HDEL', h}
    if wmf ~= '' then
        hset[#hset + 1] = wmf
        hset[#hset + 1] = args[2]
    end
    -- An empty value means "at its default": the field is not stored.
    for i = 6, 5 + 2 * nf, 2 do
        if args[i + 1] == '' then
            hdel[#hdel + 1] = args[i]
        else
            hset[#hset + 1] = args[i]
            hset[#hset + 1] = args[i + 1]
        end
    end
    redis.call(unpack(hset))
    if #hdel > 2 then
        redis.call(unpack(hdel))
    end
    redis.call('SET', aux, args[4])
    local first = 6 + 2 * nf
    if #args >= first then
        local ohset = {'HSET', ob}
        for i = first, #args do
            ohset[#ohset + 1] = args[i]
        end
        redis.call(unpack(ohset))
    end
    return {'ok', rev + 1, redis.call('HGETALL', ob)}
end

redis.register_function('loyaltyd_commit', commit)
