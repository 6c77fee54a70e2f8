#!lua name=protein
--
-- protein's Redis Functions library: every state change of a sweep and its
-- trials runs here, atomically on the server. Clients only FCALL.
-- docs/redis-schema.md describes the keys; the C client (queue/*.c)
-- embeds this file and loads it when the server's copy is missing or differs.
--
-- KEYS[1] is always the sweep's meta key "protein:{NAME}:meta" (or a
-- sweep index); every other key of the sweep shares its prefix and hash
-- tag. Errors are "ECODE message", ECODE naming a pq_error.
--
-- Trust (docs/admin.md, "Security"): Redis runs a function with the
-- caller's ACL, for the keys it declares and for every command it runs.
-- A user's ACL covers only the keys of the sweeps named "USER/...", so the
-- ACL, not an argument, says whose sweep a call may touch. Only the
-- privileged services (the plugin, proteind, the admin) may act for
-- another user: they alone pass an identity that a function believes.
--
-- Every function validates what it reads and is passed before its first
-- write (a Lua error after a write would leave that write behind), and
-- does a bounded amount of work per call, whatever is stored.

-- VERSION is the start of the SHA-256 of this file, written in place of
-- the placeholder below when queue/Makefile.am embeds the file: a client
-- replaces a server library that differs from its own in any byte.
local VERSION = '@CONTENT_SHA256@'
local STREAM_MAXLEN = '1000000'
local CHUNK = 1000
-- Names or trials returned by one listing call, at most.
local PAGE_MAX = 1000
-- Trial hashes one protein_delete call removes, and expired leases one
-- protein_expire call handles, at most.
local DELETE_CHUNK = 1000
local EXPIRE_CHUNK = 1000
-- The longest grace protein_expire takes (seconds), and the most trials
-- one protein_due call returns.
local GRACE_MAX = 3600
local DUE_MAX = 256
-- Pending points one protein_pending call returns, at most.
local PENDING_MAX = 10000
-- Queue or fallback entries one call may pass.
local POINTS_MAX = 100000
-- Malformed entries one claim drops from the head of a list, at most.
local DROP_MAX = 16
-- Token digests kept per trial (one per claim of the same claim key).
local TOKENS_KEPT = 8
-- Longest claim key, job id or node; longest config text.
local FIELD_MAX = 256
local CONFIG_MAX = 4 * 1024 * 1024
-- Longest error text a trial stores (PQ_ERROR_MAX).
local ERROR_MAX = 1024
-- Reports kept in a trial's curve, at most: past it every other kept one
-- is dropped and only every second report from then on kept, so that the
-- curve still spans the whole run (PufferLib's downsample bins it).
local CURVE_MAX = 1024
-- Hyperband bands of a sweep, at most (W&B makes up to 100).
local BANDS_MAX = 100
-- The largest trial budget, as a config's max_trials allows.
local BUDGET_MAX = 1000000000
-- A key that only the privileged services' ACL covers (never written).
local PRIVILEGED_KEY = 'protein:privileged'
-- Index of the sweeps without an owner ("NAME"); a user's sweeps
-- ("USER/NAME") are in protein:{USER/}:sweeps, the users in protein:users.
local SWEEPS_KEY = 'protein:sweeps'
local USERS_KEY = 'protein:users'
-- Wake streams: a sweep created or whose budget was raised is named in its
-- owner's protein:{USER/}:wake (protein:wake for the sweeps without an
-- owner), so that a proteind that let it go serves it at its next
-- discovery, not at its turn of the periodic recheck. Trimmed to about
-- WAKE_MAXLEN entries; one protein_wakes call reads at most WAKE_COUNT
-- entries of each of at most WAKE_KEYS_MAX streams.
local WAKE_KEY = 'protein:wake'
local WAKE_MAXLEN = '256'
local WAKE_COUNT = 32
local WAKE_KEYS_MAX = 128
-- Longest sweep name, "USER/NAME" (PQ_SWEEP_NAME_MAX).
local SWEEP_NAME_MAX = 97

-- Outcome states counted in the meta hash (n_STATE). The number of running
-- trials is ZCARD leases and of queued ones LLEN retry.
local COUNTED = {completed = true, failed = true, interrupted = true,
                 lost = true, pruned = true}

-- Meta fields the functions read (one HMGET), and which of them must be
-- whole numbers.
local META_FIELDS = {'name', 'state', 'owner_uid', 'shared', 'lease_seconds',
                     'max_trials', 'n_trials', 'max_retries', 'metric',
                     'cost_metric', 'n_lost'}
local META_WHOLE = {'owner_uid', 'lease_seconds', 'max_trials', 'n_trials',
                    'max_retries'}

-- A claim that found the ready queue empty stays counted as waiting (the
-- coordinator's demand) for this many seconds unless it claims sooner.
local WAITING_SECONDS = 10
local SWEEP_STATES = {active = true, paused = true, stopped = true, deleting = true}

-- Trial hash fields that protein_trials returns (never HGETALL: a hash is
-- only as small as whoever wrote it made it).
local TRIAL_FIELDS = {'id', 'status', 'params', 'fallback', 'claim_key', 'job_id',
                      'array_index', 'node', 'started_at', 'claimed_at', 'ended_at',
                      'lease_seconds', 'attempts', 'retries', 'score', 'cost',
                      'exit_status', 'error', 'progress_step', 'progress_score',
                      'progress_cost', 'progress_at', 'progress_n', 'stop_requested',
                      'stopped_by', 'late_key', 'late_expired_at'}
-- Meta fields protein_info returns.
local INFO_FIELDS = {'name', 'state', 'owner_uid', 'shared', 'lease_seconds',
                     'max_trials', 'n_trials', 'max_retries', 'metric', 'cost_metric',
                     'goal_minimize', 'created_at', 'n_completed', 'n_failed',
                     'n_interrupted', 'n_lost', 'n_pruned', 'refit_at', 'refit_n',
                     'refit_ms', 'refit_backend', 'fallback_next', 'target',
                     'stopped_by', 'grid'}

local function fail(code, msg)
  return redis.error_reply(code .. ' ' .. msg)
end

local function prefix_of(meta)
  return string.sub(meta, 1, #meta - 4)
end

local function name_of(meta)
  return string.match(meta, '^protein:{(.*)}:meta$') or meta
end

-- The owner of sweep "USER/NAME", nil for a sweep without one.
local function owner_of(meta)
  return string.match(meta, '^protein:{([^/{}]+)/[^/{}]+}:meta$')
end

-- The key "protein:{USER/}:suffix" of the owner of sweep meta, or bare for
-- a sweep without one.
local function owner_key(meta, suffix, bare)
  local owner = owner_of(meta)
  if owner then
    return 'protein:{' .. owner .. '/}:' .. suffix
  end
  return bare
end

-- The index key a sweep's name is listed in.
local function index_of(meta)
  return owner_key(meta, 'sweeps', SWEEPS_KEY)
end

-- true when the calling Redis user is a privileged service (its ACL
-- covers PRIVILEGED_KEY); a user's ACL covers only its own sweeps.
local function privileged()
  return redis.acl_check_cmd('HSET', PRIVILEGED_KEY, 'f', 'v')
end

local function now()
  local t = redis.call('TIME')
  return tonumber(t[1]) + tonumber(t[2]) / 1000000
end

local function stamp(t)
  return string.format('%.6f', t)
end

-- v as a whole number when it is the decimal text of one that HINCRBY
-- accepts and a Lua number holds exactly (nil counts as 0 when nil_ok);
-- nil otherwise.
local function whole(v, nil_ok)
  if (v == nil or v == false) and nil_ok then
    return 0
  end
  if type(v) ~= 'string' or #v > 15 or not string.match(v, '^%-?%d+$') then
    return nil
  end
  return tonumber(v)
end

-- v as a finite number, or nil.
local function finite(v)
  local x = tonumber(v)
  if not x or x ~= x or x == math.huge or x == -math.huge then
    return nil
  end
  return x
end

local function corrupt(meta, what, v)
  return fail('ECORRUPT', "sweep '" .. name_of(meta) .. "': " .. what .. ' is ' ..
              (v and ("'" .. string.sub(tostring(v), 1, 40) .. "'") or 'missing') ..
              ' (a damaged or hand-edited store; `protein delete` still removes the sweep)')
end

local function no_sweep(meta)
  return fail('ENOSWEEP', "no sweep '" .. name_of(meta) .. "' (create it with protein create)")
end

local function no_trial(meta, id)
  if redis.call('EXISTS', meta) == 0 then
    return no_sweep(meta)
  end
  return fail('ENOTRIAL', 'no trial ' .. tostring(id) .. " in sweep '" .. name_of(meta) .. "'")
end

local function not_running(meta, id, st)
  return fail('ESTATE', 'trial ' .. id .. " of sweep '" .. name_of(meta) ..
              "' is " .. st .. ', not running')
end

local function bad_key(k)
  return fail('EINVAL', 'KEYS[1] must be a sweep key protein:{NAME}:meta, not ' ..
              string.sub(tostring(k), 1, 80))
end

local function is_meta_key(k)
  return type(k) == 'string' and #k <= 200 and
         string.match(k, '^protein:{[^{}]+}:meta$') ~= nil
end

-- The META_FIELDS of a sweep as a table (whole-number fields converted);
-- nil and an error reply when the sweep is absent or its meta malformed.
local function load_meta(meta)
  local v = redis.call('HMGET', meta, unpack(META_FIELDS))
  if not v[1] then
    if redis.call('EXISTS', meta) == 0 then
      return nil, no_sweep(meta)
    end
    return nil, corrupt(meta, 'meta field name', nil)
  end
  local m = {}
  for i, f in ipairs(META_FIELDS) do
    m[f] = v[i]
  end
  if not SWEEP_STATES[m.state] then
    return nil, corrupt(meta, 'meta field state', m.state)
  end
  for _, f in ipairs(META_WHOLE) do
    local n = whole(m[f])
    if not n or n < 0 then
      return nil, corrupt(meta, 'meta field ' .. f, m[f])
    end
    m[f] = n
  end
  return m
end

-- The type each key of a sweep holds (TYPE's answer), by suffix.
local KEY_TYPES = {meta = 'hash', config = 'string', queue = 'list', retry = 'list',
                   fallback = 'list', claims = 'hash', private = 'hash', leases = 'zset',
                   observations = 'stream', coordinator = 'string', handed = 'set',
                   waiting = 'zset'}

local function type_of(key)
  return redis.call('TYPE', key)['ok']
end

-- Names the sweep of meta in its wake stream, as the last write of a call.
-- Best effort: a stream its owner damaged by hand (another type, or its
-- last ID taken) loses only their own wakes, and proteind's periodic
-- recheck still finds the sweep.
local function wake(meta)
  local k = owner_key(meta, 'wake', WAKE_KEY)
  local t = type_of(k)
  if t == 'none' or t == 'stream' then
    redis.pcall('XADD', k, 'MAXLEN', '~', WAKE_MAXLEN, '*', 'sweep', name_of(meta))
  end
end

-- An ECORRUPT reply when one of the sweep's keys named by suffixes holds a
-- type other than protein writes there (a command on it would fail after
-- earlier writes); nil when each is absent or right.
local function types_ok(meta, suffixes)
  local P = prefix_of(meta)
  for _, sfx in ipairs(suffixes) do
    local t = type_of(P .. sfx)
    if t ~= 'none' and t ~= KEY_TYPES[sfx] then
      return corrupt(meta, 'the type of key ' .. P .. sfx, t)
    end
  end
  return nil
end

-- Whether the per-state counters that count(meta, from, to) moves hold
-- whole numbers (HINCRBY would fail on them after earlier writes).
local function counters_ok(meta, from, to)
  for _, st in ipairs({from, to}) do
    if st and COUNTED[st] then
      local v = redis.call('HGET', meta, 'n_' .. st)
      if not whole(v, true) then
        return corrupt(meta, 'meta field n_' .. st, v)
      end
    end
  end
  return nil
end

-- Moves one trial between the per-state counters (counters_ok first).
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

-- A queue or fallback entry decoded: {params JSON, packed params}, or nil
-- when it is not one (a stray or damaged value).
local function decode_entry(entry)
  if type(entry) ~= 'string' then
    return nil
  end
  local ok, e = pcall(cmsgpack.unpack, entry)
  if not ok or type(e) ~= 'table' or type(e[1]) ~= 'string' or type(e[2]) ~= 'string' or
     #e[1] < 2 or string.sub(e[1], 1, 1) ~= '{' then
    return nil
  end
  return e
end

-- EINVAL unless a[first..] are between 1 and POINTS_MAX decodable entries
-- (or none at all when may_be_empty).
local function check_entries(a, first, what, may_be_empty)
  local n = #a - first + 1
  if n > POINTS_MAX then
    return fail('EINVAL', 'at most ' .. POINTS_MAX .. ' ' .. what .. ' entries per call, not ' .. n)
  end
  if n < 1 and not may_be_empty then
    return fail('EINVAL', 'no ' .. what .. ' entries')
  end
  for i = first, #a do
    if not decode_entry(a[i]) then
      return fail('EINVAL', what .. ' entry ' .. (i - first + 1) ..
                  ' is not a msgpack [params JSON, packed params] pair')
    end
  end
  return nil
end

-- Runs fn(keys, a, m) when KEYS[1] is a sweep's meta key and the sweep
-- exists with well-formed meta, m being its META_FIELDS (load_meta).
local function with_meta(fn)
  return function(keys, a)
    if not is_meta_key(keys[1]) then
      return bad_key(keys[1])
    end
    local m, err = load_meta(keys[1])
    if not m then
      return err
    end
    return fn(keys, a, m)
  end
end

-- Runs fn(keys, a) when KEYS[1] is a sweep's meta key and the sweep
-- exists; the ENOSWEEP reply otherwise.
local function with_sweep(fn)
  return function(keys, a)
    if not is_meta_key(keys[1]) then
      return bad_key(keys[1])
    end
    if redis.call('EXISTS', keys[1]) == 0 then
      return no_sweep(keys[1])
    end
    return fn(keys, a)
  end
end

-- Whether the caller may control the sweep (pause, stop, delete): a user
-- reached its keys, which the ACL allows to the owner alone; a privileged
-- service acts for uid ARGV[uid_at], the owner or root (0).
local function may_control(a, uid_at, owner_uid)
  if not privileged() then
    return true
  end
  local uid = whole(a[uid_at])
  return uid == 0 or (uid ~= nil and uid == owner_uid)
end

local function not_owner(meta, owner_uid)
  return fail('EPERM', "sweep '" .. name_of(meta) .. "' belongs to uid " ..
              tostring(owner_uid))
end

-- with_meta for what only the sweep's owner (or root) may do.
local function for_owner(fn, uid_at)
  return with_meta(function(keys, a, m)
    if not may_control(a, uid_at, m.owner_uid) then
      return not_owner(keys[1], m.owner_uid)
    end
    return fn(keys, a, m)
  end)
end

-- Appends an observation: msgpack map {trial, outcome, params, fallback,
-- score?, cost?}; params are the packed bytes stored at claim time.
-- Best effort: a stream whose last ID is the largest (its owner may XADD
-- one by hand) takes no entry, and its failed XADD must not abort the
-- call amid its writes (a lease gone, its trial left running for good).
local function observe(P, id, outcome, packed, fallback, score, cost)
  local parts = {}
  local function kv(k, v)
    parts[#parts + 1] = cmsgpack.pack(k) .. v
  end
  kv('trial', cmsgpack.pack(tonumber(id)))
  kv('outcome', cmsgpack.pack(outcome))
  if type(packed) ~= 'string' or packed == '' then
    packed = string.char(0x80)
  end
  kv('params', packed)
  kv('fallback', cmsgpack.pack(fallback == '1' and 1 or 0))
  if finite(score) then
    kv('score', cmsgpack.pack(finite(score)))
  end
  if finite(cost) then
    kv('cost', cmsgpack.pack(finite(cost)))
  end
  local body = string.char(0x80 + #parts) .. table.concat(parts)
  redis.pcall('XADD', P .. 'observations', 'MAXLEN', '~', STREAM_MAXLEN, '*', 'm', body)
end

-- The claim reply: {id, token, status, fallback, resumed, attempts,
-- params JSON, metric, cost_metric}.
local function claim_reply(m, id, token, resumed, attempts, params, fallback)
  return {tonumber(id), token, 'running', tonumber(fallback) or 0, resumed, attempts,
          params, m.metric, m.cost_metric}
end

-- W&B's hyperband rule as a sweep stores it, "ETA STRICT BAND...": a
-- table {eta, strict, bands (ascending)}, or nil when text is malformed.
local function hyperband_of(text)
  if type(text) ~= 'string' or #text > 32 * (BANDS_MAX + 2) then
    return nil
  end
  local w = {}
  for x in string.gmatch(text, '%S+') do
    w[#w + 1] = x
  end
  local eta = finite(w[1])
  if not eta or eta <= 1 or (w[2] ~= '0' and w[2] ~= '1') or #w < 3 or
     #w > BANDS_MAX + 2 then
    return nil
  end
  local h = {eta = eta, strict = w[2] == '1', bands = {}}
  for i = 3, #w do
    local b = whole(w[i])
    if not b or b < 1 or (i > 3 and b <= h.bands[#h.bands]) then
      return nil
    end
    h.bands[#h.bands + 1] = b
  end
  return h
end

-- An error reply unless KEYS are a sweep's meta key and its index.
local function check_index_keys(keys)
  if not is_meta_key(keys[1]) then
    return bad_key(keys[1])
  end
  if keys[2] ~= index_of(keys[1]) then
    return fail('EINVAL', "KEYS[2] of sweep '" .. name_of(keys[1]) .. "' must be " ..
                index_of(keys[1]))
  end
  return nil
end

-- ARGV: name, config, metric, cost_metric, goal_minimize, max_trials,
-- owner_uid, shared, lease_seconds, max_retries, target ('' for none),
-- hyperband ('' for none, else "ETA STRICT BAND..."), grid (method grid:
-- its number of points, the fallback entries its first ones in grid
-- order; 0: not a grid), fallback entries...
-- KEYS: meta, the sweep's index (protein:{USER/}:sweeps, or
-- protein:sweeps for a sweep without an owner).
local function create(keys, a)
  local meta = keys[1]
  local err = check_index_keys(keys)
  if err then
    return err
  end
  if a[1] ~= name_of(meta) then
    return fail('EINVAL', "ARGV[1] must be the sweep's name " .. name_of(meta))
  end
  if type(a[2]) ~= 'string' or #a[2] > CONFIG_MAX then
    return fail('EINVAL', "sweep '" .. a[1] .. "': config over " .. CONFIG_MAX .. ' bytes')
  end
  for _, i in ipairs({3, 4}) do
    if type(a[i]) ~= 'string' or #a[i] < 1 or #a[i] > 64 then
      return fail('EINVAL', "sweep '" .. a[1] .. "': metric names are 1 to 64 bytes")
    end
  end
  for _, i in ipairs({6, 7, 9, 10}) do
    local n = whole(a[i])
    if not n or n < 0 then
      return fail('EINVAL', "sweep '" .. a[1] .. "': ARGV[" .. i ..
                  '] must be a whole number >= 0, not ' .. tostring(a[i]))
    end
  end
  if (a[5] ~= '0' and a[5] ~= '1') or (a[8] ~= '0' and a[8] ~= '1') then
    return fail('EINVAL', "sweep '" .. a[1] .. "': goal_minimize and shared are 0 or 1")
  end
  if a[11] ~= '' and not finite(a[11]) then
    return fail('EINVAL', "sweep '" .. a[1] .. "': the target must be a finite number or ''")
  end
  if a[12] ~= '' and not hyperband_of(a[12]) then
    return fail('EINVAL', "sweep '" .. a[1] .. "': hyperband must be 'ETA STRICT BAND...' " ..
                '(eta > 1, strict 0 or 1, 1 to ' .. BANDS_MAX .. ' ascending whole bands)')
  end
  if not whole(a[13]) or whole(a[13]) < 0 then
    return fail('EINVAL', "sweep '" .. a[1] .. "': grid must be a whole number >= 0, not " ..
                tostring(a[13]))
  end
  err = check_entries(a, 14, 'fallback') or types_ok(meta, {'fallback'})
  if err then
    return err
  end
  local owner = owner_of(meta)
  local indexes = {keys[2]}
  if owner and privileged() then
    indexes[2] = USERS_KEY
  end
  for _, k in ipairs(indexes) do
    if type_of(k) ~= 'none' and type_of(k) ~= 'zset' then
      return corrupt(meta, 'the type of key ' .. k, type_of(k))
    end
  end
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
             'n_failed', 0, 'n_interrupted', 0, 'n_lost', 0, 'n_pruned', 0,
             'grid', a[13])
  if a[11] ~= '' then
    redis.call('HSET', meta, 'target', string.format('%.17g', finite(a[11])))
  end
  if a[12] ~= '' then
    redis.call('HSET', meta, 'hyperband', a[12])
  end
  push_all(P .. 'fallback', a, 14)
  redis.call('ZADD', keys[2], 0, a[1])
  if indexes[2] then
    redis.call('ZADD', USERS_KEY, 0, owner)
  end
  -- a proteind may still hold the name of a sweep deleted under it, let go
  -- or given up on for an unusable config
  wake(meta)
  return 1
end

-- text cut to at most n bytes, never inside a UTF-8 sequence (as the
-- client cuts what it sends: queue/trial.c), so that what people read
-- stays UTF-8.
local function cut(text, n)
  if #text <= n then
    return text
  end
  while n > 0 and string.byte(text, n + 1) >= 0x80 and string.byte(text, n + 1) < 0xC0 do
    n = n - 1
  end
  return string.sub(text, 1, n)
end

-- Error text as stored: a string of at most ERROR_MAX bytes.
local function short(v)
  return cut(type(v) == 'string' and v or '', ERROR_MAX)
end

-- The start of the error of a trial whose claim was released (release):
-- a queued trial's error is that or its expired lease's.
local RELEASED = 'released: '
-- What a stop adds to the error of a released trial it ends still queued.
local STOPPED_QUEUED = '; then the sweep was stopped before a claim took it again'

-- Whether the trials queued for a retry in the sweep of meta can be ended
-- (end_retries): nil, or the error reply.
local function retries_end_ok(meta)
  return counters_ok(meta, nil, 'lost') or counters_ok(meta, nil, 'interrupted') or
         types_ok(meta, {'retry', 'claims', 'private', 'observations'})
end

-- Ends up to EXPIRE_CHUNK trials queued for a retry in the sweep of meta,
-- which is stopped: a stopped sweep claims no retry (it resumes only a
-- requeued task's trial, by its key, and a queued trial's key was
-- forgotten), so each would stay queued for good. A released trial (a
-- claim its task gave up on, released while the sweep was active or
-- paused) ends as a release in the stopped sweep would have ended it:
-- interrupted, its claim key holding it again, so that the job's next
-- requeue resumes it, unless the key holds another trial by now (then
-- lost); its error says that the stop came after the release. Any other
-- becomes lost, as a stopped sweep's expired lease ends its trial, its
-- error (the lease that ran out) kept; a late outcome of its task is
-- still taken (finish). A retry id of no queued trial just leaves the
-- list. The caller checks retries_end_ok(meta) first; a stop again ends
-- the next EXPIRE_CHUNK.
local function end_retries(meta, t_now)
  local P = prefix_of(meta)
  -- (LPOP with a count: the worker ACL (queue/acl.c) has no LTRIM)
  local ids = redis.call('LPOP', P .. 'retry', EXPIRE_CHUNK) or {}
  for _, id in ipairs(ids) do
    local tk = P .. 'trial:' .. id
    if whole(id) and type_of(tk) == 'hash' and redis.call('HGET', tk, 'status') == 'queued' then
      local t = redis.call('HMGET', tk, 'error', 'claim_key', 'fallback')
      local to = 'lost'
      if type(t[1]) == 'string' and string.sub(t[1], 1, #RELEASED) == RELEASED then
        redis.call('HSET', tk, 'error',
                   cut(t[1], ERROR_MAX - #STOPPED_QUEUED) .. STOPPED_QUEUED)
        -- (HGET, then HSET: the ACLs (queue/acl.c) have no HSETNX)
        if type(t[2]) == 'string' and t[2] ~= '' and
           not redis.call('HGET', P .. 'claims', t[2]) then
          redis.call('HSET', P .. 'claims', t[2], id)
          to = 'interrupted'
          observe(P, id, to, redis.call('HGET', P .. 'private', 'packed:' .. id), t[3])
        end
      end
      count(meta, nil, to)
      redis.call('HSET', tk, 'status', to, 'ended_at', stamp(t_now))
    end
  end
end

-- ARGV: action (pause|resume|stop), uid. A stop ends the trials queued
-- for a retry (end_retries).
local function set_state(keys, a, m)
  local to = ({pause = 'paused', resume = 'active', stop = 'stopped'})[a[1]]
  if not to then
    return fail('EINVAL', "unknown action '" .. tostring(a[1]) .. "' (pause, resume or stop)")
  end
  if m.state == 'deleting' then
    return no_sweep(keys[1])
  end
  if m.state == 'stopped' and to ~= 'stopped' then
    return fail('ESTATE', "sweep '" .. m.name .. "' is stopped for good")
  end
  if to == 'stopped' then
    local err = retries_end_ok(keys[1])
    if err then
      return err
    end
  end
  redis.call('HSET', keys[1], 'state', to)
  if to == 'stopped' then
    end_retries(keys[1], now())
  end
  return to
end

-- ARGV: budget (N, or +N to add N to the sweep's budget), uid, fallback
-- entries (none or more). Sets the sweep's trial budget: raised, a sweep
-- that used its budget hands out trials again (proteind serves it again
-- and tops its fallback pool up); lowered to what it handed out or less,
-- it hands out no more and its running trials finish. The entries are
-- appended to the fallback pool: fresh points for the claims past the
-- old budget that find no queued point (no proteind, or before it serves
-- the sweep again), which the pool, of the old budget's size, would give
-- again from its start. A grid's budget is its points, a stopped sweep
-- stays stopped, and a sweep without a budget gets one only as N.
-- Returns {the budget, the trials counted against it (lost ones not)}.
local function set_budget(keys, a, m)
  local text = type(a[1]) == 'string' and a[1] or ''
  local add = string.sub(text, 1, 1) == '+'
  local digits = add and string.sub(text, 2) or text
  local n = string.match(digits, '^%d+$') and whole(digits) or nil
  if n and add then
    if m.max_trials == 0 then
      return fail('EINVAL', "sweep '" .. m.name .. "' has no budget to add to: give the whole budget")
    end
    if m.max_trials + n > BUDGET_MAX then
      return fail('EINVAL', "sweep '" .. m.name .. "': its budget of " .. m.max_trials ..
                  ' trials ' .. text .. ' is over the largest, ' .. BUDGET_MAX)
    end
    n = m.max_trials + n
  end
  if not n or n < 1 or n > BUDGET_MAX then
    return fail('EINVAL', "sweep '" .. m.name .. "': a budget is a whole number of trials from 1 to " ..
                BUDGET_MAX .. ', not ' .. string.sub(tostring(a[1]), 1, 40))
  end
  if m.state == 'deleting' then
    return no_sweep(keys[1])
  end
  if m.state == 'stopped' then
    return fail('ESTATE', "sweep '" .. m.name .. "' is stopped for good")
  end
  local grid_text = redis.call('HGET', keys[1], 'grid')
  local grid, n_lost = whole(grid_text, true), whole(m.n_lost, true)
  if not grid then
    return corrupt(keys[1], 'meta field grid', grid_text)
  end
  if not n_lost then
    return corrupt(keys[1], 'meta field n_lost', m.n_lost)
  end
  if grid > 0 then
    return fail('EINVAL', "sweep '" .. m.name .. "' is a grid: its budget is its " .. grid .. ' points')
  end
  local err = check_entries(a, 3, 'fallback', true) or types_ok(keys[1], {'fallback'})
  if err then
    return err
  end
  redis.call('HSET', keys[1], 'max_trials', n)
  push_all(prefix_of(keys[1]) .. 'fallback', a, 3)
  if n > m.max_trials then
    wake(keys[1])
  end
  return {n, m.n_trials - n_lost}
end

-- ARGV: uid. KEYS: meta, the sweep's index. Deletes the sweep in chunks:
-- the first call marks it deleting (no claims, gone from its index), each
-- call removes up to DELETE_CHUNK trial hashes, the last one the rest.
-- Returns 0 when the sweep is gone, 1 when the caller must call again.
-- Reads the meta leniently, so that a damaged sweep can still go.
local function delete(keys, a)
  local meta = keys[1]
  local err = check_index_keys(keys)
  if err then
    return err
  end
  local meta_type = type_of(meta)
  if meta_type == 'none' then
    return no_sweep(meta)
  end
  if type_of(keys[2]) ~= 'none' and type_of(keys[2]) ~= 'zset' then
    return corrupt(meta, 'the type of key ' .. keys[2], type_of(keys[2]))
  end
  local v = {}
  if meta_type == 'hash' then
    v = redis.call('HMGET', meta, 'owner_uid', 'n_trials', 'delete_next')
  end
  local owner_uid = whole(v[1])
  if not may_control(a, 1, owner_uid) then
    return not_owner(meta, v[1])
  end
  local P = prefix_of(meta)
  if meta_type ~= 'hash' then
    redis.call('UNLINK', meta)
    redis.call('HSET', meta, 'name', name_of(meta), 'state', 'deleting')
  end
  local n_trials = whole(v[2])
  local first = whole(v[3]) or 1
  if first < 1 then
    first = 1
  end
  local last = first + DELETE_CHUNK - 1
  if n_trials and n_trials >= 0 and n_trials < last then
    last = n_trials
  end
  local found = 0
  for id = first, last do
    found = found + redis.call('UNLINK', P .. 'trial:' .. id)
  end
  -- Trial ids are dense (1..n_trials): a chunk without one ends them,
  -- whatever a damaged n_trials says.
  if last >= first and found > 0 and (not n_trials or last < n_trials) then
    redis.call('HSET', meta, 'state', 'deleting', 'delete_next', last + 1)
    redis.call('ZREM', keys[2], name_of(meta))
    return 1
  end
  for i = 1, BANDS_MAX do
    redis.call('UNLINK', P .. 'milestone:' .. i)
  end
  redis.call('UNLINK', meta, P .. 'config', P .. 'queue', P .. 'retry', P .. 'fallback',
             P .. 'claims', P .. 'private', P .. 'leases', P .. 'observations',
             P .. 'coordinator', P .. 'handed', P .. 'waiting')
  redis.call('ZREM', keys[2], name_of(meta))
  return 0
end

-- The item of text (items matching pattern) that is, or starts with, the
-- digest of token and a space; nil when none is. Redis keeps only SHA-1
-- digests of tokens: reading them tells nobody a token.
local function holding(text, pattern, token)
  if type(text) ~= 'string' or type(token) ~= 'string' or token == '' then
    return nil
  end
  local d = redis.sha1hex(token)
  for x in string.gmatch(text, pattern) do
    if x == d or string.sub(x, 1, #d + 1) == d .. ' ' then
      return x
    end
  end
  return nil
end

-- Whether token matches one of the digests (space separated) kept for a
-- trial.
local function token_ok(digests, token)
  return holding(digests, '%x+', token) ~= nil
end

-- Whether token's digest is the last of digests (a trial's token:ID): no
-- claim came since token's, since a resume under the same key appends
-- its own. Compared at the end of digests: an unanchored pattern for the
-- last item (a search from every start) took time quadratic in a long
-- run of hex digits that its owner stored there, and no FUNCTION KILL
-- stops a pattern match.
local function last_token(digests, token)
  if type(digests) ~= 'string' or type(token) ~= 'string' or token == '' then
    return false
  end
  local d = redis.sha1hex(token)
  return string.sub(digests, -#d) == d and
         not string.find(string.sub(digests, -#d - 1, -#d - 1), '%x')
end

-- text (items matching pattern, joined by sep) with the items of more
-- appended, the oldest dropped beyond TOKENS_KEPT.
local function append_kept(text, pattern, sep, more)
  local list = {}
  if type(text) == 'string' then
    for x in string.gmatch(text, pattern) do
      list[#list + 1] = x
    end
  end
  for _, x in ipairs(more) do
    list[#list + 1] = x
  end
  local from = math.max(1, #list - TOKENS_KEPT + 1)
  return table.concat(list, sep, from, #list)
end

-- digests with the digest of token added, the oldest dropped beyond
-- TOKENS_KEPT.
local function add_digest(digests, token)
  return append_kept(digests, '%x+', ' ', {redis.sha1hex(token)})
end

-- late with one line "DIGEST DEADLINE KEY" added per digest of digests:
-- the tokens of a claim (KEY) whose lease ran out at DEADLINE, which may
-- still record the trial's outcome when their task ends after all (a
-- job suspended, or given a longer time limit). The oldest lines go
-- beyond TOKENS_KEPT; control characters in KEY become '?'.
local function add_late(late, digests, deadline, key)
  local lines = {}
  key = string.gsub(string.sub(key, 1, FIELD_MAX), '%c', '?')
  for x in string.gmatch(digests, '%x+') do
    lines[#lines + 1] = x .. ' ' .. deadline .. ' ' .. key
  end
  return append_kept(late, '[^\n]+', '\n', lines)
end

-- The claim key and lease deadline (text) that late (add_late's lines)
-- records for token, or nil when token is none of them.
local function late_holder(late, token)
  local line = holding(late, '[^\n]+', token)
  if not line then
    return nil
  end
  local deadline, key = string.match(line, '^%x+ (%S+) (.*)$')
  return key, deadline
end

-- The ESTATE reply when holder does not hold the sweep's coordinator
-- lease (protein_coord_acquire), nil when it does.
local function not_holder(meta, holder)
  local cur = redis.call('GET', prefix_of(meta) .. 'coordinator')
  if type(holder) == 'string' and cur == holder then
    return nil
  end
  return fail('ESTATE', "coordinator lease of sweep '" .. name_of(meta) ..
              "' is held by " .. tostring(cur or 'nobody') .. ', not ' .. tostring(holder))
end

-- Ends the lease of trial id (deadline: its lease's, a number) of the
-- sweep of meta (m its meta): a running trial becomes lost, or queued for
-- a retry within max_retries unless the sweep is stopped (which claims
-- no retry: the trial would stay queued for good), with a "lost"
-- observation; any other (ended, or no trial hash: a broken entry) just
-- leaves the leases.
local function end_lease(meta, m, id, deadline, t_now)
  local P = prefix_of(meta)
  local tk = P .. 'trial:' .. id
  local t = {}
  if type_of(tk) == 'hash' then
    t = redis.call('HMGET', tk, 'claim_key', 'retries', 'fallback', 'status')
  end
  redis.call('ZREM', P .. 'leases', id)
  if t[4] ~= 'running' then
    return
  end
  local holder = type(t[1]) == 'string' and t[1] or '?'
  if t[1] then
    redis.call('HDEL', P .. 'claims', t[1])
  end
  local secret = redis.call('HMGET', P .. 'private', 'token:' .. id, 'late:' .. id)
  if type(secret[1]) == 'string' then
    redis.call('HSET', P .. 'private', 'late:' .. id,
               add_late(secret[2], secret[1], stamp(deadline), holder))
  end
  observe(P, id, 'lost', redis.call('HGET', P .. 'private', 'packed:' .. id), t[3])
  local err_text = 'lease expired at ' .. stamp(deadline) .. ' (no outcome from ' ..
                   string.sub(holder, 1, FIELD_MAX) .. ')'
  local retries = whole(t[2], true) or m.max_retries
  if retries < m.max_retries and m.state ~= 'stopped' then
    redis.call('HSET', tk, 'status', 'queued', 'error', err_text, 'retries', retries + 1)
    redis.call('RPUSH', P .. 'retry', id)
  else
    count(meta, nil, 'lost')
    redis.call('HSET', tk, 'status', 'lost', 'error', err_text, 'ended_at', stamp(t_now))
  end
end

-- The time is the server's. Ends (end_lease) up to EXPIRE_CHUNK leases
-- whose deadline has passed, and (when before, a deadline's text, is
-- given) is not after it, except those of the trials in spare (a set of
-- ids; nil: none) whose deadline passed grace seconds ago or less;
-- returns how many it ended (EXPIRE_CHUNK: call again, more may be due).
-- The leases spared are read past, not counted: however many there are,
-- they never hide the ones due after them.
local function expire(keys, m, grace, before, spare)
  local meta = keys[1]
  local P = prefix_of(meta)
  local t_now = now()
  local err = counters_ok(meta, nil, 'lost') or
              types_ok(meta, {'leases', 'claims', 'private', 'retry', 'observations'})
  if err then
    return err
  end
  local cut = '(' .. t_now
  if before and tonumber(before) < t_now then
    cut = before
  end
  spare = spare or {}
  local n_spare = 0
  for _ in pairs(spare) do
    n_spare = n_spare + 1
  end
  local due = redis.call('ZRANGEBYSCORE', P .. 'leases', '-inf', cut,
                         'WITHSCORES', 'LIMIT', 0, EXPIRE_CHUNK + n_spare)
  local ended = 0
  for i = 1, #due, 2 do
    local id, deadline = due[i], tonumber(due[i + 1])
    if ended == EXPIRE_CHUNK then
      break
    end
    if not (spare[id] and deadline >= t_now - grace) then
      end_lease(meta, m, id, deadline, t_now)
      ended = ended + 1
    end
  end
  return ended
end

-- ARGV: grace in seconds (0 to GRACE_MAX; absent: 0), before (a
-- deadline; absent or '': none), then the ids of the trials to spare (up
-- to DUE_MAX, as protein_due names them). expire's grace lets a
-- coordinator that could not learn yet whether a trial's job still runs
-- keep that trial up to that long past its deadline, trial by trial: the
-- others due are expired at once, so that a job Slurm said ended never
-- waits for another's answer. before spares the trials due after the
-- cut of the protein_due call it asked about (which read only the
-- earliest, and those due by then). A caller
-- delays only the expiry of the sweeps its ACL reaches, and never for
-- more than GRACE_MAX.
local function expire_after(keys, a, m)
  local grace = 0
  if a[1] ~= nil then
    grace = whole(a[1])
    if not grace or grace < 0 or grace > GRACE_MAX then
      return fail('EINVAL', 'the grace of an expiry is 0 to ' .. GRACE_MAX .. ' seconds')
    end
  end
  local before = a[2]
  if before == '' then
    before = nil
  elseif before ~= nil and not (string.match(before, '^%d+%.?%d*$') and tonumber(before)) then
    return fail('EINVAL', 'the deadline an expiry stops before is a time in seconds')
  end
  if #a - 2 > DUE_MAX then
    return fail('EINVAL', 'an expiry spares at most ' .. DUE_MAX .. ' trials')
  end
  local spare = {}
  for i = 3, #a do
    if not string.match(a[i], '^%d+$') or #a[i] > 18 then
      return fail('EINVAL', 'an expiry spares trials by their ids, not ' ..
                  string.sub(a[i], 1, FIELD_MAX))
    end
    spare[a[i]] = true
  end
  return expire(keys, m, grace, before, spare)
end

-- The deadline (text, a score of leases) up to which ids (the
-- WITHSCORES reply of a read of at most n leases due, the earliest
-- first) holds every lease due: '0' when it holds none. When leases tied
-- with its last one were left beyond n, the cut falls before them (on
-- the last one read, should all n tie: a bound that never moves would
-- hold the same n forever). A cut below 1 (a damaged score: none is
-- written so) is '1', so that it reads neither as none due ('0'), which
-- would keep those leases forever, nor as a malformed reply.
local function due_cut(P, ids, n)
  if #ids == 0 then
    return '0'
  end
  local cut = ids[#ids]
  if #ids == 2 * n and redis.call('ZCOUNT', P .. 'leases', '-inf', cut) > n then
    for i = #ids - 2, 2, -2 do
      if tonumber(ids[i]) < tonumber(ids[#ids]) then
        cut = ids[i]
        break
      end
    end
  end
  if not (tonumber(cut) >= 1) then
    return '1'
  end
  return cut
end

-- Read-only. ARGV: the most leases to read (1 to DUE_MAX). Reads the
-- leases whose deadline has passed, the earliest first, up to that many:
-- {the sweep's owner_uid, cut, then per running trial {id, claim_key,
-- uid (the claim's, '' when not recorded), deadline}}. A lease whose
-- trial key holds no hash, whose trial is not running or has no claim
-- key, is read but left out of the list (expire ends it unasked: there
-- is no job to ask about). cut (due_cut) is the deadline the read went
-- up to: an expire bounded by it (before) ends only leases this call
-- read, never one that fell due after it or beyond the count.
local function due(keys, a, m)
  local P = prefix_of(keys[1])
  local n = whole(a[1])
  if not n or n < 1 or n > DUE_MAX then
    return fail('EINVAL', 'the trials due are asked 1 to ' .. DUE_MAX .. ' at a time')
  end
  local err = types_ok(keys[1], {'leases'})
  if err then
    return err
  end
  local ids = redis.call('ZRANGEBYSCORE', P .. 'leases', '-inf', '(' .. now(),
                         'WITHSCORES', 'LIMIT', 0, n)
  local out = {m.owner_uid, due_cut(P, ids, n)}
  for i = 1, #ids, 2 do
    local tk = P .. 'trial:' .. ids[i]
    if type_of(tk) == 'hash' then
      local t = redis.call('HMGET', tk, 'status', 'claim_key', 'uid')
      if t[1] == 'running' and type(t[2]) == 'string' then
        out[#out + 1] = {ids[i], t[2], t[3] or '', ids[i + 1]}
      end
    end
  end
  return out
end

-- ARGV: holder, id, claim_key. For the sweep's coordinator (holder holds
-- its lease), which found the trial's job still running in Slurm: renews
-- the lease of trial id from now by its lease_seconds (never shortening
-- it) while the trial runs under claim_key still, so that a trial whose
-- outcome came meanwhile, or that was expired and claimed again under
-- another key, is left alone (ESTATE). Returns the new deadline (text).
local function extend(keys, a)
  local meta = keys[1]
  local P = prefix_of(meta)
  local err = not_holder(meta, a[1])
  if err then
    return err
  end
  local id, key = a[2], a[3]
  if not whole(id) or type(key) ~= 'string' or key == '' or #key > FIELD_MAX then
    return fail('EINVAL', "sweep '" .. name_of(meta) .. "': an extension names a trial id " ..
                'and its claim key')
  end
  err = types_ok(meta, {'leases', 'claims'})
  if err then
    return err
  end
  local tk = P .. 'trial:' .. id
  if type_of(tk) ~= 'hash' then
    return no_trial(meta, id)
  end
  local t = redis.call('HMGET', tk, 'status', 'claim_key', 'lease_seconds')
  if t[1] ~= 'running' then
    return not_running(meta, id, tostring(t[1]))
  end
  local old = redis.call('ZSCORE', P .. 'leases', id)
  if t[2] ~= key or redis.call('HGET', P .. 'claims', key) ~= id or not old then
    return fail('ESTATE', 'trial ' .. id .. " of sweep '" .. name_of(meta) ..
                "' is not running under claim " .. string.sub(key, 1, FIELD_MAX))
  end
  local lease = whole(t[3])
  if not lease or lease < 1 then
    return corrupt(meta, 'lease_seconds of trial ' .. id, t[3])
  end
  local deadline = math.max(tonumber(old), now() + lease)
  redis.call('ZADD', P .. 'leases', deadline, id)
  return stamp(deadline)
end

-- ARGV: claim_key, uid, job_id, array_index, node, lease_seconds,
-- allow_fallback (0|1), token for this claim, user name. A privileged
-- caller claims for uid / user (the sweep's owner, or anyone when it is
-- shared); anyone else claims for themself, in a sweep their ACL reaches.
-- A stopped or paused sweep still lets a claim resume its trial (a
-- requeued task: running trials finish and are recorded), a deleting
-- one does not.
local function claim(keys, a, m)
  local meta = keys[1]
  local P = prefix_of(meta)
  local key, token = a[1], a[8]
  if m.state == 'deleting' then
    return fail('ESTOPPED', "sweep '" .. m.name .. "' is " .. m.state)
  end
  if privileged() and m.shared ~= '1' then
    local owner = owner_of(meta)
    local mine
    if owner then
      mine = a[9] == owner
    else
      mine = whole(a[2]) == m.owner_uid
    end
    if not mine then
      return fail('EPERM', "sweep '" .. m.name .. "' belongs to " ..
                  (owner or ('uid ' .. m.owner_uid)) .. ' and is not shared')
    end
  end
  if type(key) ~= 'string' or key == '' or #key > FIELD_MAX or
     type(a[3]) ~= 'string' or #a[3] > FIELD_MAX or
     type(a[5]) ~= 'string' or #a[5] > FIELD_MAX or not whole(a[4]) then
    return fail('EINVAL', "sweep '" .. m.name .. "': claim key, job id and node are " ..
                'at most ' .. FIELD_MAX .. ' bytes, the array index a whole number')
  end
  if type(token) ~= 'string' or not string.match(token, '^%x+$') or #token < 32 or
     #token > 64 then
    return fail('EINVAL', "sweep '" .. m.name .. "': a claim token is 32 to 64 hex digits")
  end
  local lease = whole(a[6])
  if not lease or lease < 0 then
    return fail('EINVAL', "sweep '" .. m.name .. "': lease_seconds must be a whole number")
  end
  local err = types_ok(meta, {'claims', 'private', 'leases', 'retry', 'queue', 'fallback',
                              'handed', 'waiting'})
  if err then
    return err
  end
  if lease == 0 then
    lease = m.lease_seconds
  end
  if lease <= 0 then
    lease = 86400
  end
  local t_now = now()
  local deadline = t_now + lease
  local running = {'status', 'running', 'claim_key', key, 'job_id', a[3],
                   'array_index', a[4], 'node', a[5], 'claimed_at', stamp(t_now),
                   'lease_seconds', tostring(lease), 'uid', tostring(whole(a[2]) or '')}

  -- Runs trial id (key tk, attempts so far n) again, resumed or retried:
  -- marks it running under this claim. Returns the attempt count, this
  -- one included. The last attempt's error and end go: a running trial
  -- has neither, and attempts and retries keep the count of what came
  -- before.
  local function rerun(tk, id, n)
    redis.call('HDEL', tk, 'error', 'ended_at')
    redis.call('HSET', tk, 'attempts', n + 1, unpack(running))
    redis.call('ZADD', P .. 'leases', deadline, id)
    return n + 1
  end

  local id = redis.call('HGET', P .. 'claims', key)
  if id then
    local tk = P .. 'trial:' .. id
    local t = redis.call('HMGET', tk, 'status', 'params', 'fallback', 'attempts')
    if t[1] ~= 'running' and t[1] ~= 'interrupted' then
      return fail('ESTATE', 'trial ' .. id .. " of sweep '" .. m.name ..
                  "' claimed by " .. key .. ' is already ' .. tostring(t[1]))
    end
    local n = whole(t[4], true)
    if not whole(id) or not n or type(t[2]) ~= 'string' then
      return corrupt(meta, 'trial ' .. id, t[4])
    end
    local err = counters_ok(meta, t[1], nil)
    if err then
      return err
    end
    local digests = redis.call('HGET', P .. 'private', 'token:' .. id)
    count(meta, t[1], nil)
    local attempts = rerun(tk, id, n)
    redis.call('HSET', P .. 'private', 'token:' .. id, add_digest(digests, token))
    return claim_reply(m, id, token, 1, attempts, t[2], t[3])
  end
  if m.state == 'paused' or m.state == 'stopped' then
    return fail('ESTOPPED', "sweep '" .. m.name .. "' is " .. m.state)
  end

  -- With no coordinator alive nothing else ends the leases of trials whose
  -- holder vanished: the claim does, so that their points are retried
  -- (below) or their budget slots given back, never left running. The
  -- first lease due is looked up alone (leases' type is checked above):
  -- expire's own checks cost a fallback claim an eighth more server time.
  local coordinated = redis.call('EXISTS', P .. 'coordinator') == 1
  if not coordinated and
     #redis.call('ZRANGEBYSCORE', P .. 'leases', '-inf', '(' .. t_now, 'LIMIT', 0, 1) > 0 then
    local expired = expire(keys, m, 0)
    if type(expired) == 'table' then
      return expired
    end
    m.n_lost = redis.call('HGET', meta, 'n_lost')
  end

  -- A trial queued for a retry; malformed ids at the head are dropped.
  for _ = 1, DROP_MAX do
    id = redis.call('LINDEX', P .. 'retry', 0)
    if not id then
      break
    end
    local tk = P .. 'trial:' .. id
    local t = {}
    if type_of(tk) == 'hash' then
      t = redis.call('HMGET', tk, 'status', 'params', 'fallback', 'attempts')
    end
    redis.call('LPOP', P .. 'retry')
    local n = whole(t[4], true)
    if whole(id) and t[1] == 'queued' and type(t[2]) == 'string' and n then
      local attempts = rerun(tk, id, n)
      redis.call('HSET', P .. 'claims', key, id)
      redis.call('HSET', P .. 'private', 'token:' .. id, add_digest(nil, token))
      return claim_reply(m, id, token, 0, attempts, t[2], t[3])
    end
  end

  -- Lost trials (their lease ran out, no retry left) give their slot back.
  local n_lost = whole(m.n_lost, true)
  if not n_lost then
    return corrupt(meta, 'meta field n_lost', m.n_lost)
  end
  local next_at = redis.call('HMGET', meta, 'fallback_next', 'grid')
  local fallback_next, grid = whole(next_at[1], true), whole(next_at[2], true)
  if not fallback_next then
    return corrupt(meta, 'meta field fallback_next', next_at[1])
  end
  if not grid then
    return corrupt(meta, 'meta field grid', next_at[2])
  end
  if m.max_trials > 0 and m.n_trials - n_lost >= m.max_trials then
    return fail('EBUDGET', "sweep '" .. m.name .. "' has handed out all " ..
                m.max_trials .. ' trials')
  end
  -- A grid's points are the pool's, each handed out once, in grid order,
  -- by the pool's cursor alone (proteind queues none): past the last one
  -- the grid is done, as a budget is used up.
  if grid > 0 and fallback_next >= grid then
    return fail('EBUDGET', "sweep '" .. m.name .. "' has handed out all " .. grid ..
                ' points of its grid')
  end
  local next_key = P .. 'trial:' .. (m.n_trials + 1)
  if type_of(next_key) ~= 'none' and type_of(next_key) ~= 'hash' then
    return corrupt(meta, 'the type of key ' .. next_key, type_of(next_key))
  end
  -- The head of the ready queue; malformed entries are dropped.
  local e
  for _ = 1, DROP_MAX do
    local entry = redis.call('LPOP', P .. 'queue')
    if not entry then
      break
    end
    e = decode_entry(entry)
    if e then
      break
    end
  end
  local fallback, pool_first = 0, false
  if not e then
    -- Waiting helps only while a coordinator holds the sweep's lease: it
    -- renews it while its loop serves the sweep and drops it on an error.
    if a[7] ~= '1' and coordinated and grid == 0 then
      redis.call('ZREMRANGEBYSCORE', P .. 'waiting', '-inf', '(' .. (t_now - WAITING_SECONDS))
      redis.call('ZADD', P .. 'waiting', t_now, key)
      return fail('EEMPTY', "sweep '" .. m.name .. "': ready queue empty")
    end
    -- The next point of the pool, never one handed out before while the
    -- pool lasts (it holds max_trials points, and a raise adds its own
    -- (protein budget); proteind tops up others).
    -- The pool starts with the config's defaults, as does a new sweep's
    -- coordinator, and only that first point can be one the queue handed
    -- out (the others are Sobol points, never a model's): there, a point
    -- in handed is passed over so that the defaults do not run twice, and
    -- the point claimed goes into handed so that proteind's copy of it is
    -- left out of the queue. The other points cost no set lookup.
    -- A damaged entry fails this claim, naming it; the pool's cursor has
    -- moved past it, so that the next claim takes the next point.
    -- A grid's pool is never wrapped around: its next points are not there
    -- until proteind adds them (a grid larger than the pool create made).
    local size = redis.call('LLEN', P .. 'fallback')
    if grid > 0 and fallback_next >= size then
      return fail('EEMPTY', "sweep '" .. m.name .. "': grid point " .. (fallback_next + 1) ..
                  ' is not in the fallback pool yet (a running proteind adds it)')
    end
    if size > 0 then
      for _ = 1, 2 do
        local at = redis.call('HINCRBY', meta, 'fallback_next', 1) - 1
        e = decode_entry(redis.call('LINDEX', P .. 'fallback', at % size))
        if not e then
          return fail('ECORRUPT', "sweep '" .. m.name .. "': entry " .. (at % size) ..
                      ' of key ' .. P .. 'fallback is not a msgpack [params JSON, ' ..
                      'packed params] pair (a damaged or hand-edited store; the ' ..
                      'next claim takes the next point)')
        end
        pool_first = at % size == 0
        -- SMISMEMBER: the worker ACL (queue/acl.c) has no SISMEMBER
        if grid > 0 or not pool_first or
           redis.call('SMISMEMBER', P .. 'handed', e[1])[1] == 0 then
          break
        end
      end
    end
    if not e then
      return fail('EEMPTY', "sweep '" .. m.name .. "' has no usable fallback point")
    end
    fallback = 1
  end
  redis.call('ZREM', P .. 'waiting', key)
  if fallback == 0 or pool_first then
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
  redis.call('HSET', P .. 'private', 'token:' .. id, add_digest(nil, token),
             'packed:' .. id, e[2])
  redis.call('HSET', P .. 'claims', key, id)
  redis.call('ZADD', P .. 'leases', deadline, id)
  return claim_reply(m, id, token, 0, 1, e[1], fallback)
end

-- Checks trial and token. Returns the trial key and a table {status, stop,
-- fallback, lease, packed, late_key, late_at, late_only}, or nil and an
-- error reply. With late_ok, a token of a claim whose lease expired (see
-- add_late) is taken too, even once another claim holds the trial: then
-- late_key and late_at name that claim and its deadline, and late_only is
-- true unless the token is also the trial's current one (lost, or queued
-- and not claimed again).
local function owned_trial(meta, id, token, late_ok)
  if not is_meta_key(meta) then
    return nil, bad_key(meta)
  end
  -- a trial whose sweep lost its meta (evicted, deleted by hand) must not
  -- bring back a meta of bare counters
  if redis.call('EXISTS', meta) == 0 then
    return nil, no_sweep(meta)
  end
  local n = whole(id)
  if not n or n < 1 then
    return nil, no_trial(meta, id)
  end
  local P = prefix_of(meta)
  local tk = P .. 'trial:' .. id
  local t = redis.call('HMGET', tk, 'status', 'stop_requested', 'fallback', 'lease_seconds')
  if not t[1] then
    return nil, no_trial(meta, id)
  end
  local secret = redis.call('HMGET', P .. 'private', 'token:' .. id, 'packed:' .. id,
                            'late:' .. id)
  local current = token_ok(secret[1], token)
  local late_key, late_at
  if late_ok then
    late_key, late_at = late_holder(secret[3], token)
  end
  if not current and not late_key then
    return nil, fail('ETOKEN', 'wrong token for trial ' .. id .. " of sweep '" ..
                     name_of(meta) .. "' (it was claimed again, or the token is stale)")
  end
  return tk, {status = t[1], stop = t[2], fallback = t[3], lease = t[4], packed = secret[2],
              late_key = late_key, late_at = late_at, late_only = not current}
end

-- Whether a trial ending as `to` with score reaches the sweep's
-- metric.target (W&B: the sweep then ends; trials running finish) while
-- the sweep still hands trials out: the target's text, or nil; nil and an
-- error reply when the stored target or goal is malformed.
local function target_reached(meta, to, score)
  local x = finite(score)
  if (to ~= 'completed' and to ~= 'pruned') or not x then
    return nil
  end
  local g = redis.call('HMGET', meta, 'target', 'goal_minimize', 'state')
  if not g[1] then
    return nil
  end
  local target = finite(g[1])
  if not target then
    return nil, corrupt(meta, 'meta field target', g[1])
  end
  if g[2] ~= '0' and g[2] ~= '1' then
    return nil, corrupt(meta, 'meta field goal_minimize', g[2])
  end
  if g[3] ~= 'active' and g[3] ~= 'paused' then
    return nil
  end
  if (g[2] == '1' and x <= target) or (g[2] == '0' and x >= target) then
    return g[1]
  end
  return nil
end

-- Ends a trial that is running, lost, or queued for a retry, with outcome
-- `to` (pruned instead when a stop was requested), the hash fields and the
-- observation's score and cost. An error an earlier attempt left goes (a
-- late result of a lost or requeued trial still has one): the trial keeps
-- only the error its outcome comes with, if any.
-- A completion or failure from a claim whose lease expired (a task that
-- was suspended, or outlived its lease, and finished after all) is taken
-- whatever became of the trial since, while it has no outcome: lost (its
-- budget slot is taken back), queued for a retry (the retry goes), or
-- claimed again for the retry, running or interrupted (that run's outcome
-- then gets ESTATE, its resume too): the first outcome of the point wins.
-- late_key and late_expired_at then say so in the trial. The digest of
-- the token whose outcome was recorded is kept (private done:ID): a
-- repeat from that token gets EDONE, any other outcome ESTATE.
local function finish(meta, id, token, to, fields, score, cost)
  local tk, t = owned_trial(meta, id, token, to ~= 'interrupted')
  if not tk then
    return t
  end
  local P = prefix_of(meta)
  local st = t.status
  if st ~= 'running' and st ~= 'lost' and st ~= 'queued' and
     not (st == 'interrupted' and t.late_only) then
    if redis.call('HGET', P .. 'private', 'done:' .. id) == redis.sha1hex(token) then
      -- a client that lost the answer to its first try tells its own
      -- outcome, recorded, from another claim's (ESTATE below)
      return fail('EDONE', 'trial ' .. id .. " of sweep '" .. name_of(meta) ..
                  "' is already " .. st .. ' with the outcome of this claim')
    end
    local late = redis.call('HMGET', tk, 'late_key', 'late_expired_at')
    local how = ''
    if late[1] then
      how = ' (recorded from ' .. late[1] .. ', whose lease had expired at ' ..
            tostring(late[2]) .. ')'
    end
    return fail('ESTATE', 'trial ' .. id .. " of sweep '" .. name_of(meta) ..
                "' is already " .. st .. how)
  end
  if to == 'interrupted' then
    if st ~= 'running' then
      return not_running(meta, id, st)
    end
  elseif t.stop == '1' and not t.late_only then
    -- (a stop asked of the run that claimed the trial again is not this
    -- run's)
    to = 'pruned'
  end
  local err = counters_ok(meta, st, to) or types_ok(meta, {'leases', 'retry', 'observations'})
  if err then
    return err
  end
  local reached
  reached, err = target_reached(meta, to, score)
  if reached and not err then
    err = retries_end_ok(meta)
  end
  if err then
    return err
  end
  if st == 'running' then
    redis.call('ZREM', P .. 'leases', id)
  elseif st == 'queued' then
    redis.call('LREM', P .. 'retry', 1, id)
  end
  count(meta, st, to)
  redis.call('HDEL', tk, 'error')
  if t.late_key then
    fields[#fields + 1] = 'late_key'
    fields[#fields + 1] = t.late_key
    fields[#fields + 1] = 'late_expired_at'
    fields[#fields + 1] = t.late_at
  end
  redis.call('HSET', tk, 'status', to, 'ended_at', stamp(now()), unpack(fields))
  redis.call('HSET', P .. 'private', 'done:' .. id, redis.sha1hex(token))
  observe(P, id, to, t.packed, t.fallback, score, cost)
  if reached then
    redis.call('HSET', meta, 'state', 'stopped', 'stopped_by', 'trial ' .. id ..
               ' reached the target ' .. reached)
    end_retries(meta, now())
  end
  return to
end

-- ARGV: id, token, score, cost ('' when not reported).
local function complete(keys, a)
  if not finite(a[3]) or (a[4] ~= '' and not finite(a[4])) then
    return fail('EINVAL', 'trial ' .. tostring(a[1]) .. ': score and cost must be finite numbers')
  end
  local fields = {'score', a[3]}
  if a[4] ~= '' then
    fields[3], fields[4] = 'cost', a[4]
  end
  return finish(keys[1], a[1], a[2], 'completed', fields, a[3], a[4])
end

-- ARGV: id, token, exit_status, error text.
local function fail_trial(keys, a)
  if not whole(a[3]) then
    return fail('EINVAL', 'trial ' .. tostring(a[1]) .. ': exit status must be a whole number')
  end
  return finish(keys[1], a[1], a[2], 'failed', {'exit_status', a[3], 'error', short(a[4])})
end

-- ARGV: id, token, reason, spooled ('1': the interrupt comes late, from a
-- node's spool; absent or anything else: from the task that just ended).
-- A spooled interrupt is void once its trial was claimed again since
-- (its token is no longer the last one kept): a requeued task resumes
-- its trial under the same claim key, and its run must not end as
-- interrupted, nor lose its own outcome (ESTATE), because the earlier
-- run's interrupt reached Redis only after it. The cost, for a step on
-- several nodes whose first node's claim was not the last of them: its
-- spooled interrupt is refused too, and the trial runs on until its lease
-- expires, or its requeue resumes it.
local function interrupt(keys, a)
  if a[4] == '1' and is_meta_key(keys[1]) and type(a[2]) == 'string' and a[2] ~= '' then
    local P = prefix_of(keys[1])
    local digests = redis.call('HGET', P .. 'private', 'token:' .. tostring(a[1]))
    if token_ok(digests, a[2]) and not last_token(digests, a[2]) then
      return fail('ESTATE', 'trial ' .. tostring(a[1]) .. " of sweep '" .. name_of(keys[1]) ..
                  "' was claimed again since this interrupt was spooled (its task " ..
                  'requeued): the interrupt is void')
    end
  end
  return finish(keys[1], a[1], a[2], 'interrupted', {'error', short(a[3])})
end

-- A trial's curve (its reports 1, 1 + stride, 1 + 2 stride, ... kept, n
-- of them) with report number `reports`, one the stride keeps, added as
-- `line`. Returns the new curve text, its count and stride. When CURVE_MAX
-- are kept, every other one goes and the stride doubles: the curve keeps
-- spanning the whole run.
local function curve_add(curve, n, stride, reports, line)
  if n >= CURVE_MAX then
    local kept, i = {}, 0
    for l in string.gmatch(curve, '[^\n]*\n') do
      if i % 2 == 0 then
        kept[#kept + 1] = l
      end
      i = i + 1
    end
    curve, n, stride = table.concat(kept), #kept, stride * 2
    if (reports - 1) % stride ~= 0 then
      return curve, n, stride
    end
  end
  return curve .. line, n + 1, stride
end

-- W&B's hyperband rule for a trial at its report number `reports`, its
-- signed value `v` (lower is better) and its best so far `best`: records
-- v at a band it reaches (milestone:BAND_INDEX, a zset of trial -> value
-- shared by the sweep), and at the last band reached compares the trial
-- (v there when strict, else its best) with the value ranked
-- int(count / eta) there. Returns true when the trial should stop.
local function hyperband_says_stop(P, h, id, reports, v, best)
  local closest
  for i, b in ipairs(h.bands) do
    if b == reports then
      redis.call('ZADD', P .. 'milestone:' .. i, v, id)
    end
    if b <= reports then
      closest = i
    end
  end
  if not closest then
    return false
  end
  local key = P .. 'milestone:' .. closest
  local cond = best
  if h.strict then
    cond = tonumber(redis.call('ZSCORE', key, id))
  end
  local count = redis.call('ZCARD', key)
  local rank = math.floor((1 / h.eta) * count)
  local thr = redis.call('ZRANGE', key, rank, rank, 'WITHSCORES')
  return cond ~= nil and thr[2] ~= nil and cond > tonumber(thr[2])
end

-- The running trial id that token holds, for a call that renews its
-- lease: tk, t (owned_trial's) and its lease_seconds; or nil and the
-- error reply (not held, not running, a damaged lease or leases key),
-- then t when token holds the trial but it is not running.
local function leased_trial(meta, id, token)
  local tk, t = owned_trial(meta, id, token)
  if not tk then
    return nil, t
  end
  if t.status ~= 'running' then
    return nil, not_running(meta, id, t.status), t
  end
  local lease = whole(t.lease)
  if not lease or lease < 1 then
    return nil, corrupt(meta, 'lease_seconds of trial ' .. id, t.lease)
  end
  local err = types_ok(meta, {'leases'})
  if err then
    return nil, err
  end
  return tk, t, lease
end

-- ARGV: id, token. Renews a running trial's lease from now by its
-- lease_seconds, for a worker that is alive and still runs it (protein
-- agent); returns the trial's stop flag (0|1).
local function renew(keys, a)
  local meta = keys[1]
  local tk, t, lease = leased_trial(meta, a[1], a[2])
  if not tk then
    return t
  end
  redis.call('ZADD', prefix_of(meta) .. 'leases', now() + lease, a[1])
  return t.stop == '1' and 1 or 0
end

-- Whether trial id, whose status st its holder token finds, ended with
-- the outcome of another claim (finish's done:ID): a retry whose point
-- the expired claim's late outcome ended, so that its own outcome would
-- be refused.
local function ended_by_another(meta, id, token, st)
  if st ~= 'completed' and st ~= 'failed' and st ~= 'pruned' then
    return false
  end
  local done = redis.call('HGET', prefix_of(meta) .. 'private', 'done:' .. id)
  return type(done) == 'string' and done ~= redis.sha1hex(token)
end

-- ARGV: id, token, step, score, cost, restart ('1': the first report of
-- a new run of the trial, which starts its record over; '0' or absent).
-- Records the report in the trial's curve (progress_n reports so far;
-- the curve field, one "STEP SCORE COST" line per kept report, cost '-'
-- when not reported), renews the lease, and applies the sweep's hyperband
-- rule. Returns the stop flag (0|1): 1 when a stop was requested or
-- hyperband says so; 2, recording nothing, when the trial already ended
-- with another claim's outcome (its run works for nothing: it should
-- stop). A trial merely lost, queued or interrupted gets ESTATE: a late
-- outcome of its run is still recorded.
local function progress(keys, a)
  local step, score, cost = finite(a[3]), finite(a[4]), finite(a[5])
  if not step or not score or (a[5] ~= '' and not cost) then
    return fail('EINVAL', 'trial ' .. tostring(a[1]) ..
                ': progress step, score and cost must be finite numbers')
  end
  local meta = keys[1]
  local tk, t, lease = leased_trial(meta, a[1], a[2])
  if not tk then
    -- (t: the error; lease: the trial, when the token holds it)
    return lease and ended_by_another(meta, a[1], a[2], lease.status) and 2 or t
  end
  local P = prefix_of(meta)
  local g = redis.call('HMGET', meta, 'hyperband', 'goal_minimize', 'progress_reports')
  local h = g[1] and hyperband_of(g[1])
  if g[1] and not h then
    return corrupt(meta, 'meta field hyperband', g[1])
  end
  if g[2] ~= '0' and g[2] ~= '1' then
    return corrupt(meta, 'meta field goal_minimize', g[2])
  end
  if a[6] ~= nil and a[6] ~= '0' and a[6] ~= '1' then
    return fail('EINVAL', 'trial ' .. tostring(a[1]) .. ': restart must be 0 or 1')
  end
  local restart = a[6] == '1'
  local c = {}
  if not restart then
    c = redis.call('HMGET', tk, 'progress_n', 'progress_best', 'curve_n', 'curve_stride')
  end
  local reports, kept, stride = whole(c[1], true), whole(c[3], true), whole(c[4], true)
  local best = c[2] and finite(c[2])
  if not reports or reports < 0 or not kept or kept < 0 or kept > CURVE_MAX or
     not stride or stride < 0 or (c[2] and not best) then
    return corrupt(meta, 'the curve of trial ' .. a[1], c[1])
  end
  reports, stride = reports + 1, math.max(stride, 1)
  -- the curve (up to ~80 KiB) is read and rewritten only for a report the
  -- stride keeps
  local curve = (reports - 1) % stride == 0 and
                (restart and '' or redis.call('HGET', tk, 'curve') or '')
  if curve and #curve > CURVE_MAX * 80 then
    return corrupt(meta, 'the curve of trial ' .. a[1], string.sub(curve, 1, 40))
  end
  if h then
    for i = 1, #h.bands do
      local ty = type_of(P .. 'milestone:' .. i)
      if ty ~= 'none' and ty ~= 'zset' then
        return corrupt(meta, 'the type of key ' .. P .. 'milestone:' .. i, ty)
      end
    end
  end
  local v = g[2] == '1' and score or -score
  if not best or v < best then
    best = v
  end
  local t_now = now()
  local fields = {'progress_step', string.format('%.17g', step),
                  'progress_score', string.format('%.17g', score),
                  'progress_cost', cost and string.format('%.17g', cost) or '',
                  'progress_at', stamp(t_now), 'progress_n', reports,
                  'progress_best', string.format('%.17g', best)}
  if curve then
    curve, kept, stride = curve_add(curve, kept, stride, reports,
                                    string.format('%.17g %.17g %s\n', step, score,
                                                  cost and string.format('%.17g', cost) or '-'))
    for _, f in ipairs({'curve', curve, 'curve_n', kept, 'curve_stride', stride}) do
      fields[#fields + 1] = f
    end
  end
  redis.call('HSET', tk, unpack(fields))
  -- the coordinator judges running trials for early stopping only when
  -- a report came (or the model moved) since it last did; a count that
  -- is no integer starts over (any change makes it judge again), and does
  -- not cost the report
  if g[3] and not (#g[3] <= 15 and (g[3] == '0' or string.match(g[3], '^[1-9]%d*$'))) then
    redis.call('HSET', meta, 'progress_reports', 0)
  end
  redis.call('HINCRBY', meta, 'progress_reports', 1)
  if restart and h then
    for i = 1, #h.bands do
      redis.call('ZREM', P .. 'milestone:' .. i, a[1])
    end
  end
  redis.call('ZADD', P .. 'leases', t_now + lease, a[1])
  if t.stop == '1' then
    return 1
  end
  if h and hyperband_says_stop(P, h, a[1], reports, v, best) then
    redis.call('HSET', tk, 'stop_requested', 1, 'stopped_by', 'hyperband at report ' .. reports)
    return 1
  end
  return 0
end

-- The key of trial `id` of the sweep and its status followed by the
-- fields asked for (HMGET); nil and an ENOTRIAL reply when there is none.
local function trial_fields(meta, id, ...)
  local n = whole(id)
  if not n or n < 1 then
    return nil, no_trial(meta, id)
  end
  local tk = prefix_of(meta) .. 'trial:' .. id
  local v = redis.call('HMGET', tk, 'status', ...)
  if not v[1] then
    return nil, no_trial(meta, id)
  end
  return tk, v
end

-- Read-only. ARGV: id. The trial's curve: {reports, stride, curve text}
-- ('' and 0 when it reported nothing).
local function curve(keys, a)
  local tk, c = trial_fields(keys[1], a[1], 'progress_n', 'curve_stride', 'curve')
  if not tk then
    return c
  end
  return {c[2] or '0', c[3] or '1', c[4] or ''}
end

-- ARGV: id.
local function request_stop(keys, a)
  local tk, v = trial_fields(keys[1], a[1])
  if not tk then
    return v
  end
  local st = v[1]
  if st ~= 'running' then
    return not_running(keys[1], a[1], st)
  end
  redis.call('HSET', tk, 'stop_requested', 1)
  return 1
end

-- ARGV: holder, ttl_ms. Returns {1|0, current holder}.
local function coord_acquire(keys, a)
  local ttl = whole(a[2])
  if type(a[1]) ~= 'string' or a[1] == '' or #a[1] > FIELD_MAX or not ttl or ttl < 1 then
    return fail('EINVAL', 'a coordinator lease needs a holder id and a positive TTL')
  end
  local ck = prefix_of(keys[1]) .. 'coordinator'
  local cur = redis.call('GET', ck)
  if cur == a[1] then
    redis.call('PEXPIRE', ck, ttl)
    return {1, cur}
  end
  if cur then
    return {0, cur}
  end
  redis.call('SET', ck, a[1], 'PX', ttl)
  return {1, a[1]}
end

-- ARGV: holder. Returns 1 when it held the lease.
local function coord_release(keys, a)
  if not is_meta_key(keys[1]) then
    return bad_key(keys[1])
  end
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
  local err = not_holder(meta, a[1]) or check_entries(a, 2, 'queue', true) or
              types_ok(meta, {'queue', 'handed'})
  if err then
    return err
  end
  local json = {}
  for i = 2, #a do
    json[#json + 1] = decode_entry(a[i])[1]
  end
  redis.call('DEL', P .. 'queue')
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
  if not whole(a[1]) or not finite(a[2]) or type(a[3]) ~= 'string' or #a[3] > 64 then
    return fail('EINVAL', 'refit info is a count, a duration in ms and a backend name')
  end
  redis.call('HSET', keys[1], 'refit_at', stamp(now()), 'refit_n', a[1],
             'refit_ms', a[2], 'refit_backend', a[3])
  return 1
end

-- ARGV: claim_key. The id of the trial claimed under claim_key while it
-- runs, else 0: a step of a job whose batch step holds a trial shares it
-- rather than claiming one of its own.
local function claimed(keys, a)
  local meta = keys[1]
  local P = prefix_of(meta)
  local err = types_ok(meta, {'claims'})
  if err then
    return err
  end
  local id = redis.call('HGET', P .. 'claims', a[1])
  if not whole(id) or redis.call('HGET', P .. 'trial:' .. id, 'status') ~= 'running' then
    return 0
  end
  return tonumber(id)
end

-- ARGV: claim_key, reason, token (optional: the given-up claim's own).
-- Gives back the trial claimed under claim_key whose claimant is gone
-- without having started it (a claim the client gave up on while the
-- server still served it): a running trial goes back to the retry list,
-- not counted as a retry, and the key is forgotten (in a paused sweep
-- too, whose resume serves the list; its error says it was paused, and a
-- stop before a claim took it ends it as below: end_retries). With a
-- token, only when that claim is the trial's last one: a release that
-- comes late (spooled on the node while Redis was down) must not take
-- the trial from the run of a requeued task that resumed it since under
-- the same key, nor one the given-up claim never reached. A stopped
-- sweep claims no retry (it resumes only a requeued task's trial, by its
-- key): there the trial ends as interrupted instead, as its task's end
-- would have ended it, with an interrupted observation, and the key
-- keeps it, so that the job's next requeue still resumes it; on the
-- retry list it would stay queued for good. ARGV: claim key, reason,
-- token ('' or absent: any claim), '1' (absent: an older build's caller).
-- Returns {trial id, what became of it: 'requeued' or 'interrupted'}, or
-- {0, 'none'} when nothing was released; to a caller without the '1' the
-- trial id alone, 0 for none, as builds before this one returned it (a
-- plugin of an older build, mid-upgrade, reads no other reply), and as
-- pq_release reads from the functions of such a build.
local function release(keys, a)
  local meta = keys[1]
  local P = prefix_of(meta)
  if type(a[1]) ~= 'string' or type(a[2]) ~= 'string' or
     (a[3] ~= nil and a[3] ~= '' and not string.match(a[3], '^%x+$')) then
    return fail('EINVAL', 'a release needs a claim key and a reason (and a hex token)')
  end
  local state = redis.call('HGET', meta, 'state')
  local err = types_ok(meta, {'waiting', 'claims', 'leases', 'private', 'retry',
                              'observations'}) or
              (state == 'stopped' and counters_ok(meta, nil, 'interrupted'))
  if err then
    return err
  end
  local function answer(id, how)
    if a[4] == '1' then
      return {id, how}
    end
    return id
  end
  local nothing = answer(0, 'none')
  redis.call('ZREM', P .. 'waiting', a[1])
  local id = redis.call('HGET', P .. 'claims', a[1])
  if not id then
    return nothing
  end
  local tk = P .. 'trial:' .. id
  if not whole(id) or redis.call('HGET', tk, 'status') ~= 'running' then
    return nothing
  end
  if a[3] ~= nil and a[3] ~= '' and
     not last_token(redis.call('HGET', P .. 'private', 'token:' .. id), a[3]) then
    return nothing
  end
  redis.call('ZREM', P .. 'leases', id)
  redis.call('HDEL', P .. 'private', 'token:' .. id)
  -- the error, its reason cut so that the whole is at most ERROR_MAX
  local function released(why, suffix)
    return RELEASED .. cut(why, ERROR_MAX - #RELEASED - #suffix) .. suffix
  end
  if state == 'stopped' then
    count(meta, nil, 'interrupted')
    redis.call('HSET', tk, 'status', 'interrupted', 'ended_at', stamp(now()), 'error',
               released(a[2], ' (the sweep is stopped)'))
    observe(P, id, 'interrupted', redis.call('HGET', P .. 'private', 'packed:' .. id),
            redis.call('HGET', tk, 'fallback'))
    return answer(tonumber(id), 'interrupted')
  end
  redis.call('HDEL', P .. 'claims', a[1])
  redis.call('HSET', tk, 'status', 'queued', 'error',
             released(a[2], state == 'paused' and ' (the sweep is paused)' or ''))
  redis.call('RPUSH', P .. 'retry', id)
  return answer(tonumber(id), 'requeued')
end

-- ARGV: holder, fallback entries... Appends to the fallback pool while
-- holder holds the coordinator lease. Returns the pool's size.
local function fallback_add(keys, a)
  local P = prefix_of(keys[1])
  local err = not_holder(keys[1], a[1]) or check_entries(a, 2, 'fallback') or
              types_ok(keys[1], {'fallback'})
  if err then
    return err
  end
  push_all(P .. 'fallback', a, 2)
  return redis.call('LLEN', P .. 'fallback')
end

-- Read-only: what the coordinator sizes the ready queue by, {state,
-- queue depth, running, waiting claims, max_trials, n_trials, n_lost,
-- retry depth, fallback pool size, the next fallback point's index,
-- progress reports, created_at (the text: a sweep created anew since the
-- coordinator built its model differs)}. ARGV (optional): the most leases
-- due to read (1 to DUE_MAX): protein_due's reply for that count is then
-- added as one more element, an array, so that a coordinator turn asks
-- once for both (a caller that asks none gets the demand alone, as from
-- an older build, whose functions ignore the argument: the caller then
-- calls protein_due).
local function demand(keys, a)
  local meta = keys[1]
  local P = prefix_of(meta)
  local m = redis.call('HMGET', meta, 'state', 'max_trials', 'n_trials', 'n_lost',
                       'fallback_next', 'progress_reports', 'created_at')
  local out = {m[1] or '', redis.call('LLEN', P .. 'queue'),
               redis.call('ZCARD', P .. 'leases'),
               redis.call('ZCOUNT', P .. 'waiting', now() - WAITING_SECONDS, '+inf'),
               whole(m[2]) or 0, whole(m[3]) or 0, whole(m[4]) or 0,
               redis.call('LLEN', P .. 'retry'), redis.call('LLEN', P .. 'fallback'),
               whole(m[5]) or 0, whole(m[6]) or 0, m[7] or ''}
  if a[1] == nil then
    return out
  end
  local full, err = load_meta(meta)
  if not full then
    return err
  end
  local leases_due = due(keys, a, full)
  if leases_due.err then
    return leases_due
  end
  out[#out + 1] = leases_due
  return out
end

-- {field, value, ...} of the given fields of hash key that are present.
local function flat_fields(key, fields)
  local v = redis.call('HMGET', key, unpack(fields))
  local flat = {}
  for i, f in ipairs(fields) do
    if v[i] then
      flat[#flat + 1] = f
      flat[#flat + 1] = v[i]
    end
  end
  return flat
end

-- Read-only: the meta fields plus derived ones and the config text, as a
-- flat array; ECORRUPT naming the key when one of those it reads holds
-- the wrong type.
local function info(keys)
  local meta = keys[1]
  if not is_meta_key(meta) then
    return bad_key(meta)
  end
  local t = type_of(meta)
  if t ~= 'hash' and t ~= 'none' then
    return corrupt(meta, 'the type of key ' .. meta, t)
  end
  local err = types_ok(meta, {'retry', 'queue', 'leases', 'fallback', 'waiting',
                              'coordinator', 'config'})
  if err then
    return err
  end
  local flat = flat_fields(meta, INFO_FIELDS)
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

-- Read-only. ARGV: first id, last id (at most PAGE_MAX ids from first on
-- are read). Returns one flat hash per trial, with the lease deadline of
-- running trials added; a trial key that holds no hash gives {'id', ID,
-- 'key_type', its TYPE}, for the reader to skip or report.
local function trials(keys, a)
  local first, last = whole(a[1]), whole(a[2])
  if not first or not last or first < 1 then
    return fail('EINVAL', 'trial ids are whole numbers from 1')
  end
  last = math.min(last, first + PAGE_MAX - 1)
  local err = types_ok(keys[1], {'leases'})
  if err then
    return err
  end
  local P = prefix_of(keys[1])
  local out = {}
  -- 'running': the trials holding a lease, first..last of them by
  -- deadline, rather than the ids first..last (a sweep of thousands of
  -- trials runs a few at a time)
  local ids = {}
  if a[3] == 'running' then
    for _, id in ipairs(redis.call('ZRANGE', P .. 'leases', first - 1, last - 1)) do
      local n = whole(id)
      if n and n >= 1 then
        ids[#ids + 1] = n
      end
    end
  else
    for id = first, last do
      ids[#ids + 1] = id
    end
  end
  for _, id in ipairs(ids) do
    local t = type_of(P .. 'trial:' .. id)
    local h = {'id', tostring(id), 'key_type', t}
    if t == 'hash' or t == 'none' then
      h = flat_fields(P .. 'trial:' .. id, TRIAL_FIELDS)
    end
    local deadline = redis.call('ZSCORE', P .. 'leases', id)
    if deadline and #h > 0 then
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

-- Read-only: params JSON of running trials and of those queued for a
-- retry, PENDING_MAX at most (the earliest deadlines first); a trial key
-- that holds no hash is left out.
local function pending(keys)
  local P = prefix_of(keys[1])
  local out = {}
  local ids = redis.call('ZRANGE', P .. 'leases', 0, PENDING_MAX - 1)
  if #ids < PENDING_MAX then
    for _, id in ipairs(redis.call('LRANGE', P .. 'retry', 0, PENDING_MAX - #ids - 1)) do
      ids[#ids + 1] = id
    end
  end
  for _, id in ipairs(ids) do
    local p = nil
    if type_of(P .. 'trial:' .. id) == 'hash' then
      p = redis.call('HGET', P .. 'trial:' .. id, 'params')
    end
    if p then
      out[#out + 1] = p
    end
  end
  return out
end

-- Read-only. KEYS: an index (protein:sweeps, protein:{USER/}:sweeps or
-- protein:users). ARGV: the last name of the previous page ('' for the
-- first), page size (at most PAGE_MAX). Returns the next names in order.
local function list(keys, a)
  local k = keys[1]
  if k ~= SWEEPS_KEY and k ~= USERS_KEY and
     not (type(k) == 'string' and string.match(k, '^protein:{[^/{}]+/}:sweeps$')) then
    return fail('EINVAL', 'KEYS[1] must be protein:sweeps, protein:users or protein:{USER/}:sweeps')
  end
  local n = whole(a[2]) or PAGE_MAX
  if n < 1 or n > PAGE_MAX then
    n = PAGE_MAX
  end
  local from = '-'
  if type(a[1]) == 'string' and a[1] ~= '' then
    from = '(' .. a[1]
  end
  return redis.call('ZRANGEBYLEX', k, from, '+', 'LIMIT', 0, n)
end

-- Read-only. KEYS: wake streams (protein:{USER/}:wake, protein:wake), at
-- most WAKE_KEYS_MAX. ARGV: for each, where to read from: an XRANGE start
-- this function returned before ('(ID'), or 'MS-0' (entries from server
-- time MS on); anything else reads from now. Returns {the server's time in
-- ms, then for each key {where to read from next, the names of its next
-- WAKE_COUNT entries at most}}. A key that holds no stream has no
-- entries; an entry without a sweep name of SWEEP_NAME_MAX bytes
-- at most moves the start on and names nothing. The caller checks that
-- each name is of the stream's owner.
local function wakes(keys, a)
  if #keys > WAKE_KEYS_MAX then
    return fail('EINVAL', 'at most ' .. WAKE_KEYS_MAX .. ' wake streams per call')
  end
  local t = redis.call('TIME')
  local now_ms = string.format('%.0f', tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000))
  local out = {tonumber(now_ms)}
  for i, k in ipairs(keys) do
    if k ~= WAKE_KEY and not string.match(k, '^protein:{[^/{}]+/}:wake$') then
      return fail('EINVAL', 'KEYS[' .. i .. '] must be protein:wake or protein:{USER/}:wake')
    end
    local from = a[i]
    if type(from) ~= 'string' or not string.match(from, '^%(?%d+%-%d+$') then
      from = now_ms .. '-0'
    end
    local list = {from}
    local entries = {}
    if type_of(k) == 'stream' then
      entries = redis.pcall('XRANGE', k, from, '+', 'COUNT', WAKE_COUNT)
      if entries.err then
        entries = {}
      end
    end
    for _, e in ipairs(entries) do
      list[1] = '(' .. e[1]
      local f = e[2]
      for j = 1, #f - 1, 2 do
        if f[j] == 'sweep' and #f[j + 1] <= SWEEP_NAME_MAX then
          list[#list + 1] = f[j + 1]
          break
        end
      end
    end
    out[#out + 1] = list
  end
  return out
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
register('protein_create', create)
register('protein_set_state', for_owner(set_state, 2))
register('protein_set_budget', for_owner(set_budget, 2))
register('protein_delete', delete)
register('protein_claim', with_meta(claim))
register('protein_complete', complete)
register('protein_fail_trial', fail_trial)
register('protein_interrupt', interrupt)
register('protein_progress', progress)
register('protein_renew', renew)
register('protein_request_stop', with_sweep(request_stop))
register('protein_curve', with_sweep(curve), true)
register('protein_expire', with_meta(expire_after))
register('protein_due', with_meta(due), true)
register('protein_extend', with_sweep(extend))
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
register('protein_claimed', with_sweep(claimed), true)
register('protein_fallback_add', with_sweep(fallback_add))
register('protein_demand', with_sweep(demand), true)
register('protein_wakes', wakes, true)
