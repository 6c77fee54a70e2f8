#!lua name=protein
--
-- protein's Redis Functions library: every state change of a sweep and its
-- trials runs here, atomically on the server. Clients only FCALL.
-- docs/redis-schema.md describes the keys; the C client (queue/*.c)
-- embeds this file and loads it when the server's copy is missing or older.
--
-- KEYS[1] is always the sweep's meta key "protein:{NAME}:meta" (or the
-- global set protein:sweeps); every other key of the sweep shares its
-- prefix and hash tag. Errors are "ECODE message", ECODE naming a pq_error.

-- Bump VERSION with every change: clients replace an older library.
local VERSION = 5
local STREAM_MAXLEN = '1000000'
local CHUNK = 1000

-- Outcome states counted in the meta hash (n_STATE). The number of running
-- trials is ZCARD leases and of queued ones LLEN retry.
local COUNTED = {completed = true, failed = true, interrupted = true,
                 lost = true, pruned = true}

-- Meta fields the functions read (one HMGET).
local META_FIELDS = {'name', 'state', 'owner_uid', 'shared', 'lease_seconds',
                     'max_trials', 'n_trials', 'max_retries', 'metric',
                     'cost_metric', 'n_lost'}

-- A claim that found the ready queue empty stays counted as waiting (the
-- coordinator's demand) for this many seconds unless it claims sooner.
local WAITING_SECONDS = 10

local function fail(code, msg)
  return redis.error_reply(code .. ' ' .. msg)
end

local function prefix_of(meta)
  return string.sub(meta, 1, #meta - 4)
end

local function name_of(meta)
  return string.match(meta, '^protein:{(.*)}:meta$') or meta
end

local function now()
  local t = redis.call('TIME')
  return tonumber(t[1]) + tonumber(t[2]) / 1000000
end

local function stamp(t)
  return string.format('%.6f', t)
end

local function no_sweep(meta)
  return fail('ENOSWEEP', "no sweep '" .. name_of(meta) .. "' (create it with protein create)")
end

local function no_trial(meta, id)
  if redis.call('EXISTS', meta) == 0 then
    return no_sweep(meta)
  end
  return fail('ENOTRIAL', 'no trial ' .. id .. " in sweep '" .. name_of(meta) .. "'")
end

local function not_running(meta, id, st)
  return fail('ESTATE', 'trial ' .. id .. " of sweep '" .. name_of(meta) ..
              "' is " .. st .. ', not running')
end

-- The META_FIELDS of a sweep as a table; nil when the sweep is absent.
local function load_meta(meta)
  local v = redis.call('HMGET', meta, unpack(META_FIELDS))
  if not v[1] then
    return nil
  end
  local m = {}
  for i, f in ipairs(META_FIELDS) do
    m[f] = v[i]
  end
  return m
end

-- Moves one trial between the per-state counters.
local function count(meta, from, to)
  if from and COUNTED[from] then
    redis.call('HINCRBY', meta, 'n_' .. from, -1)
  end
  if to and COUNTED[to] then
    redis.call('HINCRBY', meta, 'n_' .. to, 1)
  end
end

-- Calls fn(i, j) for consecutive index ranges that cover first..last,
-- CHUNK indexes at a time (Lua's unpack has a limit).
local function each_chunk(first, last, fn)
  local i = first
  while i <= last do
    local j = math.min(i + CHUNK - 1, last)
    fn(i, j)
    i = j + 1
  end
end

-- RPUSHes list items from index first on.
local function push_all(key, items, first)
  each_chunk(first, #items, function(i, j)
    redis.call('RPUSH', key, unpack(items, i, j))
  end)
end

-- Runs fn(keys, a, m) when the sweep of KEYS[1] exists, m being its
-- META_FIELDS (load_meta); the ENOSWEEP reply otherwise.
local function with_meta(fn)
  return function(keys, a)
    local m = load_meta(keys[1])
    if not m then
      return no_sweep(keys[1])
    end
    return fn(keys, a, m)
  end
end

-- Runs fn(keys, a) when the sweep of KEYS[1] exists; the ENOSWEEP reply
-- otherwise.
local function with_sweep(fn)
  return function(keys, a)
    if redis.call('EXISTS', keys[1]) == 0 then
      return no_sweep(keys[1])
    end
    return fn(keys, a)
  end
end

-- with_meta for what only the sweep's owner (or root, uid 0) may do:
-- ARGV[uid_at] is the caller's uid; the EPERM reply for anyone else.
local function for_owner(fn, uid_at)
  return with_meta(function(keys, a, m)
    local uid = tonumber(a[uid_at])
    if uid ~= 0 and uid ~= tonumber(m.owner_uid) then
      return fail('EPERM', "sweep '" .. m.name .. "' belongs to uid " .. m.owner_uid)
    end
    return fn(keys, a, m)
  end)
end

-- Appends an observation: msgpack map {trial, outcome, params, fallback,
-- score?, cost?}; params are the packed bytes stored at claim time.
local function observe(P, id, outcome, packed, fallback, score, cost)
  local parts = {}
  local function kv(k, v)
    parts[#parts + 1] = cmsgpack.pack(k) .. v
  end
  kv('trial', cmsgpack.pack(tonumber(id)))
  kv('outcome', cmsgpack.pack(outcome))
  kv('params', packed or string.char(0x80))
  kv('fallback', cmsgpack.pack(tonumber(fallback) or 0))
  if score and score ~= '' then
    kv('score', cmsgpack.pack(tonumber(score)))
  end
  if cost and cost ~= '' then
    kv('cost', cmsgpack.pack(tonumber(cost)))
  end
  local body = string.char(0x80 + #parts) .. table.concat(parts)
  redis.call('XADD', P .. 'observations', 'MAXLEN', '~', STREAM_MAXLEN, '*', 'm', body)
end

-- The claim reply: {id, token, status, fallback, resumed, attempts,
-- params JSON, metric, cost_metric}.
local function claim_reply(m, id, token, resumed, attempts, params, fallback)
  return {tonumber(id), token, 'running', tonumber(fallback), resumed, attempts,
          params, m.metric, m.cost_metric}
end

-- ARGV: name, config, metric, cost_metric, goal_minimize, max_trials,
-- owner_uid, shared, lease_seconds, max_retries, fallback entries...
-- KEYS: meta, protein:sweeps.
local function sweep_create(keys, a)
  local meta = keys[1]
  if redis.call('EXISTS', meta) == 1 then
    return fail('EEXISTS', "sweep '" .. a[1] .. "' already exists")
  end
  local P = prefix_of(meta)
  redis.call('SET', P .. 'config', a[2])
  redis.call('HSET', meta, 'name', a[1], 'state', 'active',
             'metric', a[3], 'cost_metric', a[4], 'goal_minimize', a[5],
             'max_trials', a[6], 'owner_uid', a[7], 'shared', a[8],
             'lease_seconds', a[9], 'max_retries', a[10],
             'created_at', stamp(now()), 'n_trials', 0, 'n_completed', 0,
             'n_failed', 0, 'n_interrupted', 0, 'n_lost', 0, 'n_pruned', 0)
  push_all(P .. 'fallback', a, 11)
  redis.call('SADD', keys[2], a[1])
  return 1
end

-- ARGV: action (pause|resume|stop), uid.
local function sweep_set_state(keys, a, m)
  local to = ({pause = 'paused', resume = 'active', stop = 'stopped'})[a[1]]
  if not to then
    return fail('EINVAL', "unknown action '" .. a[1] .. "' (pause, resume or stop)")
  end
  if m.state == 'stopped' and to ~= 'stopped' then
    return fail('ESTATE', "sweep '" .. m.name .. "' is stopped for good")
  end
  redis.call('HSET', keys[1], 'state', to)
  return to
end

-- ARGV: uid. KEYS: meta, protein:sweeps.
local function sweep_delete(keys, a, m)
  local meta = keys[1]
  local P = prefix_of(meta)
  for id = 1, tonumber(m.n_trials) do
    redis.call('DEL', P .. 'trial:' .. id)
  end
  redis.call('DEL', meta, P .. 'config', P .. 'queue', P .. 'retry', P .. 'fallback',
             P .. 'claims', P .. 'private', P .. 'leases', P .. 'observations',
             P .. 'coordinator', P .. 'handed', P .. 'waiting')
  redis.call('SREM', keys[2], m.name)
  return 1
end

-- ARGV: claim_key, uid, job_id, array_index, node, lease_seconds,
-- allow_fallback (0|1), token for a new trial.
local function claim(keys, a, m)
  local meta = keys[1]
  local P = prefix_of(meta)
  local key, uid = a[1], tonumber(a[2])
  if m.state == 'stopped' then
    return fail('ESTOPPED', "sweep '" .. m.name .. "' is stopped")
  end
  if uid ~= tonumber(m.owner_uid) and m.shared ~= '1' then
    return fail('EPERM', "sweep '" .. m.name .. "' belongs to uid " .. m.owner_uid ..
                " and is not shared")
  end
  local lease = tonumber(a[6])
  if not lease or lease <= 0 then
    lease = tonumber(m.lease_seconds)
  end
  local t_now = now()
  local deadline = t_now + lease
  local running = {'status', 'running', 'claim_key', key, 'job_id', a[3],
                   'array_index', a[4], 'node', a[5], 'claimed_at', stamp(t_now),
                   'lease_seconds', tostring(lease)}

  -- Runs trial id (key tk) again, resumed or retried: marks it running
  -- under this claim and returns its attempt count, this one included.
  local function rerun(tk, id)
    redis.call('HSET', tk, unpack(running))
    redis.call('ZADD', P .. 'leases', deadline, id)
    return redis.call('HINCRBY', tk, 'attempts', 1)
  end

  local id = redis.call('HGET', P .. 'claims', key)
  if id then
    local tk = P .. 'trial:' .. id
    local t = redis.call('HMGET', tk, 'status', 'params', 'fallback')
    if t[1] ~= 'running' and t[1] ~= 'interrupted' then
      return fail('ESTATE', 'trial ' .. id .. " of sweep '" .. m.name ..
                  "' claimed by " .. key .. ' is already ' .. tostring(t[1]))
    end
    count(meta, t[1], nil)
    local attempts = rerun(tk, id)
    local token = redis.call('HGET', P .. 'private', 'token:' .. id)
    return claim_reply(m, id, token, 1, attempts, t[2], t[3])
  end
  if m.state == 'paused' then
    return fail('ESTOPPED', "sweep '" .. m.name .. "' is paused")
  end

  id = redis.call('LPOP', P .. 'retry')
  if id then
    local tk = P .. 'trial:' .. id
    local t = redis.call('HMGET', tk, 'params', 'fallback')
    local attempts = rerun(tk, id)
    redis.call('HSET', P .. 'claims', key, id)
    redis.call('HSET', P .. 'private', 'token:' .. id, a[8])
    return claim_reply(m, id, a[8], 0, attempts, t[1], t[2])
  end

  -- Lost trials (their lease ran out, no retry left) give their slot back.
  local max = tonumber(m.max_trials)
  if max > 0 and tonumber(m.n_trials) - (tonumber(m.n_lost) or 0) >= max then
    return fail('EBUDGET', "sweep '" .. m.name .. "' has handed out all " ..
                m.max_trials .. ' trials')
  end
  local entry = redis.call('LPOP', P .. 'queue')
  local fallback = 0
  if not entry then
    -- Waiting helps only while a coordinator holds the sweep's lease: it
    -- renews it while its loop serves the sweep and drops it on an error.
    if a[7] ~= '1' and redis.call('EXISTS', P .. 'coordinator') == 1 then
      redis.call('ZREMRANGEBYSCORE', P .. 'waiting', '-inf', '(' .. (t_now - WAITING_SECONDS))
      redis.call('ZADD', P .. 'waiting', t_now, key)
      return fail('EEMPTY', "sweep '" .. m.name .. "': ready queue empty")
    end
    -- The next point of the pool, never one handed out before while the
    -- pool lasts (it holds max_trials points; proteind tops up others).
    local size = redis.call('LLEN', P .. 'fallback')
    if size > 0 then
      local at = redis.call('HINCRBY', meta, 'fallback_next', 1) - 1
      entry = redis.call('LINDEX', P .. 'fallback', at % size)
    end
    if not entry then
      return fail('EEMPTY', "sweep '" .. m.name .. "' has no fallback points")
    end
    fallback = 1
  end
  redis.call('ZREM', P .. 'waiting', key)
  local e = cmsgpack.unpack(entry)
  if fallback == 0 then
    redis.call('SADD', P .. 'handed', e[1])
  end
  id = tostring(redis.call('HINCRBY', meta, 'n_trials', 1))
  local fields = {'id', id, 'params', e[1], 'fallback', fallback,
                  'started_at', stamp(t_now), 'attempts', 1, 'retries', 0,
                  'stop_requested', 0}
  for _, v in ipairs(running) do
    fields[#fields + 1] = v
  end
  redis.call('HSET', P .. 'trial:' .. id, unpack(fields))
  redis.call('HSET', P .. 'private', 'token:' .. id, a[8], 'packed:' .. id, e[2])
  redis.call('HSET', P .. 'claims', key, id)
  redis.call('ZADD', P .. 'leases', deadline, id)
  return claim_reply(m, id, a[8], 0, 1, e[1], fallback)
end

-- Checks trial and token. Returns the trial key and a table {status, stop,
-- fallback, lease, packed}, or nil and an error reply.
local function owned_trial(meta, id, token)
  local P = prefix_of(meta)
  local tk = P .. 'trial:' .. id
  local t = redis.call('HMGET', tk, 'status', 'stop_requested', 'fallback', 'lease_seconds')
  if not t[1] then
    return nil, no_trial(meta, id)
  end
  local secret = redis.call('HMGET', P .. 'private', 'token:' .. id, 'packed:' .. id)
  if secret[1] ~= token then
    return nil, fail('ETOKEN', 'wrong token for trial ' .. id .. " of sweep '" ..
                     name_of(meta) .. "' (it was claimed again, or the token is stale)")
  end
  return tk, {status = t[1], stop = t[2], fallback = t[3], lease = t[4], packed = secret[2]}
end

-- Ends a trial that is running, lost, or queued for a retry, with outcome
-- `to` (pruned instead when a stop was requested), the hash fields and the
-- observation's score and cost.
local function finish(meta, id, token, to, fields, score, cost)
  local tk, t = owned_trial(meta, id, token)
  if not tk then
    return t
  end
  local P = prefix_of(meta)
  local st = t.status
  if st ~= 'running' and st ~= 'lost' and st ~= 'queued' then
    return fail('ESTATE', 'trial ' .. id .. " of sweep '" .. name_of(meta) ..
                "' is already " .. st)
  end
  if to == 'interrupted' then
    if st ~= 'running' then
      return not_running(meta, id, st)
    end
  elseif t.stop == '1' then
    to = 'pruned'
  end
  if st == 'running' then
    redis.call('ZREM', P .. 'leases', id)
  elseif st == 'queued' then
    redis.call('LREM', P .. 'retry', 0, id)
  end
  count(meta, st, to)
  redis.call('HSET', tk, 'status', to, 'ended_at', stamp(now()), unpack(fields))
  observe(P, id, to, t.packed, t.fallback, score, cost)
  return to
end

-- ARGV: id, token, score, cost ('' when not reported).
local function complete(keys, a)
  local fields = {'score', a[3]}
  if a[4] ~= '' then
    fields[3], fields[4] = 'cost', a[4]
  end
  return finish(keys[1], a[1], a[2], 'completed', fields, a[3], a[4])
end

-- ARGV: id, token, exit_status, error text.
local function fail_trial(keys, a)
  return finish(keys[1], a[1], a[2], 'failed', {'exit_status', a[3], 'error', a[4]})
end

-- ARGV: id, token, reason.
local function interrupt(keys, a)
  return finish(keys[1], a[1], a[2], 'interrupted', {'error', a[3]})
end

-- ARGV: id, token, step, score, cost. Renews the lease; returns the
-- stop flag (0|1).
local function progress(keys, a)
  local tk, t = owned_trial(keys[1], a[1], a[2])
  if not tk then
    return t
  end
  if t.status ~= 'running' then
    return not_running(keys[1], a[1], t.status)
  end
  local t_now = now()
  redis.call('HSET', tk, 'progress_step', a[3], 'progress_score', a[4],
             'progress_cost', a[5], 'progress_at', stamp(t_now))
  redis.call('ZADD', prefix_of(keys[1]) .. 'leases', t_now + tonumber(t.lease), a[1])
  return tonumber(t.stop)
end

-- ARGV: id.
local function request_stop(keys, a)
  local tk = prefix_of(keys[1]) .. 'trial:' .. a[1]
  local st = redis.call('HGET', tk, 'status')
  if not st then
    return no_trial(keys[1], a[1])
  end
  if st ~= 'running' then
    return not_running(keys[1], a[1], st)
  end
  redis.call('HSET', tk, 'stop_requested', 1)
  return 1
end

-- ARGV: now (unix seconds; <= 0: the server's clock). Returns how many
-- running trials became lost.
local function expire(keys, a, m)
  local meta = keys[1]
  local P = prefix_of(meta)
  local t_now = tonumber(a[1])
  if not t_now or t_now <= 0 then
    t_now = now()
  end
  local expired = redis.call('ZRANGEBYSCORE', P .. 'leases', '-inf', '(' .. t_now,
                             'WITHSCORES')
  local max_retries = tonumber(m.max_retries)
  for i = 1, #expired, 2 do
    local id, deadline = expired[i], tonumber(expired[i + 1])
    local tk = P .. 'trial:' .. id
    local t = redis.call('HMGET', tk, 'claim_key', 'retries', 'fallback')
    redis.call('ZREM', P .. 'leases', id)
    redis.call('HDEL', P .. 'claims', t[1])
    observe(P, id, 'lost', redis.call('HGET', P .. 'private', 'packed:' .. id), t[3])
    local err = 'lease expired at ' .. stamp(deadline) .. ' (no outcome from ' .. t[1] .. ')'
    if tonumber(t[2]) < max_retries then
      redis.call('HSET', tk, 'status', 'queued', 'error', err)
      redis.call('HINCRBY', tk, 'retries', 1)
      redis.call('RPUSH', P .. 'retry', id)
    else
      count(meta, nil, 'lost')
      redis.call('HSET', tk, 'status', 'lost', 'error', err, 'ended_at', stamp(t_now))
    end
  end
  return #expired / 2
end

-- ARGV: holder, ttl_ms. Returns {1|0, current holder}.
local function coord_acquire(keys, a)
  local ck = prefix_of(keys[1]) .. 'coordinator'
  local cur = redis.call('GET', ck)
  if cur == a[1] then
    redis.call('PEXPIRE', ck, a[2])
    return {1, cur}
  end
  if cur then
    return {0, cur}
  end
  redis.call('SET', ck, a[1], 'PX', a[2])
  return {1, a[1]}
end

-- ARGV: holder. Returns 1 when it held the lease.
local function coord_release(keys, a)
  local ck = prefix_of(keys[1]) .. 'coordinator'
  if redis.call('GET', ck) == a[1] then
    redis.call('DEL', ck)
    return 1
  end
  return 0
end

-- ARGV: holder, queue entries... Entries whose point was already handed
-- out from the queue are dropped (a coordinator's stale copy of a point
-- claimed meanwhile is never claimed twice). Returns the new depth.
local function queue_replace(keys, a)
  local meta = keys[1]
  local P = prefix_of(meta)
  local cur = redis.call('GET', P .. 'coordinator')
  if cur ~= a[1] then
    return fail('ESTATE', "coordinator lease of sweep '" .. name_of(meta) ..
                "' is held by " .. tostring(cur or 'nobody') .. ', not ' .. a[1])
  end
  redis.call('DEL', P .. 'queue')
  if #a < 2 then
    return 0
  end
  local json = {}
  for i = 2, #a do
    json[#json + 1] = cmsgpack.unpack(a[i])[1]
  end
  local fresh = {}
  each_chunk(1, #json, function(i, j)
    local used = redis.call('SMISMEMBER', P .. 'handed', unpack(json, i, j))
    for k = i, j do
      if used[k - i + 1] == 0 then
        fresh[#fresh + 1] = a[k + 1]
      end
    end
  end)
  push_all(P .. 'queue', fresh, 1)
  return #fresh
end

-- ARGV: n_obs, ms, backend.
local function set_refit(keys, a)
  redis.call('HSET', keys[1], 'refit_at', stamp(now()), 'refit_n', a[1],
             'refit_ms', a[2], 'refit_backend', a[3])
  return 1
end

-- ARGV: claim_key, reason. Gives back the trial claimed under claim_key
-- whose claimant is gone without having started it (a claim the client
-- gave up on while the server still served it): a running trial goes back
-- to the retry list, not counted as a retry, and the key is forgotten.
-- Returns the trial id, or 0 when the key holds no running trial.
local function release(keys, a)
  local meta = keys[1]
  local P = prefix_of(meta)
  redis.call('ZREM', P .. 'waiting', a[1])
  local id = redis.call('HGET', P .. 'claims', a[1])
  if not id then
    return 0
  end
  local tk = P .. 'trial:' .. id
  if redis.call('HGET', tk, 'status') ~= 'running' then
    return 0
  end
  redis.call('ZREM', P .. 'leases', id)
  redis.call('HDEL', P .. 'claims', a[1])
  redis.call('HSET', tk, 'status', 'queued', 'error', 'released: ' .. a[2])
  redis.call('HDEL', P .. 'private', 'token:' .. id)
  redis.call('RPUSH', P .. 'retry', id)
  return tonumber(id)
end

-- ARGV: holder, fallback entries... Appends to the fallback pool while
-- holder holds the coordinator lease. Returns the pool's size.
local function fallback_add(keys, a)
  local P = prefix_of(keys[1])
  local cur = redis.call('GET', P .. 'coordinator')
  if cur ~= a[1] then
    return fail('ESTATE', "coordinator lease of sweep '" .. name_of(keys[1]) ..
                "' is held by " .. tostring(cur or 'nobody') .. ', not ' .. a[1])
  end
  push_all(P .. 'fallback', a, 2)
  return redis.call('LLEN', P .. 'fallback')
end

-- Read-only: what the coordinator sizes the ready queue by, {state,
-- queue depth, running, waiting claims, max_trials, n_trials, n_lost,
-- retry depth, fallback pool size, fallback points handed out}.
local function demand(keys)
  local meta = keys[1]
  local P = prefix_of(meta)
  local m = redis.call('HMGET', meta, 'state', 'max_trials', 'n_trials', 'n_lost',
                       'fallback_next')
  return {m[1] or '', redis.call('LLEN', P .. 'queue'),
          redis.call('ZCARD', P .. 'leases'),
          redis.call('ZCOUNT', P .. 'waiting', now() - WAITING_SECONDS, '+inf'),
          tonumber(m[2]) or 0, tonumber(m[3]) or 0, tonumber(m[4]) or 0,
          redis.call('LLEN', P .. 'retry'), redis.call('LLEN', P .. 'fallback'),
          tonumber(m[5]) or 0}
end

-- Read-only: the meta hash plus derived fields and the config text, as a
-- flat array.
local function info(keys)
  local meta = keys[1]
  local flat = redis.call('HGETALL', meta)
  if #flat == 0 then
    return no_sweep(meta)
  end
  local P = prefix_of(meta)
  local retry = redis.call('LLEN', P .. 'retry')
  local extra = {'queue_depth', redis.call('LLEN', P .. 'queue'),
                 'retry_depth', retry, 'n_queued', retry,
                 'n_running', redis.call('ZCARD', P .. 'leases'),
                 'n_fallback', redis.call('LLEN', P .. 'fallback'),
                 'n_waiting', redis.call('ZCOUNT', P .. 'waiting',
                                         now() - WAITING_SECONDS, '+inf'),
                 'coordinator', redis.call('GET', P .. 'coordinator') or '',
                 'config', redis.call('GET', P .. 'config') or ''}
  for _, v in ipairs(extra) do
    flat[#flat + 1] = tostring(v)
  end
  return flat
end

-- Read-only. ARGV: first id, last id. Returns one flat hash per trial,
-- with the lease deadline of running trials added.
local function trials(keys, a)
  local P = prefix_of(keys[1])
  local out = {}
  for id = tonumber(a[1]), tonumber(a[2]) do
    local h = redis.call('HGETALL', P .. 'trial:' .. id)
    local deadline = redis.call('ZSCORE', P .. 'leases', id)
    if deadline then
      h[#h + 1] = 'deadline'
      h[#h + 1] = stamp(tonumber(deadline))
    end
    out[#out + 1] = h
  end
  return out
end

-- Read-only: the ready queue's length.
local function depth(keys)
  return redis.call('LLEN', prefix_of(keys[1]) .. 'queue')
end

-- Read-only: params JSON of running trials and of those queued for a retry.
local function pending(keys)
  local P = prefix_of(keys[1])
  local out = {}
  local ids = redis.call('ZRANGE', P .. 'leases', 0, -1)
  for _, id in ipairs(redis.call('LRANGE', P .. 'retry', 0, -1)) do
    ids[#ids + 1] = id
  end
  for _, id in ipairs(ids) do
    out[#out + 1] = redis.call('HGET', P .. 'trial:' .. id, 'params')
  end
  return out
end

-- Read-only. KEYS: protein:sweeps.
local function list(keys)
  local names = redis.call('SMEMBERS', keys[1])
  table.sort(names)
  return names
end

local function version()
  return VERSION
end

-- Functions that need the sweep are registered wrapped in with_sweep,
-- with_meta or for_owner, which answer ENOSWEEP and EPERM for them.
local function register(name, fn, read_only)
  local flags = {}
  if read_only then
    flags = {'no-writes'}
  end
  redis.register_function{function_name = name, callback = fn, flags = flags}
end

register('protein_version', version, true)
register('protein_create', sweep_create)
register('protein_set_state', for_owner(sweep_set_state, 2))
register('protein_delete', for_owner(sweep_delete, 1))
register('protein_claim', with_meta(claim))
register('protein_complete', complete)
register('protein_fail', fail_trial)
register('protein_interrupt', interrupt)
register('protein_progress', progress)
register('protein_request_stop', request_stop)
register('protein_expire', with_meta(expire))
register('protein_coord_acquire', with_sweep(coord_acquire))
register('protein_coord_release', coord_release)
register('protein_queue_replace', with_sweep(queue_replace))
register('protein_set_refit', with_sweep(set_refit))
register('protein_info', info, true)
register('protein_trials', with_sweep(trials), true)
register('protein_pending', with_sweep(pending), true)
register('protein_depth', with_sweep(depth), true)
register('protein_list', list, true)
register('protein_release', with_sweep(release))
register('protein_fallback_add', with_sweep(fallback_add))
register('protein_demand', with_sweep(demand), true)
